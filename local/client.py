"""A small REST client for the service, as a user of the API would write it (demo, e2e, benchmark)."""

from __future__ import annotations

import time
from typing import Any

import requests

from local.cognito import CognitoSettings, sign_in

TERMINAL = ("processed", "failed", "canceled")


class ApiError(RuntimeError):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.url} -> {response.status_code}: {response.text}"
        )
        self.status = response.status_code


class SongClient:
    def __init__(self, api_url: str, token: str | None, bearer: bool = True) -> None:
        """`bearer=False` sends the bare token in Authorization, as the web app does."""
        self.api_url = api_url.rstrip("/")
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}" if bearer else token

    @classmethod
    def for_user(cls, stack: dict[str, Any], username: str) -> SongClient:
        """Sign USERNAME in against the stack's Cognito pool (created on first use)."""
        return cls(stack["api_url"], sign_in(CognitoSettings(**stack["cognito"]), username))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self._session.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)

    def _ok(self, response: requests.Response) -> Any:
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json()

    def me(self) -> dict[str, Any]:
        return self._ok(self.request("GET", "/me"))

    def create_song(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._ok(self.request("POST", "/songs", json=body, headers=headers))

    def song(self, song_id: str) -> dict[str, Any]:
        return self._ok(self.request("GET", f"/songs/{song_id}"))

    def create_upload(self, filename: str, content_type: str, size_bytes: int) -> dict[str, Any]:
        body = {"filename": filename, "content_type": content_type, "size_bytes": size_bytes}
        return self._ok(self.request("POST", "/uploads", json=body))

    def upload(self, upload_id: str) -> dict[str, Any]:
        return self._ok(self.request("GET", f"/uploads/{upload_id}"))

    def upload_file(
        self, filename: str, data: bytes, content_type: str, timeout_s: float = 60
    ) -> dict[str, Any]:
        """The browser's whole upload: ask for a form, POST the file to S3, wait for the check."""
        form = self.create_upload(filename, content_type, len(data))
        post_form(form, filename, data, content_type).raise_for_status()
        return self.wait_upload(form["upload_id"], timeout_s)

    def wait_upload(self, upload_id: str, timeout_s: float, poll_s: float = 0.25) -> dict[str, Any]:
        """Poll GET /uploads/{id} until the check has decided (ready or rejected)."""
        deadline = time.monotonic() + timeout_s
        upload = self.upload(upload_id)
        while upload["status"] == "pending":
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload {upload_id} still pending after {timeout_s:.0f} s")
            time.sleep(poll_s)
            upload = self.upload(upload_id)
        return upload

    def cancel(self, song_id: str) -> dict[str, Any]:
        return self._ok(self.request("POST", f"/songs/{song_id}/cancel"))

    def wait(self, song_id: str, timeout_s: float, poll_s: float = 0.5) -> dict[str, Any]:
        """Poll GET /songs/{id} until processed, failed or canceled; TimeoutError names the last status."""
        deadline = time.monotonic() + timeout_s
        song = self.song(song_id)
        while song["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                where = f"{song['status']} (stage {song.get('stage')})"
                raise TimeoutError(f"song {song_id} still {where} after {timeout_s:.0f} s")
            time.sleep(poll_s)
            song = self.song(song_id)
        return song


def post_form(form: dict[str, Any], filename: str, data: bytes, content_type: str) -> requests.Response:
    """POST a file with a presigned form as a browser does: the form's fields, then the file last."""
    files = {"file": (filename, data, content_type)}
    return requests.post(form["url"], data=form["fields"], files=files, timeout=60)


def song_id(job: dict) -> str:
    """The id a song's paths take (`job_id` in the API's responses)."""
    return str(job["job_id"])


def media_urls(job: dict) -> dict[str, str]:
    """File name -> presigned URL of every file of a processed song: each take's audio (one file per
    requested format: `song.wav`, or `song-take1.wav`, `song-take2.wav`, ... for several takes),
    each stem's (`stem-drums.wav`, ...), each vocal take's timed lyrics (`song.lrc`,
    `song-take{k}.lrc`) and the cover (`cover.png`)."""
    takes = job.get("takes") or [{"take": 1, "audio_urls": job.get("audio_urls")}]
    urls = {}
    for take in takes:
        name = "song" if len(takes) == 1 else f"song-take{take['take']}"
        urls.update({f"{name}.{fmt}": url for fmt, url in (take.get("audio_urls") or {}).items()})
        if take.get("lyrics_timing_url"):
            urls[f"{name}.lrc"] = take["lyrics_timing_url"]
    for track, by_format in (job.get("tracks") or {}).items():
        urls.update({f"stem-{track}.{fmt}": url for fmt, url in by_format.items()})
    if job.get("cover_url"):
        urls["cover.png"] = job["cover_url"]
    return urls


def download(url: str) -> bytes:
    """Fetch a presigned URL as any HTTP client would (no AWS credentials)."""
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    return response.content
