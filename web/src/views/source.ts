// The track an audio-in song starts from: a file the user uploads here (form from the API, POST
// straight to S3, then the API's check) or one of the user's finished songs.
import { ApiError, type SongSummary, type SourceRef, type Upload, type UploadRequest } from "../api";
import type { Context } from "../context";
import { field, h, replace } from "../dom";
import { analysisParts, errorBox, poll, songTitle, when } from "../ui";

const CHECK_POLL_MS = 1000;
const SONG_CHOICES = 50; // the API's largest page
type AudioType = UploadRequest["content_type"];
// Every type the API accepts (a Record: the type check fails when the API's list changes).
const ACCEPTED_TYPES: Record<AudioType, true> = {
  "audio/wav": true, "audio/x-wav": true, "audio/wave": true, "audio/mpeg": true,
  "audio/mp3": true, "audio/flac": true, "audio/x-flac": true, "audio/ogg": true,
};
// The type by file extension, for files the browser gives no (or another) type.
const TYPES_BY_EXTENSION: Record<string, AudioType> = {
  wav: "audio/wav",
  mp3: "audio/mpeg",
  flac: "audio/flac",
  ogg: "audio/ogg",
};

export interface SourcePicker {
  element: HTMLElement;
  /** The source to send, or null while there is none (the API then names the missing field). */
  value(): SourceRef | null;
}

export function renderSourcePicker(ctx: Context, preselectedSongId?: string): SourcePicker {
  let kind: "upload" | "song" = preselectedSongId ? "song" : "upload";
  let uploadId: string | null = null;
  let attempt = 0; // a newer file makes an older one's progress irrelevant
  let stopChecking: (() => void) | null = null;
  ctx.onLeave(() => stopChecking?.());

  const fileInput = h("input", {
    type: "file",
    name: "source_file",
    accept: ".wav,.mp3,.flac,.ogg,audio/wav,audio/mpeg,audio/flac,audio/ogg",
  });
  const uploadStatus = h("div", { class: "upload-status", role: "status", "aria-live": "polite" });
  const uploadPanel = h("div", {},
    field("Audio file", fileInput, "WAV, MP3, FLAC or Ogg; it is uploaded and checked at once."), uploadStatus);

  const songSelect = h("select", { name: "source_song" }, h("option", { value: "" }, "Loading your songs…"));
  const songPanel = h("div", {}, field("Song", songSelect, "A finished song of yours."));
  let songsLoaded = false;

  const panel = h("div", {});
  const show = () => {
    replace(panel, kind === "upload" ? uploadPanel : songPanel);
    if (kind === "song" && !songsLoaded) void loadSongs();
  };
  const chooser = (value: typeof kind, label: string) =>
    h("label", { class: "inline" },
      h("input", { type: "radio", name: "source_kind", value, checked: kind === value, onchange: () => { kind = value; show(); } }),
      ` ${label}`);

  const loadSongs = async () => {
    songsLoaded = true;
    try {
      const page = await ctx.api.listSongs(SONG_CHOICES);
      // A stems song cannot be a source (the API says so too); only finished songs have audio.
      const usable = page.songs.filter((s) => s.status === "processed" && s.mode !== "stems");
      const options = usable.map((s: SongSummary) =>
        h("option", { value: s.job_id }, `${songTitle(s)} (${when(s.created_at)})`));
      if (preselectedSongId && !usable.some((s) => s.job_id === preselectedSongId)) {
        options.unshift(h("option", { value: preselectedSongId }, "The song you chose"));
      }
      replace(songSelect, options.length ? options : h("option", { value: "" }, "No finished songs yet"));
      if (preselectedSongId) songSelect.value = preselectedSongId;
    } catch (error) {
      songsLoaded = false;
      replace(songSelect, h("option", { value: "" }, "Your songs could not be loaded"));
      songPanel.append(errorBox(error));
    }
  };

  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    if (file) void upload(file);
  });

  const upload = async (file: File) => {
    const mine = ++attempt;
    uploadId = null;
    stopChecking?.();
    stopChecking = null;
    const say = (...content: (Node | string)[]) => {
      if (mine === attempt) replace(uploadStatus, ...content);
    };
    const type = contentType(file);
    if (!type) {
      say(errorBox(new Error(`${file.name} is not a WAV, MP3, FLAC or Ogg file.`)));
      return;
    }
    say(`Uploading ${file.name}…`);
    try {
      const form = await ctx.api.createUpload({ filename: file.name, content_type: type, size_bytes: file.size });
      await ctx.api.sendUpload(form, file);
      if (mine !== attempt) return;
      say(`Checking ${file.name}…`);
      stopChecking = poll(async () => {
        let checked: Upload;
        try {
          checked = await ctx.api.getUpload(form.upload_id);
        } catch (error) {
          // Offline or a 5xx: keep asking. A 4xx will not change: say it and stop.
          const lasting = error instanceof ApiError && error.status >= 400 && error.status < 500;
          if (lasting) say(errorBox(error));
          return !lasting && mine === attempt;
        }
        if (mine !== attempt || checked.status === "pending") return mine === attempt;
        if (checked.status === "ready") {
          uploadId = checked.upload_id;
          say(h("p", { class: "notice", "data-upload-status": "ready" }, `Ready: ${describe(checked)}`));
          ctx.announce(`${file.name} is uploaded and ready.`);
        } else {
          say(h("p", { "data-upload-status": "rejected" }, `${file.name} was not accepted.`),
            errorBox(new ApiError(0, checked.error?.code ?? "Rejected", checked.error?.message ?? "The file cannot be used.")));
        }
        return false;
      }, CHECK_POLL_MS);
    } catch (error) {
      say(errorBox(error));
    }
  };

  show();
  return {
    element: h("fieldset", { class: "source" }, h("legend", {}, "Your track"),
      h("div", { class: "row" }, chooser("upload", "Upload a file"), chooser("song", "One of my songs")), panel),
    value() {
      if (kind === "song") return songSelect.value ? { song_id: songSelect.value } : null;
      return uploadId ? { upload_id: uploadId } : null;
    },
  };
}

function isAccepted(type: string): type is AudioType {
  return Object.hasOwn(ACCEPTED_TYPES, type);
}

/** The type the API knows the file by: the browser's, else the one its extension names (null: neither). */
function contentType(file: File): AudioType | null {
  if (isAccepted(file.type)) return file.type;
  const extension = file.name.split(".").pop()?.toLowerCase() ?? "";
  return TYPES_BY_EXTENSION[extension] ?? null;
}

function describe(upload: Upload): string {
  const parts = [upload.filename];
  if (upload.duration_s) parts.push(clock(upload.duration_s));
  if (upload.sample_rate) parts.push(`${upload.sample_rate / 1000} kHz`);
  if (upload.channels) parts.push(upload.channels === 1 ? "mono" : upload.channels === 2 ? "stereo" : `${upload.channels} channels`);
  // Its measured tempo and key are what a cover, repaint or extension renders in unless set.
  parts.push(...analysisParts(upload.analysis));
  return parts.join(" · ");
}

function clock(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}
