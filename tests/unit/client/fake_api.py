"""An in-memory stand-in for the REST API and storage, as an httpx MockTransport handler.

The client's unit tests drive it; the real API is exercised end to end in tests/e2e. It answers
like the API documents (docs/openapi.json): songs move queued -> processing -> processed one
step per GET, presigned URLs live on a fake storage host, and `script` queues answers (status,
headers, body) that replace the next matching requests, for retries and errors.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "https://api.example.test/v1"
STORAGE = "https://storage.example.test"
EXPIRES = "2999-01-01T00:00:00+00:00"


def error(status: int, code: str, message: str, details: Any = None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return httpx.Response(status, json={"error": body}, headers=headers)


@dataclass
class FakeApi:
    # Statuses a song goes through, one per GET after creation.
    lifecycle: list[str] = field(default_factory=lambda: ["queued", "processing", "processed"])
    final_error: dict[str, str] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    script: dict[tuple[str, str], list[httpx.Response]] = field(default_factory=dict)
    songs: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)
    upload_checks: list[str] = field(default_factory=lambda: ["pending", "ready"])
    rejection: dict[str, str] = field(
        default_factory=lambda: {"code": "TooShort", "message": "the track is 0.40 s long; send at least 1 s"}
    )
    storage_posts: list[httpx.Request] = field(default_factory=list)
    # POST /songs creates the song but answers 500 this many times (an answer lost on the way).
    lose_answers: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def then(self, method: str, path: str, *responses: httpx.Response) -> None:
        """The next requests to METHOD PATH (path after /v1, e.g. "/songs") get these answers."""
        self.script.setdefault((method, path), []).extend(responses)

    def api_requests(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.url.host == "api.example.test"
            and (method is None or r.method == method)
            and (path is None or r.url.path == "/v1" + path)
        ]

    # --- routing ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "storage.example.test":
            return self._storage(request)
        path = request.url.path.removeprefix("/v1")
        scripted = self.script.get((request.method, path))
        if scripted:
            return scripted.pop(0)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return error(401, "Unauthorized", "Unauthorized")
        parts = path.strip("/").split("/")
        match request.method, parts:
            case "GET", ["me"]:
                return httpx.Response(
                    200, json={"user_id": "u-1", "credits": 10, "reserved_credits": 1, "available_credits": 9}
                )
            case "POST", ["songs"]:
                created = self._create(request)
                if self.lose_answers:
                    self.lose_answers -= 1
                    return error(500, "InternalError", "the answer was lost")
                return created
            case "GET", ["songs"]:
                summaries = [{k: v for k, v in s.items() if k in SUMMARY} for s in self.songs.values()]
                return httpx.Response(200, json={"songs": summaries[::-1], "next_token": None})
            case "GET", ["songs", song_id]:
                return self._advance(song_id)
            case "POST", ["songs", song_id, "cancel"]:
                song = self.songs[song_id]
                song.update(status="canceled", stage="canceled", error={"code": "Canceled", "message": "x"})
                return httpx.Response(200, json=song)
            case "DELETE", ["songs", song_id]:
                self.songs.pop(song_id)
                return httpx.Response(204)
            case "POST", ["uploads"]:
                return self._create_upload(request)
            case "GET", ["uploads", upload_id]:
                upload = self.uploads[upload_id]
                if self.upload_checks:
                    upload["status"] = self.upload_checks.pop(0)
                    upload["error"] = self.rejection if upload["status"] == "rejected" else None
                return httpx.Response(200, json=upload)
        return error(404, "NotFound", "not found")

    # --- songs -----------------------------------------------------------------------------

    def _create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key")
        if key in self.idempotency:
            return httpx.Response(202, json=self.songs[self.idempotency[key]])
        body = json.loads(request.content)
        song_id = str(uuid.uuid4())
        variants = body.get("variants", 1)
        self.songs[song_id] = {
            "job_id": song_id,
            "status": "queued",
            "stage": "queued",
            "mode": body["mode"],
            "title": body.get("title"),
            "created_at": "2026-01-01T00:00:00+00:00",
            "updated_at": "2026-01-01T00:00:00+00:00",
            "price_credits": variants,
            "request": body,
            "queue_position": 2,
            "eta_s": 40,
            "_steps": list(self.lifecycle[1:]),
            "_variants": variants,
        }
        if key:
            self.idempotency[key] = song_id
        return httpx.Response(202, json=self._public(song_id))

    def _advance(self, song_id: str) -> httpx.Response:
        song = self.songs.get(song_id)
        if song is None:
            return error(404, "NotFound", "song not found")
        if song["_steps"]:
            status = song["_steps"].pop(0)
            song.update(status=status, stage={"processing": "generating"}.get(status, status))
            if status != "queued":
                song.update(queue_position=None, eta_s=None)
            if status == "processed":
                song.update(self._media(song_id, song["_variants"]))
            elif status in ("failed", "canceled"):
                song["error"] = self.final_error or {"code": "GenerationFailed", "message": "the GPU failed"}
        return httpx.Response(200, json=self._public(song_id))

    def _public(self, song_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.songs[song_id].items() if not k.startswith("_")}

    def _media(self, song_id: str, variants: int) -> dict[str, Any]:
        takes = [
            {
                "take": k,
                "seed": 6 + k,
                "audio_url": f"{STORAGE}/{song_id}/take{k}.wav?sig=1",
                "audio_urls": {
                    "wav": f"{STORAGE}/{song_id}/take{k}.wav?sig=1",
                    "mp3": f"{STORAGE}/{song_id}/take{k}.mp3?sig=1",
                },
            }
            for k in range(1, variants + 1)
        ]
        return {
            "takes": takes,
            "audio_url": takes[0]["audio_url"],
            "audio_urls": takes[0]["audio_urls"],
            "cover_url": f"{STORAGE}/{song_id}/cover.png?sig=1",
            "urls_expire_at": EXPIRES,
            "lyrics": "[verse]\nla la",
            "prompt": "lofi",
            "seed": 7,
            "duration_s": 10.0,
        }

    # --- uploads and storage ---------------------------------------------------------------

    def _create_upload(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        upload_id = str(uuid.uuid4())
        self.uploads[upload_id] = {
            "upload_id": upload_id,
            "status": "pending",
            "filename": body["filename"],
            "content_type": body["content_type"],
            "size_bytes": body["size_bytes"],
            "created_at": "2026-01-01T00:00:00+00:00",
            "duration_s": 3.0,
        }
        form = {
            "upload_id": upload_id,
            "url": f"{STORAGE}/uploads-bucket",
            "fields": {
                "key": f"uploads/u-1/{upload_id}",
                "policy": "p0l1cy",
                "Content-Type": body["content_type"],
            },
            "expires_at": EXPIRES,
            "max_duration_s": 600,
        }
        return httpx.Response(201, json=form)

    def _storage(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.storage_posts.append(request)
            request.read()
            return httpx.Response(204)
        return httpx.Response(200, content=request.url.path.encode())  # each file says where it came from


SUMMARY = ("job_id", "status", "stage", "mode", "title", "created_at", "updated_at", "error", "price_credits")
