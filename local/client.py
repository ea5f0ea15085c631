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
    def __init__(self, api_url: str, token: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

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


def song_id(job: dict) -> str:
    """The id a song's paths take (`job_id` in the API's responses)."""
    return str(job["job_id"])


def media_urls(job: dict) -> dict[str, str]:
    """File name -> presigned URL for the audio files (one per requested format) and the cover."""
    urls = {f"song.{fmt}": url for fmt, url in (job.get("audio_urls") or {}).items()}
    if job.get("cover_url"):
        urls["cover.png"] = job["cover_url"]
    return urls


def download(url: str) -> bytes:
    """Fetch a presigned URL as any HTTP client would (no AWS credentials)."""
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    return response.content
