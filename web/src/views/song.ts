// One song: status while it renders; then cover, player, lyrics, categories, downloads (per take,
// per stem track); what it was made from; delete, cancel while it is queued or processing, and
// "use as a source" for a new cover, repaint, extension or stems, and "Get MIDI" (a transcribe song).
import type { SongDetail, SongSource, Take } from "../api";
import type { Context } from "../context";
import { h, replace } from "../dom";
import { showTimedLyrics } from "../lyrics";
import { analysisParts, errorBox, isActive, poll, songTitle, statusBadge, trackLabel, when } from "../ui";

const POLL_MS = 2000;

export function renderSong(root: HTMLElement, ctx: Context, songId: string): void {
  const actionsError = h("div", { "aria-live": "assertive" });
  let stopPolling: (() => void) | null = null;
  ctx.onLeave(() => stopPolling?.());

  const load = async (): Promise<SongDetail | null> => {
    try {
      const song = await ctx.api.getSong(songId);
      show(song);
      return song;
    } catch (error) {
      replace(root, h("h1", { tabindex: "-1" }, "Song"), errorBox(error), h("p", {}, h("a", { href: "/" }, "Back to your songs")));
      return null;
    }
  };

  const show = (song: SongDetail) => {
    // Keep the player (and its position) when a poll re-renders a finished song.
    const audio = root.querySelector<HTMLAudioElement>("audio.main-player");
    const keepPlayer = audio && song.audio_url && audio.dataset.songId === song.job_id;
    replace(root,
      h("p", { class: "back" }, h("a", { href: "/" }, "← Your songs")),
      h("article", { class: "card song-page", "aria-labelledby": "song-title" },
        h("header", { class: "song-head" },
          song.cover_url ? h("img", { class: "cover", src: song.cover_url, alt: `Cover art for ${songTitle(song)}`, width: 256, height: 256 }) : null,
          h("div", {},
            h("h1", { id: "song-title", tabindex: "-1" }, songTitle(song)),
            h("p", { class: "status-line", role: "status" }, statusBadge(song)),
            song.status === "failed" && song.error ? h("p", { class: "reason" }, `Why: ${song.error.message}`) : null,
            h("p", { class: "meta" }, `Created ${when(song.created_at)}`, song.duration_s ? ` · ${Math.round(song.duration_s)} s` : "",
              song.seed !== undefined && song.seed !== null ? ` · seed ${song.seed}` : ""),
            song.source ? sourceLine(song.mode, song.source) : null,
            song.persona_id ? h("p", { class: "meta persona-line" }, "Sung with one of your ",
              h("a", { href: "/personas" }, "personas")) : null,
            song.categories?.length ? h("ul", { class: "chips", "aria-label": "Categories" }, song.categories.map((c) => h("li", {}, c))) : null)),
        song.audio_url ? player(song, keepPlayer ? audio! : null) : null,
        downloads("Download", song.audio_urls),
        song.midi_url ? downloads("MIDI", { mid: song.midi_url }) : null,
        measures(song),
        takes(song.takes, song.best_take),
        tracks(song.tracks),
        song.prompt ? h("section", {}, h("h2", {}, "Style"), h("p", {}, song.prompt)) : null,
        song.lyrics ? h("section", { class: "lyrics-section" }, h("h2", {}, "Lyrics"), h("pre", { class: "lyrics" }, song.lyrics)) : null,
        h("div", { class: "row actions" },
          isActive(song) ? h("button", { type: "button", onclick: () => cancel(song) }, "Cancel") : null,
          // A stems song is refused as a source by the API; so is an unfinished one.
          song.status === "processed" && song.mode !== "stems" && song.mode !== "transcribe"
            ? h("a", { class: "button", href: `/?source=${encodeURIComponent(song.job_id)}` }, "Use as a source") : null,
          // Any finished song with audio (stems too: each track gets its own MIDI file).
          song.status === "processed" && song.mode !== "transcribe"
            ? h("button", { type: "button", onclick: () => getMidi(song) }, "Get MIDI") : null,
          // A persona is cut from one mixed track: not from stems, nor from a MIDI transcription.
          song.status === "processed" && song.mode !== "stems" && song.mode !== "transcribe"
            ? h("a", { class: "button", href: `/personas?song=${encodeURIComponent(song.job_id)}` }, "Make a persona from this song")
            : null,
          !isActive(song) ? h("button", { type: "button", class: "danger", onclick: () => remove(song) }, "Delete") : null),
        actionsError));
    followLyrics(root, song);
    if (isActive(song) && !stopPolling) {
      stopPolling = poll(async () => {
        const fresh = await load();
        const again = !!fresh && isActive(fresh);
        if (!again) {
          stopPolling = null;
          void ctx.refreshCredits();
          if (fresh) ctx.announce(`The song is ${fresh.status}.`);
        }
        return again;
      }, POLL_MS);
    }
  };

  const cancel = async (song: SongDetail) => {
    replace(actionsError);
    try {
      await ctx.api.cancelSong(song.job_id);
      ctx.announce("Canceling the song.");
      await load();
      void ctx.refreshCredits();
    } catch (error) {
      replace(actionsError, errorBox(error));
    }
  };

  // The MIDI is a song of its own (mode transcribe): its page shows the files once they are made.
  let midiKey = crypto.randomUUID(); // a double click is the same request
  const getMidi = async (song: SongDetail) => {
    replace(actionsError);
    try {
      const midi = await ctx.api.createSong({ mode: "transcribe", source: { song_id: song.job_id } }, midiKey);
      midiKey = crypto.randomUUID();
      ctx.announce("Transcribing to MIDI: it is queued.");
      void ctx.refreshCredits();
      ctx.navigate(`/songs/${encodeURIComponent(midi.job_id)}`);
    } catch (error) {
      replace(actionsError, errorBox(error));
    }
  };

  const remove = async (song: SongDetail) => {
    if (!window.confirm(`Delete "${songTitle(song)}" and its files?`)) return;
    replace(actionsError);
    try {
      await ctx.api.deleteSong(song.job_id);
      ctx.announce("Song deleted.");
      ctx.navigate("/");
    } catch (error) {
      replace(actionsError, errorBox(error));
    }
  };

  replace(root, h("h1", { tabindex: "-1" }, "Loading the song…"));
  void load().then(() => root.querySelector<HTMLElement>("h1")?.focus());
}

function player(song: SongDetail, existing: HTMLAudioElement | null): HTMLElement {
  const audio = existing ?? h("audio", { class: "main-player", controls: true, preload: "metadata", src: song.audio_url! });
  audio.dataset.songId = song.job_id;
  audio.setAttribute("aria-label", `Play ${songTitle(song)}`);
  return h("section", { class: "player" }, audio);
}

function downloads(label: string, urls?: Record<string, string> | null): HTMLElement | null {
  if (!urls || !Object.keys(urls).length) return null;
  return h("section", { class: "downloads" }, h("h2", {}, label), fileLinks(urls));
}

function fileLinks(urls: Record<string, string>, label?: string): HTMLElement {
  return h("ul", { class: "row", "aria-label": label }, Object.entries(urls).map(([format, url]) =>
    h("li", {}, h("a", { class: "button", href: url, download: "", "data-format": format }, format.toUpperCase()))));
}

/** One take or stem track: its name, a player and its downloads. */
function playable(name: string, urls: Record<string, string>, detail: string, attrs: Record<string, unknown> = {}): HTMLElement {
  const first = Object.entries(urls).find(([format]) => format !== "mid")?.[1]; // MIDI is not playable
  return h("li", attrs, h("h3", {}, name), detail ? h("p", { class: "meta" }, detail) : null,
    first ? h("audio", { controls: true, preload: "none", src: first, "aria-label": `Play ${name}` }) : null,
    fileLinks(urls, `${name} downloads`));
}

/** The takes of a song rendered with `variants` > 1 (each its own seed, files and measurements);
 * the best one (the main player's) is marked. */
function takes(list?: Take[] | null, best?: number | null): HTMLElement | null {
  if (!list || list.length < 2) return null;
  return h("section", { class: "takes" }, h("h2", {}, "Variants"),
    h("ol", {}, list.map((take) => {
      const item = playable(take.take === best ? `Take ${take.take} (best)` : `Take ${take.take}`,
        take.audio_urls ?? (take.audio_url ? { audio: take.audio_url } : {}),
        take.seed !== undefined && take.seed !== null ? `seed ${take.seed}` : "",
        { "data-take": take.take, "data-rank": take.rank ?? undefined });
      item.append(...measureLines(take));
      return item;
    })));
}

/** A song of one take: its measurements under the player. */
function measures(song: SongDetail): HTMLElement | null {
  const only = song.takes?.length === 1 ? song.takes[0] : null;
  const lines = only ? measureLines(only) : [];
  return lines.length ? h("section", { class: "measures" }, h("h2", {}, "Measured"), lines) : null;
}

function measureLines(take: Take): HTMLElement[] {
  const s = take.scores;
  const heard = analysisParts(take.analysis);
  const percent = (value: number | null | undefined, label: string) =>
    value === null || value === undefined ? null : `${label} ${Math.round(value * 100)}%`;
  const scored = [
    s?.text_audio !== null && s?.text_audio !== undefined ? `style match ${s.text_audio.toFixed(2)}` : null,
    percent(s?.lyrics_accuracy, "words understood"),
    percent(s?.bpm_error, "tempo off by"),
    percent(s?.key_match, "key match"),
  ].filter(Boolean);
  return [
    heard.length ? h("p", { class: "meta analysis" }, heard.join(" · ")) : null,
    scored.length ? h("p", { class: "meta scores" }, scored.join(" · ")) : null,
  ].filter((el): el is HTMLParagraphElement => el !== null);
}

/** The lyrics follow the main player with the timed lyrics of the take it plays (the best take). */
function followLyrics(root: HTMLElement, song: SongDetail): void {
  const audio = root.querySelector<HTMLAudioElement>("audio.main-player");
  const target = root.querySelector<HTMLElement>(".lyrics-section");
  const main = song.takes?.find((take) => take.take === (song.best_take ?? 1));
  if (audio && target && main?.lyrics_timing_url) {
    const plain = target.querySelector("pre.lyrics");
    if (!plain) return;
    // The plain lyrics stay until the timed ones arrive (and if they cannot be read).
    const holder = h("div", { class: "lyrics-holder" });
    plain.replaceWith(holder);
    holder.append(plain);
    void showTimedLyrics(main.lyrics_timing_url, holder, audio);
  }
}

/** Stems: one player and one set of downloads per extracted track (and its MIDI file, if made). */
function tracks(list?: Record<string, Record<string, string>> | null): HTMLElement | null {
  if (!list || !Object.keys(list).length) return null;
  return h("section", { class: "stems" }, h("h2", {}, "Stems"),
    h("ul", {}, Object.entries(list).map(([track, urls]) => playable(trackLabel(track), urls, "", { "data-track": track }))));
}

const MADE_FROM: Record<string, string> = {
  cover: "A cover of",
  repaint: "Repainted from",
  extend: "An extension of",
  stems: "Stems of",
  transcribe: "MIDI of",
};

function sourceLine(mode: string, source: SongSource): HTMLElement {
  const length = ` (${Math.round(source.duration_s)} s)`;
  const what = source.song_id
    ? h("a", { href: `/songs/${encodeURIComponent(source.song_id)}` }, "your song")
    : "your upload";
  return h("p", { class: "meta source-line" }, `${MADE_FROM[mode] ?? "Made from"} `, what, length);
}
