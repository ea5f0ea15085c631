"""`songs batch`: one song per line of a prompts file, resumable.

The output directory keeps a state file (`.songs-batch.json`) that records, per line, the song
it became, the attempt and whether its files are saved. A re-run skips lines whose files are
saved, follows songs that were submitted but not finished (without submitting them again) and
retries lines whose song failed or was canceled (a new attempt).

A line's identity is its request body (the prompt and the batch's settings) and which
occurrence of that prompt it is: editing other lines, or moving lines, keeps it. The
Idempotency-Key of each submission is derived from that identity and the attempt, so a run that
crashed between submitting and recording the song gets the same song back from the API (within
the API's 24 h idempotency window) instead of paying for a second one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import (
    AuthenticationError,
    InsufficientCreditsError,
    NotFoundError,
    SongClientError,
    WaitTimeoutError,
)
from ..models import JobStatus, SongDetail
from .output import ExitCode, error_body
from .progress import BatchProgress

STATE_FILE = ".songs-batch.json"
STATE_VERSION = 1


@dataclass(frozen=True)
class BatchLine:
    key: str  # the line's identity in the state file
    number: int  # 1-based line number in the prompts file
    prompt: str
    body: dict[str, Any]

    @property
    def label(self) -> str:
        short = self.prompt if len(self.prompt) <= 40 else self.prompt[:39] + "…"
        return f"[{self.number}] {short}"

    def idempotency_key(self, attempt: int) -> str:
        return f"songs-batch-{self.key}-{attempt}"


def read_prompts(path: Path) -> list[tuple[int, str]]:
    """(line number, prompt) for every line that is not blank or a `#` comment."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        (number, text.strip())
        for number, text in enumerate(lines, start=1)
        if text.strip() and not text.lstrip().startswith("#")
    ]


def plan(prompts: list[tuple[int, str]], settings: dict[str, Any]) -> list[BatchLine]:
    """One request per prompt: description mode with the batch's settings."""
    seen: Counter[str] = Counter()
    planned = []
    for number, prompt in prompts:
        seen[prompt] += 1
        body = {"mode": "description", "description": prompt, **settings}
        identity = json.dumps({"body": body, "occurrence": seen[prompt]}, sort_keys=True)
        key = hashlib.sha256(identity.encode()).hexdigest()[:24]
        planned.append(BatchLine(key, number, prompt, body))
    return planned


def slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "song"


class BatchState:
    """The state file: written whole (a temporary file, then renamed) after every change."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / STATE_FILE
        self._lock = threading.Lock()
        self._lines: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            data = json.loads(self.path.read_text())
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"{self.path}: unknown state version {data.get('version')!r}")
            self._lines = data["lines"]

    def get(self, key: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._lines.get(key, {}))

    def update(self, key: str, **fields: Any) -> None:
        with self._lock:
            self._lines.setdefault(key, {}).update(fields)
            partial = self.path.with_name(self.path.name + ".tmp")
            partial.write_text(json.dumps({"version": STATE_VERSION, "lines": self._lines}, indent=2))
            os.replace(partial, self.path)


@dataclass
class LineResult:
    line: BatchLine
    outcome: str  # done | skipped | failed | canceled | error | not_submitted | timeout
    song_id: str | None = None
    files: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line.number,
            "prompt": self.line.prompt,
            "outcome": self.outcome,
            "song_id": self.song_id,
            "files": self.files,
            "error": self.error,
        }


@dataclass(eq=False)
class Batch:
    """Runs a batch's lines. `stop` is set when the run is interrupted; the client's sleep must end
    on it, so that the worker threads return at their next poll."""

    client: Client
    out_dir: Path
    progress: BatchProgress
    _: KW_ONLY
    poll_interval_s: float
    timeout_s: float | None
    save_song: Callable[[Client, SongDetail, Path], list[Path]]
    stop: threading.Event
    state: BatchState = field(init=False)
    # After a 402 no new line is submitted: the balance would refuse them all. After a 401/403
    # no line starts at all: the credential would fail them all.
    _no_credits: threading.Event = field(init=False, default_factory=threading.Event)
    _auth_failed: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.state = BatchState(self.out_dir)

    def run(self, lines: list[BatchLine], parallel: int) -> list[LineResult]:
        """Every line, `parallel` at a time; an authentication error stops the batch."""
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="songs-batch") as pool:
            futures = [pool.submit(self.run_line, line) for line in lines]
            try:
                return [future.result() for future in futures]
            except BaseException:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise

    def run_line(self, line: BatchLine) -> LineResult:
        if self._auth_failed.is_set():
            return LineResult(line, "not_submitted")
        entry = self.state.get(line.key)
        directory = self.out_dir / entry.get("dir", f"{line.number:03d}-{slug(line.prompt)}")
        if entry.get("saved") and all((directory / name).exists() for name in entry.get("files", [])):
            self.progress.status(line.key, line.label, "already done, skipped", done=True)
            return LineResult(line, "skipped", entry.get("song_id"), entry.get("files", []))
        try:
            song = self._current_song(line, entry, directory)
            if song is None:
                return LineResult(line, "not_submitted", error=_insufficient_credits())
            song = self.client.wait(
                song,
                on_progress=self.progress.callback(line.key, line.label),
                poll_interval_s=self.poll_interval_s,
                timeout_s=self.timeout_s,
            )
            self.state.update(line.key, status=song.status.value)
            if song.status is not JobStatus.processed:
                error = song.error.model_dump() if song.error else None
                self.state.update(line.key, error=error)
                return LineResult(line, song.status.value, song.job_id, error=error)
            files = [path.name for path in self.save_song(self.client, song, directory)]
            self.state.update(line.key, saved=True, files=files)
            self.progress.status(line.key, line.label, f"saved to {directory}", done=True)
            return LineResult(line, "done", song.job_id, files)
        except AuthenticationError:
            self._auth_failed.set()
            raise
        except WaitTimeoutError as exc:
            self.progress.status(line.key, line.label, "timed out (still rendering)", done=True)
            return LineResult(line, "timeout", getattr(exc.last, "job_id", None), error=error_body(exc))
        except SongClientError as exc:
            if isinstance(exc, InsufficientCreditsError):
                self._no_credits.set()
            self.progress.status(line.key, line.label, f"error: {exc}", done=True)
            self.state.update(line.key, error=error_body(exc)["error"])
            return LineResult(line, "error", entry.get("song_id"), error=error_body(exc))

    def _current_song(self, line: BatchLine, entry: dict[str, Any], directory: Path) -> SongDetail | None:
        """The line's song: the recorded one while it can still succeed, else a new submission
        (None when the credits already ran out)."""
        attempt = entry.get("attempt", 1)
        song_id = entry.get("song_id")
        if song_id:
            try:
                song = self.client.get_song(song_id)
            except NotFoundError:
                song = None  # deleted meanwhile: submit again
            if song is not None and song.status not in (JobStatus.failed, JobStatus.canceled):
                return song
            attempt += 1
        if self._no_credits.is_set():
            self.progress.status(line.key, line.label, "not submitted: insufficient credits", done=True)
            return None
        # Recorded before the request: a crash after it retries the same attempt, with the same key.
        self.state.update(
            line.key,
            line=line.number,
            prompt=line.prompt,
            dir=directory.name,
            attempt=attempt,
            song_id=None,
            saved=False,
            error=None,
        )
        song = self.client.create_song(line.body, idempotency_key=line.idempotency_key(attempt))
        self.state.update(line.key, song_id=song.job_id, status=song.status.value)
        return song


def _insufficient_credits() -> dict[str, Any]:
    return {"error": {"code": "InsufficientCredits", "message": "not submitted: the credits ran out"}}


def exit_code(results: list[LineResult]) -> ExitCode:
    """0 when every line is done; else the most telling failure."""
    outcomes = {result.outcome for result in results}
    codes = {(result.error or {}).get("error", {}).get("code") for result in results}
    if outcomes <= {"done", "skipped"}:
        return ExitCode.OK
    if "InsufficientCredits" in codes:
        return ExitCode.NO_CREDITS
    if "error" in outcomes:
        return ExitCode.API_ERROR
    if "timeout" in outcomes:
        return ExitCode.TIMEOUT
    return ExitCode.SONG_FAILED
