// The "new song" form: one field set per mode, the advanced settings folded away. Only fields the
// user filled are sent, so the API's defaults apply and its validation has the last word. The
// audio-in modes start from a track (views/source.ts): an upload or one of the user's songs.
import type { SongDetail, SongRequest, SourceRef } from "../api";
import type { Context } from "../context";
import { field, h, replace } from "../dom";
import { errorBox, trackLabel } from "../ui";
import { renderSourcePicker } from "./source";

const TEXT_MODES = [
  { id: "description", label: "From a description", hint: "Describe the song; lyrics and style are written for you." },
  { id: "custom_lyrics", label: "My own lyrics", hint: "Your lyrics, sung in the style you describe." },
  { id: "described_lyrics", label: "Lyrics from an idea", hint: "Say what the lyrics should be about and the style." },
  { id: "instrumental", label: "Instrumental", hint: "No vocals: describe the music." },
] as const;
const AUDIO_MODES = [
  { id: "cover", label: "Cover a track", hint: "Your track restyled: same length, new sound." },
  { id: "repaint", label: "Repaint part of a track", hint: "A window made anew; the rest stays as it was." },
  { id: "extend", label: "Extend a track", hint: "New music added after its end." },
  { id: "stems", label: "Split into stems", hint: "One file per voice or instrument." },
] as const;
type Mode = (typeof TEXT_MODES)[number]["id"] | (typeof AUDIO_MODES)[number]["id"];
type AudioMode = (typeof AUDIO_MODES)[number]["id"];
const isAudioMode = (mode: Mode): mode is AudioMode => AUDIO_MODES.some((m) => m.id === mode);

// The choices offered, each checked against the API's own enums (the generated types).
type Request<M extends SongRequest["mode"]> = Extract<SongRequest, { mode: M }>;
const FORMATS = ["wav", "mp3", "flac"] as const satisfies NonNullable<Request<"description">["formats"]>;
const TIME_SIGNATURES = [2, 3, 4, 6] as const satisfies NonNullable<Request<"description">["time_signature"]>[];
const STEM_TRACKS = [
  "vocals", "backing_vocals", "drums", "bass", "guitar", "keyboard",
  "percussion", "strings", "synth", "fx", "brass", "woodwinds",
] as const satisfies Request<"stems">["tracks"];

export interface CreateOptions {
  /** Start in an audio-in mode with this song as the source (the song page's "Use as a source"). */
  sourceSongId?: string;
}

export function renderCreateForm(
  ctx: Context,
  onCreated: (song: SongDetail) => void,
  options: CreateOptions = {},
): HTMLElement {
  const text = (name: string, rows = 3, placeholder = "") =>
    h("textarea", { name, rows, placeholder, required: true });
  const number = (name: string, placeholder: string, step: 1 | "any" = "any") =>
    h("input", { type: "number", name, inputmode: step === 1 ? "numeric" : "decimal", step, placeholder });
  const inputs = {
    title: h("input", { type: "text", name: "title", maxlength: 120, autocomplete: "off" }),
    description: text("description", 3, "an upbeat synthwave song about night drives"),
    prompt: text("prompt", 2, "dreamy indie pop, female vocals, 100 bpm"),
    lyrics: text("lyrics", 8, "[verse]\n...\n[chorus]\n..."),
    described: text("described_lyrics", 3, "a song about leaving home for the first time"),
    duration: number("duration_s", "180", 1),
    seed: number("seed", "random", 1),
    steps: number("inference_steps", "model default", 1),
    guidance: number("guidance_scale", "model default"),
    variants: number("variants", "1", 1),
    bpm: number("bpm", "any", 1),
    key: h("input", { type: "text", name: "key", placeholder: "e.g. C major", autocomplete: "off" }),
    timeSignature: h("select", { name: "time_signature" }, h("option", { value: "" }, "any"),
      TIME_SIGNATURES.map((t) => h("option", { value: String(t) }, `${t}/4`))),
    language: h("input", { type: "text", name: "vocal_language", placeholder: "e.g. en", autocomplete: "off" }),
    webhook: h("input", { type: "text", name: "webhook_url", inputmode: "url", placeholder: "https://…", autocomplete: "off" }),
    strength: number("strength", "0.5"),
    start: number("start_s", "e.g. 30"),
    end: number("end_s", "e.g. 45"),
    add: number("add_s", "e.g. 30"),
  };
  [inputs.start, inputs.end, inputs.add].forEach((input) => (input.required = true));
  const trackBoxes = STEM_TRACKS.map((t) =>
    h("input", { type: "checkbox", name: "tracks", value: t, id: `track-${t}`, checked: t === "vocals" }));
  const source = renderSourcePicker(ctx, options.sourceSongId);
  // The persona picker: text modes and cover sing with one (the API refuses it on the others).
  const personaSelect = h("select", { name: "persona_id" }, h("option", { value: "" }, "No persona"));
  const personaField = field("Persona (optional)", personaSelect,
    "Sing in the voice and sound of one of your personas (make them under Personas).");
  void loadPersonas(ctx, personaSelect, personaField);
  const formatBoxes = FORMATS.map((f) =>
    h("input", { type: "checkbox", name: "formats", value: f, id: `format-${f}`, checked: f === "wav" }),
  );

  const modeArea = h("div", { class: "mode-fields" });
  let mode: Mode = options.sourceSongId ? "cover" : "description";
  // Settings of text modes only: the audio-in requests take their length and the rest from the track.
  const textOnly = [
    field("Length (seconds)", inputs.duration),
    field("Time signature", inputs.timeSignature),
    field("Vocal language", inputs.language),
  ];
  // Every mode but stems renders in a tempo and key; left empty, an audio-in song keeps its track's.
  const tempoAndKey = [
    field("Tempo (BPM)", inputs.bpm, "Empty: any, or your track's measured tempo."),
    field("Key", inputs.key, "Empty: any, or your track's measured key."),
  ];
  const setMode = (next: Mode) => {
    mode = next;
    // The same inputs move between modes (a style typed once stays), so build the area anew.
    replace(modeArea, rebuild(next));
    textOnly.forEach((f) => (f.hidden = isAudioMode(next)));
    tempoAndKey.forEach((f) => (f.hidden = next === "stems"));
    personaField.hidden = isAudioMode(next) && next !== "cover";
    replace(result); // an answer about another mode's request would mislead
  };
  const rebuild = (m: Mode): HTMLElement => {
    // Style and lyrics are required where the mode needs them, optional where they only steer.
    inputs.prompt.required = m === "custom_lyrics" || m === "described_lyrics" || m === "cover";
    inputs.lyrics.required = m === "custom_lyrics";
    if (m === "custom_lyrics") return h("div", {}, field("Style", inputs.prompt), field("Lyrics", inputs.lyrics));
    if (m === "described_lyrics")
      return h("div", {}, field("Style", inputs.prompt), field("What the lyrics are about", inputs.described));
    if (m === "description" || m === "instrumental")
      return h("div", {}, field(m === "instrumental" ? "Describe the music" : "Description", inputs.description));
    const steer = [field(m === "cover" ? "Style" : "Style (optional)", inputs.prompt), field("Lyrics (optional)", inputs.lyrics)];
    if (m === "cover")
      return h("div", {}, source.element, ...steer,
        field("Strength", inputs.strength, "0 to 1: 1 stays closest to your track (0.5 if empty)."));
    if (m === "repaint")
      return h("div", {}, source.element, h("div", { class: "grid" },
        field("From (seconds)", inputs.start), field("To (seconds)", inputs.end)), ...steer);
    if (m === "extend")
      return h("div", {}, source.element,
        field("Seconds to add", inputs.add, "5 to 595; the result is at most 10 minutes."), ...steer);
    return h("div", {}, source.element,
      h("fieldset", { class: "tracks" }, h("legend", {}, "Tracks (up to 4)"),
        trackBoxes.map((box) => h("label", { for: box.id }, box, ` ${trackLabel(box.value)}`))));
  };

  const modeOption = (m: { id: Mode; label: string; hint: string }) =>
    h(
      "label",
      { class: "mode" },
      h("input", { type: "radio", name: "mode", value: m.id, checked: m.id === mode, onchange: () => setMode(m.id) }),
      h("span", {}, h("strong", {}, m.label), h("small", {}, m.hint)),
    );
  const modeChooser = h("div", {},
    h("fieldset", { class: "modes" }, h("legend", {}, "How should we make it?"), TEXT_MODES.map(modeOption)),
    h("fieldset", { class: "modes" }, h("legend", {}, "From a track of yours"), AUDIO_MODES.map(modeOption)));

  const advanced = h(
    "details",
    { class: "advanced" },
    h("summary", {}, "Advanced settings"),
    h("div", { class: "grid" },
      textOnly[0],
      field("Seed", inputs.seed, "Same seed and settings: the same song."),
      field("Inference steps", inputs.steps),
      field("Guidance scale", inputs.guidance),
      field("Variants", inputs.variants, "Takes to render together (1 to 4); each is priced."),
      ...tempoAndKey,
      ...textOnly.slice(1),
    ),
    field("Webhook URL", inputs.webhook, "Signed events about this song go here (secret under Account)."),
    h("fieldset", { class: "formats" }, h("legend", {}, "Audio formats"),
      formatBoxes.map((box) => h("label", { for: box.id }, box, ` ${box.value.toUpperCase()}`))),
  );

  const result = h("div", { "aria-live": "polite" });
  const submitButton = h("button", { type: "submit", class: "primary" }, "Create song");
  // One key per filled-in form: a retried submit (double click, flaky network) is the same request.
  let idempotencyKey = crypto.randomUUID();
  const form = h("form", { class: "card create", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "New song"),
    modeChooser, modeArea, personaField, field("Title (optional)", inputs.title), advanced,
    h("div", { class: "row" }, submitButton), result);
  form.addEventListener("input", () => {
    idempotencyKey = crypto.randomUUID();
    if (result.dataset.local) replace(result); // the form's own hint is stale once it changes
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(result);
    delete result.dataset.local;
    const body = requestBody();
    if (!body) {
      result.dataset.local = "1";
      replace(result, errorBox(new Error("Choose your track first: upload a file and wait until it is ready, or pick one of your songs.")));
      return;
    }
    submitButton.disabled = true;
    submitButton.textContent = "Creating…";
    try {
      const song = await ctx.api.createSong(body, idempotencyKey);
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

  /** The request for the chosen mode, or null while an audio-in mode has no ready track. */
  function requestBody(): SongRequest | null {
    const formats = FORMATS.filter((_, i) => formatBoxes[i].checked);
    const common = {
      title: filled(inputs.title),
      seed: numberIn(inputs.seed),
      inference_steps: numberIn(inputs.steps),
      guidance_scale: numberIn(inputs.guidance),
      variants: numberIn(inputs.variants),
      webhook_url: filled(inputs.webhook),
      formats: formats.length === 1 && formats[0] === "wav" ? undefined : formats, // wav: the default
    };
    if (!isAudioMode(mode)) {
      const settings = {
        ...common,
        duration_s: numberIn(inputs.duration),
        bpm: numberIn(inputs.bpm),
        key: filled(inputs.key),
        time_signature: TIME_SIGNATURES.find((t) => String(t) === inputs.timeSignature.value),
        vocal_language: filled(inputs.language),
      };
      const sung = { ...settings, persona_id: persona() };
      if (mode === "custom_lyrics") return { ...sung, mode, prompt: inputs.prompt.value, lyrics: inputs.lyrics.value };
      if (mode === "described_lyrics")
        return { ...sung, mode, prompt: inputs.prompt.value, described_lyrics: inputs.described.value };
      const instrumental = mode === "instrumental" ? true : undefined;
      return { ...sung, mode: "description", description: inputs.description.value, instrumental };
    }
    const track: SourceRef | null = source.value();
    if (!track) return null;
    const audio = { ...common, source: track };
    const steer = {
      prompt: filled(inputs.prompt),
      lyrics: filled(inputs.lyrics),
      bpm: numberIn(inputs.bpm),
      key: filled(inputs.key),
    };
    if (mode === "cover")
      return { ...audio, ...steer, mode, prompt: inputs.prompt.value, strength: numberIn(inputs.strength), persona_id: persona() };
    if (mode === "repaint")
      return { ...audio, ...steer, mode, start_s: Number(inputs.start.value), end_s: Number(inputs.end.value) };
    if (mode === "extend") return { ...audio, ...steer, mode, add_s: Number(inputs.add.value) };
    return { ...audio, mode, tracks: STEM_TRACKS.filter((_, i) => trackBoxes[i].checked) };
  }

  function persona(): string | undefined {
    return personaSelect.value || undefined;
  }

  setMode(mode);
  return form;
}

const PERSONA_CHOICES = 50; // the API's largest page

/** Fill the picker with the user's personas (newest first); it stays "No persona" if none load. */
async function loadPersonas(ctx: Context, select: HTMLSelectElement, area: HTMLElement): Promise<void> {
  try {
    const page = await ctx.api.listPersonas(PERSONA_CHOICES);
    select.append(...page.personas.map((p) => h("option", { value: p.persona_id }, p.name)));
  } catch (error) {
    area.append(errorBox(error));
  }
}

// Only fields the user filled are sent (undefined is left out of the JSON): the API's defaults apply.
function filled(input: { value: string }): string | undefined {
  return input.value.trim() || undefined;
}

/** A number input's number, or undefined when it is empty (text that is no number reads as "" too,
 * but the browser does not submit the form then). */
function numberIn(input: HTMLInputElement): number | undefined {
  return input.value.trim() ? Number(input.value) : undefined;
}
