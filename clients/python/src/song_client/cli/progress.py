"""Live progress on stderr: queued (position, ETA) -> rendering (stage) -> done.

On a terminal, rich redraws a spinner line (one per song in a batch); otherwise (a pipe, a log
file, CI) one plain line is printed each time the status, stage or queue position changes.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Generic, Self, TypeVar

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.spinner import Spinner

from ..client import Progress
from ..models import JobStatus

D = TypeVar("D", Live, RichProgress)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def describe(progress: Progress) -> str:
    """One line for a song's state, in plain words."""
    song = progress.song
    if song.status is JobStatus.queued:
        ahead = song.queue_position
        where = "" if ahead is None else (", next in line" if ahead == 0 else f", {ahead} ahead")
        eta = f", ETA ~{_clock(song.eta_s)}" if song.eta_s is not None else ""
        return f"queued{where}{eta}"
    if song.status is JobStatus.processing:
        return f"rendering ({song.stage})"
    if song.status is JobStatus.processed:
        return f"done in {_clock(progress.elapsed_s)}"
    if song.error:
        return f"{song.status.value}: {song.error.message} ({song.error.code})"
    return song.status.value


def _milestone(progress: Progress) -> tuple[str, str, int | None]:
    song = progress.song
    return song.status.value, song.stage, song.queue_position


class _Display(Generic[D]):
    """A rich display redrawn on a terminal (started by `with`, stopped on leaving it); elsewhere
    none, and the subclass prints plain lines."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self._live: D | None = None

    def _display(self) -> D:
        raise NotImplementedError

    def __enter__(self) -> Self:
        if self.enabled and self.console.is_terminal:
            self._live = self._display()
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live:
            self._live.stop()


class SongProgress(_Display[Live]):
    """The display for one song; call it with each `Progress` (it is `Client.wait`'s callback)."""

    def __init__(self, console: Console, label: str, enabled: bool = True) -> None:
        super().__init__(console, enabled)
        self.label = escape(label)
        self._last: tuple[str, str, int | None] | None = None

    def _display(self) -> Live:
        return Live(Spinner("dots", text=self.label), console=self.console, transient=True)

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        text = f"{self.label}: {escape(describe(progress))}"
        if self._live:
            if progress.done:
                self._live.stop()
                self._live = None
                self.console.print(text)
            else:
                self._live.update(Spinner("dots", text=f"{text} [dim]{_clock(progress.elapsed_s)}[/]"))
        elif _milestone(progress) != self._last:
            self._last = _milestone(progress)
            self.console.print(text)


class BatchProgress(_Display[RichProgress]):
    """One line per song of a batch; `line(key, label)` gives that song's callback."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        super().__init__(console, enabled)
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._labels: dict[str, str] = {}
        self._last: dict[str, str] = {}

    def _display(self) -> RichProgress:
        return RichProgress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
        )

    def status(self, key: str, label: str, text: str, done: bool = False) -> None:
        """Set a line's status text (`done` stops its spinner); plain output prints it when it
        differs from the line's last."""
        if not self.enabled:
            return
        with self._lock:
            if self._live:
                if key not in self._tasks:
                    self._tasks[key] = self._live.add_task(escape(label), total=1, status="")
                self._live.update(self._tasks[key], status=escape(text), completed=1 if done else 0)
            elif self._last.get(key) != text:
                self._last[key] = text
                self.console.print(f"{escape(label)}: {escape(text)}")

    def callback(self, key: str, label: str) -> _LineCallback:
        return _LineCallback(self, key, label)


class _LineCallback:
    """`Client.wait`'s callback for one line of a batch."""

    def __init__(self, batch: BatchProgress, key: str, label: str) -> None:
        self.batch, self.key, self.label = batch, key, label
        self._last: tuple[str, str, int | None] | None = None

    def __call__(self, progress: Progress) -> None:
        # Plain output moves on milestones only, not on every tick of the ETA.
        if self.batch._live is None and _milestone(progress) == self._last:
            return
        self._last = _milestone(progress)
        self.batch.status(self.key, self.label, describe(progress), done=progress.done)
