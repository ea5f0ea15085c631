// The REST API client. Its types are generated from the API's OpenAPI document (src/api-schema.d.ts,
// by openapi-typescript from docs/openapi.json: `make openapi`; the build fails when it is stale) and
// the calls go through openapi-fetch, so every path, parameter, body and answer is checked against
// the document by `tsc`. It adds the Cognito id token and turns error bodies into ApiError with the
// API's own wording ({"error": {"code", "message", "details"}}).
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./api-schema";
import type { AppConfig } from "./config";
import { idToken } from "./auth";

type Schemas = components["schemas"];
export type JobStatus = Schemas["JobStatus"];
export type Me = Schemas["MeResponse"];
export type SongSummary = Schemas["SongSummary"];
export type SongDetail = Schemas["SongDetail"];
export type SongPage = Schemas["SongPage"];
export type SongSource = Schemas["SongSource"];
export type Take = Schemas["SongTake"];
/** What was measured on a take or a ready upload: length, loudness, true peak, tempo, key. */
export type Analysis = Schemas["TakeAnalysis"];
/** What an audio-in song is made from: one of the caller's uploads or songs. */
export type SourceRef = Schemas["SourceRef"];
/** The body of POST /songs: one request schema per mode. */
export type SongRequest = paths["/songs"]["post"]["requestBody"]["content"]["application/json"];
export type UploadRequest = Schemas["UploadRequest"];
/** A presigned S3 POST form for exactly one file (POST /uploads). */
export type UploadForm = Schemas["UploadCreated"];
export type Upload = Schemas["UploadDetail"];
export type WebhookSecret = Schemas["WebhookSecretResponse"];
export type Persona = Schemas["PersonaDetail"];
export type PersonaSummary = Schemas["PersonaSummary"];
export type PersonaPage = Schemas["PersonaPage"];
/** The body of POST /personas: a name, the track to cut the reference clip from, where, a style. */
export type PersonaRequest = Schemas["PersonaRequest"];
/** A personal API key as listed (never its secret). */
export type ApiKey = Schemas["ApiKeyDetail"];
/** A new key: the listed fields and its secret, shown this once. */
export type NewApiKey = Schemas["ApiKeyCreated"];
type ErrorBody = Schemas["ErrorBody"];

/** One field problem in a 400/422's `details` (the document types `details` as any JSON). */
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

/** Every call carries the signed-in user's id token. */
const signedIn: Middleware = {
  async onRequest({ request }) {
    request.headers.set("Authorization", await idToken());
    return request;
  },
  // fetch rejects without a status: offline, DNS, or a route the API does not have (its CORS
  // preflight fails before any answer reaches the page).
  onError({ request, schemaPath }) {
    return new ApiError(0, "NetworkError",
      `No answer from the API for ${request.method} ${schemaPath}: offline, or the API has no such route.`);
  },
};

/** An openapi-fetch result: the answer's data, or an ApiError with the API's wording. */
async function answer<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response, error);
  return data as T;
}

export class Api {
  private readonly client: Client<paths>;

  constructor(config: AppConfig) {
    this.client = createClient<paths>({ baseUrl: config.apiUrl });
    this.client.use(signedIn);
  }

  me(): Promise<Me> {
    return answer(this.client.GET("/me"));
  }

  listSongs(limit: number, nextToken?: string): Promise<SongPage> {
    return answer(this.client.GET("/songs", { params: { query: { limit, next_token: nextToken } } }));
  }

  getSong(id: string): Promise<SongDetail> {
    return answer(this.client.GET("/songs/{song_id}", { params: { path: { song_id: id } } }));
  }

  createSong(body: SongRequest, idempotencyKey: string): Promise<SongDetail> {
    return answer(this.client.POST("/songs", { body, params: { header: { "idempotency-key": idempotencyKey } } }));
  }

  async deleteSong(id: string): Promise<void> {
    await answer(this.client.DELETE("/songs/{song_id}", { params: { path: { song_id: id } } }));
  }

  cancelSong(id: string): Promise<SongDetail> {
    return answer(this.client.POST("/songs/{song_id}/cancel", { params: { path: { song_id: id } } }));
  }

  webhookSecret(): Promise<WebhookSecret> {
    return answer(this.client.GET("/me/webhook-secret"));
  }

  rotateWebhookSecret(): Promise<WebhookSecret> {
    return answer(this.client.POST("/me/webhook-secret/rotate"));
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (await answer(this.client.GET("/me/api-keys"))).keys;
  }

  createApiKey(name: string, expiresInDays: number | null): Promise<NewApiKey> {
    return answer(this.client.POST("/me/api-keys", { body: { name, expires_in_days: expiresInDays } }));
  }

  async revokeApiKey(keyId: string): Promise<void> {
    await answer(this.client.DELETE("/me/api-keys/{key_id}", { params: { path: { key_id: keyId } } }));
  }

  createUpload(file: UploadRequest): Promise<UploadForm> {
    return answer(this.client.POST("/uploads", { body: file }));
  }

  getUpload(id: string): Promise<Upload> {
    return answer(this.client.GET("/uploads/{upload_id}", { params: { path: { upload_id: id } } }));
  }

  listPersonas(limit: number, nextToken?: string): Promise<PersonaPage> {
    return answer(this.client.GET("/personas", { params: { query: { limit, next_token: nextToken } } }));
  }

  getPersona(id: string): Promise<Persona> {
    return answer(this.client.GET("/personas/{persona_id}", { params: { path: { persona_id: id } } }));
  }

  createPersona(body: PersonaRequest): Promise<Persona> {
    return answer(this.client.POST("/personas", { body }));
  }

  async deletePersona(id: string): Promise<void> {
    await answer(this.client.DELETE("/personas/{persona_id}", { params: { path: { persona_id: id } } }));
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
}

/** S3 answers a refused POST with `<Error><Code>…</Code><Message>…</Message></Error>`. */
function storageError(status: number, xml: string): ApiError {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  const code = doc.querySelector("Error > Code")?.textContent ?? String(status);
  const message = doc.querySelector("Error > Message")?.textContent ?? `Storage refused the file (HTTP ${status})`;
  return new ApiError(status, code, message);
}

/** The API's error body; API Gateway's own answers (throttling, a gateway fault) carry `message` only. */
function toApiError(response: Response, parsed: unknown): ApiError {
  const error = (parsed as { error?: Partial<ErrorBody> } | undefined)?.error;
  if (error?.message) {
    return new ApiError(response.status, error.code ?? String(response.status), error.message, error.details);
  }
  const message = (parsed as { message?: string })?.message ?? response.statusText;
  return new ApiError(response.status, String(response.status), message || `HTTP ${response.status}`);
}
