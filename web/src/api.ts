// The REST API client: adds the Cognito id token, turns error bodies into ApiError with the API's
// own wording ({"error": {"code", "message", "details"}}).
import type { AppConfig } from "./config";
import { idToken } from "./auth";

export type JobStatus = "queued" | "processing" | "processed" | "failed" | "canceled";

export interface Me {
  user_id: string;
  credits: number;
  reserved_credits?: number;
  available_credits?: number;
}

export interface SongSummary {
  job_id: string;
  status: JobStatus;
  stage: string;
  mode: string;
  title?: string | null;
  created_at: string;
  updated_at: string;
  error?: { code: string; message: string } | null;
  queue_position?: number | null;
  eta_s?: number | null;
}

export interface Take {
  take: number; // 1-based; take k was rendered with seed + k - 1
  seed?: number | null;
  audio_url?: string | null;
  audio_urls?: Record<string, string> | null;
}

/** What an audio-in song was made from: one of the caller's uploads or songs. */
export type SourceRef = { upload_id: string } | { song_id: string };

export interface SongSource {
  upload_id?: string | null;
  song_id?: string | null;
  duration_s: number;
}

export interface SongDetail extends SongSummary {
  request: Record<string, unknown>;
  source?: SongSource | null;
  /** Stems: one set of files per extracted track, by format ("mid": the track's MIDI file). */
  tracks?: Record<string, Record<string, string>> | null;
  /** Mode transcribe of one track: its MIDI file. */
  midi_url?: string | null;
  audio_url?: string | null;
  audio_urls?: Record<string, string> | null;
  cover_url?: string | null;
  urls_expire_at?: string | null;
  lyrics?: string | null;
  prompt?: string | null;
  categories?: string[] | null;
  seed?: number | null;
  duration_s?: number | null;
  takes?: Take[] | null;
  price_credits?: number | null;
}

export interface SongPage {
  songs: SongSummary[];
  next_token?: string | null;
}

export type UploadStatus = "pending" | "ready" | "rejected";

/** A presigned S3 POST form for exactly one file (POST /uploads). */
export interface UploadForm {
  upload_id: string;
  url: string;
  fields: Record<string, string>;
  expires_at: string;
  max_duration_s: number;
}

export interface Upload {
  upload_id: string;
  status: UploadStatus;
  filename: string;
  content_type: string;
  size_bytes: number;
  duration_s?: number | null;
  sample_rate?: number | null;
  channels?: number | null;
  error?: { code: string; message: string } | null;
}

export interface FieldProblem {
  field?: string;
  message?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** Field-level problems (422/400 details), when the API gave them. */
  get fieldProblems(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]) : [];
  }
}

export class Api {
  constructor(private readonly config: AppConfig) {}

  me(): Promise<Me> {
    return this.call("GET", "me");
  }

  listSongs(limit: number, nextToken?: string): Promise<SongPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (nextToken) query.set("next_token", nextToken);
    return this.call("GET", `songs?${query}`);
  }

  getSong(id: string): Promise<SongDetail> {
    return this.call("GET", `songs/${encodeURIComponent(id)}`);
  }

  createSong(body: Record<string, unknown>, idempotencyKey: string): Promise<SongDetail> {
    return this.call("POST", "songs", body, { "Idempotency-Key": idempotencyKey });
  }

  deleteSong(id: string): Promise<void> {
    return this.call("DELETE", `songs/${encodeURIComponent(id)}`);
  }

  cancelSong(id: string): Promise<SongDetail> {
    return this.call("POST", `songs/${encodeURIComponent(id)}/cancel`);
  }

  webhookSecret(): Promise<{ secret: string }> {
    return this.call("GET", "me/webhook-secret");
  }

  rotateWebhookSecret(): Promise<{ secret: string }> {
    return this.call("POST", "me/webhook-secret/rotate");
  }

  createUpload(file: { filename: string; content_type: string; size_bytes: number }): Promise<UploadForm> {
    return this.call("POST", "uploads", file);
  }

  getUpload(id: string): Promise<Upload> {
    return this.call("GET", `uploads/${encodeURIComponent(id)}`);
  }

  /** POST the file with the form's fields straight to S3 (no token: the form's policy is the key). */
  async sendUpload(form: UploadForm, file: File): Promise<void> {
    const body = new FormData();
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
    body.append("file", file); // S3 ignores every field after the file
    let response: Response;
    try {
      response = await fetch(form.url, { method: "POST", body });
    } catch {
      throw new ApiError(0, "NetworkError", "The file did not reach storage: offline, or the upload was blocked.");
    }
    if (!response.ok) throw storageError(response.status, await response.text());
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = { Authorization: await idToken(), ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.config.apiUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      // fetch rejects without a status: offline, DNS, or a route the API does not have (its CORS
      // preflight fails before any answer reaches the page).
      const route = `${method} /${path.split("?")[0]}`;
      throw new ApiError(0, "NetworkError", `No answer from the API for ${route}: offline, or the API has no such route.`);
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) throw toApiError(response, parsed);
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** S3 answers a refused POST with `<Error><Code>…</Code><Message>…</Message></Error>`. */
function storageError(status: number, xml: string): ApiError {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  const code = doc.querySelector("Error > Code")?.textContent ?? String(status);
  const message = doc.querySelector("Error > Message")?.textContent ?? `Storage refused the file (HTTP ${status})`;
  return new ApiError(status, code, message);
}

function toApiError(response: Response, parsed: unknown): ApiError {
  const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } })?.error;
  if (error?.message) {
    return new ApiError(response.status, error.code ?? String(response.status), error.message, error.details);
  }
  const message = (parsed as { message?: string })?.message ?? response.statusText;
  return new ApiError(response.status, String(response.status), message || `HTTP ${response.status}`);
}
