"""`Client`: the REST API's operations with typed results (models generated from openapi.json)."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from . import models
from ._http import RetryPolicy, Transport
from ._version import __version__
from .errors import (
    ApiConnectionError,
    ConfigurationError,
    DownloadError,
    SongNotReadyError,
    UploadError,
    UploadRejectedError,
    WaitTimeoutError,
)
from .models import (
    ApiKeyCreated,
    ApiKeyDetail,
    ApiKeyList,
    JobStatus,
    MeResponse,
    SongDetail,
    SongPage,
    SongSummary,
    UploadCreated,
    UploadDetail,
    UploadStatus,
    WebhookSecretResponse,
)

API_URL_ENV = "SONG_API_URL"
API_KEY_ENV = "SONG_API_KEY"

# The body of POST /songs: one model per `mode`, discriminated by it (the generated alias's value,
# so that `typing.get_args` reads the models as from any `Annotated` union).
SongRequest = models.SongRequest.__value__
TERMINAL_STATUSES = frozenset({JobStatus.processed, JobStatus.failed, JobStatus.canceled})
# What POST /uploads accepts, by file extension.
CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg"}
# Presigned URLs are refreshed (GET the song again) when they expire sooner than this.
URL_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class Progress:
    """What `Client.wait` reports after each poll: the song as the API returned it."""

    song: SongDetail
    elapsed_s: float

    @property
    def status(self) -> JobStatus:
        return self.song.status

    @property
    def stage(self) -> str:
        return self.song.stage

    @property
    def queue_position(self) -> int | None:
        """Songs ahead of this one for the GPU, while it is queued."""
        return self.song.queue_position

    @property
    def eta_s(self) -> int | None:
        """Rough seconds until done, while queued (None until the service has history)."""
        return self.song.eta_s

    @property
    def done(self) -> bool:
        return self.song.status in TERMINAL_STATUSES


ProgressCallback = Callable[[Progress], None]


class Client:
    """The song service's REST API.

    `api_key` is the credential sent as `Authorization: Bearer <api_key>` (defaults to
    $SONG_API_KEY); `base_url` the API's URL including the stage, e.g.
    `https://abc123.execute-api.us-east-1.amazonaws.com/v1` (defaults to $SONG_API_URL).
    Failed requests are retried per `retry` (429 and 5xx, honouring `Retry-After`). `transport`
    replaces httpx's (a proxy's, a test's mock) and `sleep` how the client waits between polls
    and retries. Use it as a context manager, or call `close()`, to release its connections.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        api_key = api_key or os.environ.get(API_KEY_ENV)
        base_url = base_url or os.environ.get(API_URL_ENV)
        if not base_url:
            raise ConfigurationError(f"no API URL: pass base_url or set {API_URL_ENV}")
        if not api_key:
            raise ConfigurationError(f"no API key: pass api_key or set {API_KEY_ENV}")
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._api = Transport(
            self.base_url,
            api_key,
            timeout_s=timeout_s,
            retry=retry or RetryPolicy(),
            user_agent=f"song-client/{__version__}",
            transport=transport,
            sleep=sleep,
        )
        # Presigned URLs (downloads, the upload form) carry their own signature: never the key.
        self._storage = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=True)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()
        self._storage.close()

    # --- account ---------------------------------------------------------------------------

    def me(self) -> MeResponse:
        """The caller's user id and credits (created with the sign-up credits on first use)."""
        return MeResponse.model_validate_json(self._api.request("GET", "me", idempotent=True).content)

    def webhook_secret(self) -> str:
        """The `whsec_...` secret that signs this user's webhooks (created on first use)."""
        response = self._api.request("GET", "me/webhook-secret", idempotent=True)
        return WebhookSecretResponse.model_validate_json(response.content).secret

    def rotate_webhook_secret(self) -> str:
        """A new webhook secret; deliveries from now on are signed with it."""
        response = self._api.request("POST", "me/webhook-secret/rotate", idempotent=False)
        return WebhookSecretResponse.model_validate_json(response.content).secret

    # --- API keys (these three need a signed-in session: an id token, not a key) ------------

    def create_api_key(self, name: str, expires_in_days: int | None = None) -> ApiKeyCreated:
        """A new personal API key; its `secret` is in this answer only (only its hash is kept)."""
        body: dict[str, Any] = {"name": name}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        # Not retried: a lost answer would leave a key whose secret nobody saw (revoke it).
        response = self._api.request("POST", "me/api-keys", json=body, idempotent=False)
        return ApiKeyCreated.model_validate_json(response.content)

    def list_api_keys(self) -> list[ApiKeyDetail]:
        response = self._api.request("GET", "me/api-keys", idempotent=True)
        return ApiKeyList.model_validate_json(response.content).keys

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key (API Gateway may accept it for up to its authorizer cache time, 5 min)."""
        if not re.fullmatch(r"[0-9a-f]{16}", key_id):
            raise ValueError(f"not an API key id: {key_id!r}")
        self._api.request("DELETE", f"me/api-keys/{key_id}", idempotent=True)

    # --- songs -----------------------------------------------------------------------------

    def create_song(
        self,
        request: BaseModel | Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> SongDetail:
        """Request a song: a request model (`DescriptionRequest(...)`, ...), a dict, or keyword
        fields (`mode="description", description="...", duration_s=30`). The API validates it.

        Every attempt sends the same `Idempotency-Key` (a new UUID unless given), so a retry
        after a lost answer returns the song the first attempt created instead of a second one.
        """
        body = {**_request_body(request), **fields}
        key = idempotency_key or str(uuid.uuid4())
        response = self._api.request(
            "POST", "songs", json=body, headers={"Idempotency-Key": key}, idempotent=True
        )
        return SongDetail.model_validate_json(response.content)

    def get_song(self, song_id: str) -> SongDetail:
        response = self._api.request("GET", f"songs/{_path_id(song_id)}", idempotent=True)
        return SongDetail.model_validate_json(response.content)

    def list_songs(self, limit: int = 20, next_token: str | None = None) -> SongPage:
        """One page of the caller's songs, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if next_token:
            params["next_token"] = next_token
        response = self._api.request("GET", "songs", params=params, idempotent=True)
        return SongPage.model_validate_json(response.content)

    def iter_songs(self, page_size: int = 50) -> Iterator[SongSummary]:
        """Every song of the caller, newest first, page by page."""
        token: str | None = None
        while True:
            page = self.list_songs(limit=page_size, next_token=token)
            yield from page.songs
            if not page.next_token:
                return
            token = page.next_token

    def wait(
        self,
        song: str | SongDetail,
        *,
        on_progress: ProgressCallback | None = None,
        poll_interval_s: float = 2.0,
        timeout_s: float | None = None,
    ) -> SongDetail:
        """Poll the song until it is processed, failed or canceled, and return it.

        `on_progress` gets a `Progress` after every poll (status, stage, queue position and
        ETA while queued). A failed or canceled song is returned, not raised: check
        `song.status` (and `song.error`). `WaitTimeoutError` after `timeout_s`.
        """
        song_id = song if isinstance(song, str) else song.job_id
        started = time.monotonic()
        current = self.get_song(song_id)
        while True:
            elapsed = time.monotonic() - started
            if on_progress:
                on_progress(Progress(current, elapsed))
            if current.status in TERMINAL_STATUSES:
                return current
            if timeout_s is not None and elapsed >= timeout_s:
                raise WaitTimeoutError(
                    f"song {song_id} still {current.status.value} after {timeout_s:g} s", current
                )
            self._sleep(poll_interval_s)
            current = self.get_song(song_id)

    def generate(
        self,
        request: BaseModel | Mapping[str, Any] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        timeout_s: float | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> SongDetail:
        """`create_song` then `wait`: the finished song (check its `status`)."""
        song = self.create_song(request, idempotency_key=idempotency_key, **fields)
        return self.wait(song, on_progress=on_progress, timeout_s=timeout_s)

    def cancel_song(self, song_id: str) -> SongDetail:
        """Cancel a queued or processing song (never charged); repeating it is harmless."""
        response = self._api.request("POST", f"songs/{_path_id(song_id)}/cancel", idempotent=True)
        return SongDetail.model_validate_json(response.content)

    def delete_song(self, song_id: str) -> None:
        """Delete a finished song and its files."""
        self._api.request("DELETE", f"songs/{_path_id(song_id)}", idempotent=True)

    def download(self, song: str | SongDetail, directory: str | Path) -> list[Path]:
        """Save every file of a processed song into `directory` (created if needed): each take
        (`song.wav`, or `song-take1.wav`, `song-take2.wav`, ... per format), each stem
        (`stem-drums.wav`, ...) and the cover. Returns the paths written.

        URLs that expire within two minutes (or a song given by id) are fetched fresh first.
        """
        if isinstance(song, str) or _urls_expiring(song):
            song = self.get_song(song if isinstance(song, str) else song.job_id)
        if song.status is not JobStatus.processed:
            raise SongNotReadyError(f"song {song.job_id} is {song.status.value}: it has no files")
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        return [self._fetch(url, target / name) for name, url in media_files(song).items()]

    def _fetch(self, url: str, path: Path) -> Path:
        """Download with the same retries as API calls: storage's 5xx, 429 and lost connections."""
        retry = 0
        while True:
            try:
                return self._stream_to(url, path)
            except (httpx.TransportError, DownloadError) as exc:
                transient = not isinstance(exc, DownloadError) or exc.status == 429 or exc.status >= 500
                wait = self._api.retry.wait_s(retry, None) if transient else None
                if wait is None:
                    if isinstance(exc, DownloadError):
                        raise
                    raise ApiConnectionError(f"download of {path.name} failed: {exc}") from exc
            self._sleep(wait)
            retry += 1

    def _stream_to(self, url: str, path: Path) -> Path:
        """Stream a presigned URL to `path` through a `.part` file, so `path` is only ever complete."""
        partial = path.with_name(path.name + ".part")
        with self._storage.stream("GET", url) as response:
            if not response.is_success:
                response.read()
                code, message = _s3_error(response)
                raise DownloadError(path.name, response.status_code, code, message)
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        partial.replace(path)
        return path

    # --- uploads ---------------------------------------------------------------------------

    def create_upload(self, filename: str, content_type: str, size_bytes: int) -> UploadCreated:
        """A presigned S3 POST form for exactly this file (`upload_file` does the whole upload)."""
        body = {"filename": filename, "content_type": content_type, "size_bytes": size_bytes}
        response = self._api.request("POST", "uploads", json=body, idempotent=False)
        return UploadCreated.model_validate_json(response.content)

    def get_upload(self, upload_id: str) -> UploadDetail:
        response = self._api.request("GET", f"uploads/{_path_id(upload_id)}", idempotent=True)
        return UploadDetail.model_validate_json(response.content)

    def delete_upload(self, upload_id: str) -> None:
        self._api.request("DELETE", f"uploads/{_path_id(upload_id)}", idempotent=True)

    def upload_file(
        self,
        path: str | Path,
        *,
        content_type: str | None = None,
        timeout_s: float = 300.0,
        poll_interval_s: float = 1.0,
    ) -> UploadDetail:
        """Upload a track for the audio-in modes and wait for the service's check.

        Asks for a form, POSTs the file to storage with it, then polls until the upload is
        `ready` (returned) or `rejected` (`UploadRejectedError`, with the check's reason).
        `content_type` defaults from the extension (.wav, .mp3, .flac, .ogg).
        """
        path = Path(path)
        content_type = content_type or CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise ValueError(f"{path.name}: unknown audio type; pass content_type (audio/wav, ...)")
        form = self.create_upload(path.name, content_type, path.stat().st_size)
        self._post_form(form, path, content_type)
        return self.wait_upload(form.upload_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s)

    def _post_form(self, form: UploadCreated, path: Path, content_type: str) -> None:
        # The form's fields first, the file last (S3 ignores fields after the file).
        with path.open("rb") as file:
            response = self._storage.post(
                form.url, data=form.fields, files={"file": (path.name, file, content_type)}
            )
        if not response.is_success:
            code, message = _s3_error(response)
            raise UploadError(response.status_code, code, message)

    def wait_upload(
        self, upload_id: str, *, timeout_s: float = 300.0, poll_interval_s: float = 1.0
    ) -> UploadDetail:
        """Poll GET /uploads/{id} while `pending`: the ready upload, or `UploadRejectedError`."""
        started = time.monotonic()
        upload = self.get_upload(upload_id)
        while upload.status is UploadStatus.pending:
            if time.monotonic() - started >= timeout_s:
                raise WaitTimeoutError(f"upload {upload_id} still pending after {timeout_s:g} s", upload)
            self._sleep(poll_interval_s)
            upload = self.get_upload(upload_id)
        if upload.status is UploadStatus.rejected:
            raise UploadRejectedError(upload)
        return upload


def media_files(song: SongDetail) -> dict[str, str]:
    """File name -> presigned URL for every file of a processed song: each take per format
    (`song.<fmt>` for one take, `song-take<k>.<fmt>` for several) with its timed lyrics
    (`song.lrc`, `song-take<k>.lrc`: vocal takes), each stem (`stem-<track>.<fmt>`, `mid` among
    them), a transcription's MIDI file (`song.mid`) and the cover (`cover.png`)."""
    takes = song.takes or []
    files: dict[str, str] = {}
    if takes:
        for take in takes:
            name = "song" if len(takes) == 1 else f"song-take{take.take}"
            files.update({f"{name}.{fmt}": url for fmt, url in (take.audio_urls or {}).items()})
            if take.lyrics_timing_url:
                files[f"{name}.lrc"] = take.lyrics_timing_url
    else:
        files.update({f"song.{fmt}": url for fmt, url in (song.audio_urls or {}).items()})
    for track, by_format in (song.tracks or {}).items():
        files.update({f"stem-{track}.{fmt}": url for fmt, url in by_format.items()})
    if song.midi_url:
        files["song.mid"] = song.midi_url
    if song.cover_url:
        suffix = PurePosixPath(urlsplit(song.cover_url).path).suffix or ".png"
        files[f"cover{suffix}"] = song.cover_url
    return files


def _request_body(request: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if request is None:
        return {}
    if isinstance(request, BaseModel):
        # Only what the caller set: the API fills in its own defaults.
        return request.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return dict(request)


_PATH_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _path_id(value: str) -> str:
    """Ids go into URL paths: refuse anything that could change the path."""
    if not _PATH_ID.match(value):
        raise ValueError(f"not a valid id: {value!r}")
    return value


def _urls_expiring(song: SongDetail) -> bool:
    if not song.urls_expire_at:
        return True
    try:
        expires = datetime.fromisoformat(song.urls_expire_at)
    except ValueError:
        return True
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires - datetime.now(UTC) < URL_MARGIN


def _s3_error(response: httpx.Response) -> tuple[str, str]:
    """S3's `<Code>` and `<Message>` from its XML error body."""
    code = re.search(r"<Code>([^<]*)</Code>", response.text)
    message = re.search(r"<Message>([^<]*)</Message>", response.text)
    return (
        code.group(1) if code else f"HTTP{response.status_code}",
        message.group(1) if message else response.reason_phrase,
    )
