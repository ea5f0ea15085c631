"""A function's cold start: its settings read from its environment, validated, and its stores and
clients built from them, once, at its first invocation; every later invocation reuses them.

    cold_start = ColdStart(AcquireSlotSettings, build)   # in lambdas/<function>/handler.py

    def lambda_handler(event, context):
        queue = cold_start.dependencies()   # SettingsError naming a missing variable, before any AWS call

Nothing happens at import time, so importing a handler needs no environment. On Lambda the
environment is the process's; the local stack runs every function in one process and gives each
its own (`environ`), as Lambda gives each function only the variables of its own definition.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from .settings import FunctionSettings

S = TypeVar("S", bound=FunctionSettings)
D = TypeVar("D")

_cold_starts: weakref.WeakSet[ColdStart] = weakref.WeakSet()


class ColdStart(Generic[S, D]):
    def __init__(self, settings: type[S], build: Callable[[S], D]) -> None:
        self.settings_model = settings
        self._build = build
        self.environ: Mapping[str, str] | None = None  # None: the process environment
        self._lock = threading.Lock()
        self._settings: S | None = None
        self._dependencies: D | None = None
        _cold_starts.add(self)

    def settings(self) -> S:
        with self._lock:
            if self._settings is None:
                self._settings = self.settings_model.from_environment(self.environ)
            return self._settings

    def dependencies(self) -> D:
        """What the function works with, built from its settings on first use."""
        settings = self.settings()
        with self._lock:
            if self._dependencies is None:
                self._dependencies = self._build(settings)
            return self._dependencies

    def reset(self, environ: Mapping[str, str] | None = None) -> None:
        """Start cold again (tests change the environment; the local stack sets each function's)."""
        with self._lock:
            self.environ = environ
            self._settings = None
            self._dependencies = None


def partial_batch(
    event: dict[str, Any], context: Any, cold_start: ColdStart, record_handler: Callable
) -> Any:
    """An SQS batch, record by record, with partial batch failures (Powertools): only the failed
    records return to the queue. The settings are checked first: a missing one fails the
    invocation (the whole batch comes back), not each record."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    cold_start.dependencies()
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def reset_all() -> None:
    """Every function starts cold again, with the process environment (tests)."""
    for cold_start in list(_cold_starts):
        cold_start.reset()
