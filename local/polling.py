"""Background threads that poll until stopped: the local event source mappings (local/sqs_poller.py)
and the execution status watcher (local/execution_events.py)."""

from __future__ import annotations

import logging
import threading
from functools import cached_property

log = logging.getLogger(__name__)


class Poller:
    """Calls `poll_once` from its threads, `interval_s` apart, until `stop`; a poll that raises (moto
    shutting down, a handler bug) is logged and the thread polls again a second later."""

    def _start_polling(
        self, name: str, threads: int = 1, interval_s: float = 0.0, join_s: float = 30
    ) -> None:
        self._interval_s, self._join_s = interval_s, join_s
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True) for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    @cached_property
    def _stopping(self) -> threading.Event:
        return threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        for thread in getattr(self, "_threads", []):
            thread.join(timeout=self._join_s)

    def poll_once(self) -> int:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self.poll_once()
            except Exception:
                log.exception("%s: poll failed", threading.current_thread().name)
                self._stopping.wait(1.0)
