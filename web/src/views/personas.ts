// Personas: make one from a track (an upload or one of the user's songs: the API cuts and keeps up
// to 30 s of it from the chosen start), list them a page at a time, listen to a clip, delete one.
// `?song=<id>` (the song page's "Make a persona from this song") starts from that song.
import type { PersonaPage, PersonaRequest, PersonaSummary } from "../api";
import type { Context } from "../context";
import { field, h, replace } from "../dom";
import { errorBox, when } from "../ui";
import { renderSourcePicker } from "./source";

const PAGE_SIZE = 10;

export function renderPersonas(root: HTMLElement, ctx: Context, songId?: string): void {
  const tokens: (string | undefined)[] = [undefined];
  let pageIndex = 0;

  const list = h("ol", { class: "personas", "aria-label": "Your personas" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of personas" });
  const listError = h("div", { "aria-live": "assertive" });

  const load = async (): Promise<void> => {
    try {
      const page = await ctx.api.listPersonas(PAGE_SIZE, tokens[pageIndex]);
      replace(listError);
      show(page);
    } catch (error) {
      replace(listError, errorBox(error));
    }
  };

  const show = (page: PersonaPage) => {
    tokens[pageIndex + 1] = page.next_token ?? undefined;
    replace(list, page.personas.length ? page.personas.map(item)
      : h("li", { class: "empty" }, "No personas yet: make one from a track above."));
    const paged = pageIndex > 0 || !!page.next_token;
    replace(pager, !paged ? null : [
      h("button", { type: "button", disabled: pageIndex === 0, onclick: () => go(pageIndex - 1) }, "Newer"),
      h("span", {}, `Page ${pageIndex + 1}`),
      h("button", { type: "button", disabled: !page.next_token, onclick: () => go(pageIndex + 1) }, "Older"),
    ]);
  };

  const go = (index: number) => {
    pageIndex = index;
    void load();
  };

  const item = (persona: PersonaSummary) => {
    const listen = h("div", { class: "listen" });
    const itemError = h("div", { "aria-live": "assertive" });
    return h("li", { class: "persona", "data-persona-id": persona.persona_id },
      h("h3", {}, persona.name),
      h("p", { class: "meta" }, describe(persona)),
      persona.style ? h("p", { class: "style" }, `Style: ${persona.style}`) : null,
      listen,
      h("div", { class: "row" },
        h("button", { type: "button", "aria-label": `Listen to ${persona.name}`, onclick: async (event: Event) => {
          (event.currentTarget as HTMLButtonElement).disabled = true;
          try {
            const full = await ctx.api.getPersona(persona.persona_id);
            replace(listen, h("audio", { controls: true, src: full.reference_url, "aria-label": `Reference clip of ${persona.name}` }));
          } catch (error) {
            replace(itemError, errorBox(error));
          }
        } }, "Listen"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${persona.name}`, onclick: async () => {
          if (!window.confirm(`Delete the persona "${persona.name}"? Songs made with it keep their audio.`)) return;
          replace(itemError);
          try {
            await ctx.api.deletePersona(persona.persona_id);
            ctx.announce(`Persona ${persona.name} deleted.`);
            await load();
          } catch (error) {
            replace(itemError, errorBox(error));
          }
        } }, "Delete")),
      itemError);
  };

  replace(root,
    h("p", { class: "back" }, h("a", { href: "/" }, "← Your songs")),
    h("h1", { tabindex: "-1" }, "Personas"),
    h("p", {}, "A persona is a voice and sound from a track of yours. Songs made with it sing in that voice."),
    createForm(ctx, songId, () => go(0)),
    h("section", { class: "card", "aria-labelledby": "personas-title" },
      h("h2", { id: "personas-title" }, "Your personas"), listError, list, pager));
  void load();
}

function createForm(ctx: Context, songId: string | undefined, onCreated: () => void): HTMLElement {
  const name = h("input", { type: "text", name: "persona_name", maxlength: 80, required: true, autocomplete: "off" });
  const start = h("input", { type: "number", name: "start_s", inputmode: "decimal", step: "any", min: 0, placeholder: "0" });
  const style = h("input", { type: "text", name: "persona_style", maxlength: 300, autocomplete: "off",
    placeholder: "e.g. breathy alto, close mic" });
  const source = renderSourcePicker(ctx, songId);
  const result = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Make persona");
  const form = h("form", { class: "card create", "aria-labelledby": "new-persona-title" },
    h("h2", { id: "new-persona-title" }, "New persona"),
    field("Name", name),
    source.element,
    field("Start at (seconds)", start, "Up to 30 s from here are kept; at least 5 s of sound are needed."),
    field("Style (optional)", style, "Added to the style of every song made with it."),
    h("div", { class: "row" }, submit), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(result);
    const track = source.value();
    if (!track) {
      replace(result, errorBox(new Error("Choose your track first: upload a file and wait until it is ready, or pick one of your songs.")));
      return;
    }
    const body: PersonaRequest = {
      name: name.value,
      source: track,
      start_s: start.value.trim() ? Number(start.value) : undefined,
      style: style.value.trim() || undefined,
    };
    submit.disabled = true;
    submit.textContent = "Making…";
    try {
      const persona = await ctx.api.createPersona(body);
      ctx.announce(`Persona ${persona.name} is ready.`);
      replace(result, h("p", { class: "notice", "data-persona-created": persona.persona_id },
        `${persona.name} is ready: ${Math.round(persona.reference_s)} s of your track. Pick it in the song form.`));
      name.value = "";
      style.value = "";
      onCreated();
    } catch (error) {
      replace(result, errorBox(error));
    } finally {
      submit.disabled = false;
      submit.textContent = "Make persona";
    }
  });
  return form;
}

function describe(persona: PersonaSummary): string {
  const from = persona.source.song_id ? "a song of yours" : "an upload";
  return `${Math.round(persona.reference_s)} s from ${from}, starting at ${persona.start_s} s · made ${when(persona.created_at)}`;
}
