// The "new song" form: one field set per mode, the advanced settings folded away. Only fields the
// user filled are sent, so the API's defaults apply and its validation has the last word.
import type { SongDetail } from "../api";
import type { Context } from "../context";
import { field, h, replace } from "../dom";
import { errorBox } from "../ui";

const MODES = [
  { id: "description", label: "From a description", hint: "Describe the song; lyrics and style are written for you." },
  { id: "custom_lyrics", label: "My own lyrics", hint: "Your lyrics, sung in the style you describe." },
  { id: "described_lyrics", label: "Lyrics from an idea", hint: "Say what the lyrics should be about and the style." },
  { id: "instrumental", label: "Instrumental", hint: "No vocals: describe the music." },
] as const;
type Mode = (typeof MODES)[number]["id"];

const FORMATS = ["wav", "mp3", "flac"] as const;
const TIME_SIGNATURES = ["2", "3", "4", "6"];

export function renderCreateForm(ctx: Context, onCreated: (song: SongDetail) => void): HTMLElement {
  const text = (name: string, rows = 3, placeholder = "") =>
    h("textarea", { name, rows, placeholder, required: true });
  const inputs = {
    title: h("input", { type: "text", name: "title", maxlength: 120, autocomplete: "off" }),
    description: text("description", 3, "an upbeat synthwave song about night drives"),
    prompt: text("prompt", 2, "dreamy indie pop, female vocals, 100 bpm"),
    lyrics: text("lyrics", 8, "[verse]\n...\n[chorus]\n..."),
    described: text("described_lyrics", 3, "a song about leaving home for the first time"),
    duration: h("input", { type: "number", name: "duration_s", inputmode: "numeric", step: 1, placeholder: "180" }),
    seed: h("input", { type: "number", name: "seed", inputmode: "numeric", step: 1, placeholder: "random" }),
    steps: h("input", { type: "number", name: "inference_steps", inputmode: "numeric", step: 1, placeholder: "model default" }),
    guidance: h("input", { type: "number", name: "guidance_scale", inputmode: "decimal", step: "any", placeholder: "model default" }),
    variants: h("input", { type: "number", name: "variants", inputmode: "numeric", step: 1, placeholder: "1" }),
    bpm: h("input", { type: "number", name: "bpm", inputmode: "numeric", step: 1, placeholder: "any" }),
    key: h("input", { type: "text", name: "key", placeholder: "e.g. C major", autocomplete: "off" }),
    timeSignature: h("select", { name: "time_signature" }, h("option", { value: "" }, "any"),
      TIME_SIGNATURES.map((t) => h("option", { value: t }, `${t}/4`))),
    language: h("input", { type: "text", name: "vocal_language", placeholder: "e.g. en", autocomplete: "off" }),
  };
  const formatBoxes = FORMATS.map((f) =>
    h("input", { type: "checkbox", name: "formats", value: f, id: `format-${f}`, checked: f === "wav" }),
  );

  const modeArea = h("div", { class: "mode-fields" });
  let mode: Mode = "description";
  const setMode = (next: Mode) => {
    mode = next;
    // The same inputs move between modes (a style typed once stays), so build the area anew.
    replace(modeArea, rebuild(next));
  };
  const rebuild = (m: Mode): HTMLElement => {
    if (m === "custom_lyrics") return h("div", {}, field("Style", inputs.prompt), field("Lyrics", inputs.lyrics));
    if (m === "described_lyrics")
      return h("div", {}, field("Style", inputs.prompt), field("What the lyrics are about", inputs.described));
    return h("div", {}, field(m === "instrumental" ? "Describe the music" : "Description", inputs.description));
  };

  const modeChooser = h(
    "fieldset",
    { class: "modes" },
    h("legend", {}, "How should we make it?"),
    MODES.map((m) =>
      h(
        "label",
        { class: "mode" },
        h("input", { type: "radio", name: "mode", value: m.id, checked: m.id === "description", onchange: () => setMode(m.id) }),
        h("span", {}, h("strong", {}, m.label), h("small", {}, m.hint)),
      ),
    ),
  );

  const advanced = h(
    "details",
    { class: "advanced" },
    h("summary", {}, "Advanced settings"),
    h("div", { class: "grid" },
      field("Length (seconds)", inputs.duration),
      field("Seed", inputs.seed, "Same seed and settings: the same song."),
      field("Inference steps", inputs.steps),
      field("Guidance scale", inputs.guidance),
      field("Variants", inputs.variants, "Takes to render together (1 to 4); each is priced."),
      field("Tempo (BPM)", inputs.bpm),
      field("Key", inputs.key),
      field("Time signature", inputs.timeSignature),
      field("Vocal language", inputs.language),
    ),
    h("fieldset", { class: "formats" }, h("legend", {}, "Audio formats"),
      formatBoxes.map((box) => h("label", { for: box.id }, box, ` ${box.value.toUpperCase()}`))),
  );

  const result = h("div", { "aria-live": "polite" });
  const submitButton = h("button", { type: "submit", class: "primary" }, "Create song");
  // One key per filled-in form: a retried submit (double click, flaky network) is the same request.
  let idempotencyKey = crypto.randomUUID();
  const form = h("form", { class: "card create", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "New song"),
    modeChooser, modeArea, field("Title (optional)", inputs.title), advanced,
    h("div", { class: "row" }, submitButton), result);
  form.addEventListener("input", () => (idempotencyKey = crypto.randomUUID()));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(result);
    submitButton.disabled = true;
    submitButton.textContent = "Creating…";
    try {
      const song = await ctx.api.createSong(requestBody(), idempotencyKey);
      ctx.announce("Song created: it is queued.");
      idempotencyKey = crypto.randomUUID();
      onCreated(song);
    } catch (error) {
      replace(result, errorBox(error));
    } finally {
      submitButton.disabled = false;
      submitButton.textContent = "Create song";
    }
  });

  function requestBody(): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    if (mode === "description" || mode === "instrumental") {
      body.mode = "description";
      body.description = inputs.description.value;
      if (mode === "instrumental") body.instrumental = true;
    } else if (mode === "custom_lyrics") {
      Object.assign(body, { mode, prompt: inputs.prompt.value, lyrics: inputs.lyrics.value });
    } else {
      Object.assign(body, { mode, prompt: inputs.prompt.value, described_lyrics: inputs.described.value });
    }
    const optional: [string, string, "int" | "float" | "text"][] = [
      ["title", inputs.title.value, "text"],
      ["duration_s", inputs.duration.value, "int"],
      ["seed", inputs.seed.value, "int"],
      ["inference_steps", inputs.steps.value, "int"],
      ["guidance_scale", inputs.guidance.value, "float"],
      ["variants", inputs.variants.value, "int"],
      ["bpm", inputs.bpm.value, "int"],
      ["key", inputs.key.value, "text"],
      ["time_signature", inputs.timeSignature.value, "int"],
      ["vocal_language", inputs.language.value, "text"],
    ];
    for (const [name, raw, kind] of optional) {
      const value = raw.trim();
      if (!value) continue;
      // Numbers go as JSON numbers (the API's types are strict); a non-number goes as typed so the
      // API names the field in its error.
      body[name] = kind === "text" || Number.isNaN(Number(value)) ? value : Number(value);
    }
    const formats = formatBoxes.filter((b) => b.checked).map((b) => b.value);
    if (formats.length !== 1 || formats[0] !== "wav") body.formats = formats;
    return body;
  }

  setMode("description");
  return form;
}
