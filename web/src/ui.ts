// Shared pieces of the screens: error boxes with the API's wording, status badges, dates.
import { type Analysis, ApiError, type JobStatus, type SongDetail, type SongSummary } from "./api";
import { h } from "./dom";

/** An alert with the error as the API (or Cognito) words it, plus field-level details. */
export function errorBox(error: unknown): HTMLElement {
  const box = h("div", { class: "error", role: "alert" });
  if (error instanceof ApiError) {
    box.append(h("p", {}, h("strong", {}, error.message)));
    const problems = error.fieldProblems.filter((p) => p.message);
    if (problems.length) {
      box.append(
        h(
          "ul",
          { class: "problems" },
          problems.map((p) => h("li", {}, p.field ? h("code", {}, p.field) : null, p.field ? ": " : "", p.message)),
        ),
      );
    }
    box.append(h("p", { class: "code" }, error.status ? `${error.code} (HTTP ${error.status})` : error.code));
  } else {
    box.append(h("p", {}, h("strong", {}, error instanceof Error ? error.message : String(error))));
  }
  return box;
}

const STATUS_TEXT: Record<JobStatus, string> = {
  queued: "Queued",
  processing: "Processing",
  processed: "Ready",
  failed: "Failed",
  canceled: "Canceled",
};

/** The list's songs (summaries) carry no queue position; a song's own page (the detail) does. */
export function statusText(song: SongSummary | SongDetail): string {
  const base = STATUS_TEXT[song.status];
  if (song.status === "queued" && "queue_position" in song && typeof song.queue_position === "number") {
    return `${base} · position ${song.queue_position}`;
  }
  if (song.status === "processing" && song.stage) return `${base} · ${song.stage.replace(/_/g, " ")}`;
  return base;
}

export function statusBadge(song: SongSummary | SongDetail): HTMLElement {
  return h("span", { class: `badge badge-${song.status}`, "data-status": song.status }, statusText(song));
}

export function isActive(song: SongSummary): boolean {
  return song.status === "queued" || song.status === "processing";
}

export function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A stem track's name for people: "backing_vocals" -> "Backing vocals". */
export function trackLabel(track: string): string {
  const words = track.replace(/_/g, " ");
  return words === "fx" ? "FX" : words.charAt(0).toUpperCase() + words.slice(1);
}

export function songTitle(song: SongSummary): string {
  return song.title || `${song.mode.replace(/_/g, " ")} song`;
}

/** Poll `tick` every `ms` until it returns false or `stop` is called (the view went away). */
export function poll(tick: () => Promise<boolean>, ms: number): () => void {
  let stopped = false;
  let timer: number | undefined;
  const run = async () => {
    if (stopped) return;
    let again = true;
    try {
      again = await tick();
    } catch {
      again = true; // a failed poll is retried; the view shows the error itself
    }
    if (again && !stopped) timer = window.setTimeout(run, ms);
  };
  timer = window.setTimeout(run, ms);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

/** What a listener reads off a meter, for a take or an upload: "120 BPM", "A minor", "-14.0 LUFS",
 * "-1.0 dBTP peak" (what could not be measured is left out). */
export function analysisParts(analysis: Analysis | null | undefined): string[] {
  if (!analysis) return [];
  const fixed = (value: number | null | undefined, digits: number, unit: string) =>
    value === null || value === undefined ? null : `${value.toFixed(digits)} ${unit}`;
  return [
    fixed(analysis.bpm, 0, "BPM"),
    analysis.key ?? null,
    fixed(analysis.loudness_lufs, 1, "LUFS"),
    fixed(analysis.true_peak_dbtp, 1, "dBTP peak"),
  ].filter((part): part is string => part !== null);
}
