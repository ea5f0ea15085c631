"""Helpers of the workflow tests on top of the in-process workflow (local/workflow_sandbox.py,
shared with the workflow benchmark): faults, settings, and a concurrency monitor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lambdas.common.models import JobStatus
from local.workflow_sandbox import CREDITS_PER_MINUTE, REQUEST, Workflow, sandbox
from tests import factories

__all__ = [
    "COST",
    "CREDITS_PER_MINUTE",
    "REQUEST",
    "ConcurrencyMonitor",
    "Workflow",
    "lose_transaction_response",
    "sandbox",
    "set_limit",
]

COST = 2  # the price of REQUEST: one started minute at CREDITS_PER_MINUTE


@contextmanager
def lose_transaction_response(
    predicate: Callable[[list[dict[str, Any]]], bool], error: Callable[[], Exception]
) -> Iterator[list[bool]]:
    """The first DynamoDB transaction matching `predicate` commits, then answers with `error`."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    lost: list[bool] = []

    def commit_then_fail(self: Any, transact_items: list[dict[str, Any]]) -> None:
        original(self, transact_items)
        if not lost and predicate(transact_items):
            lost.append(True)
            raise error()

    DynamoDBBackend.transact_write_items = commit_then_fail
    try:
        yield lost
    finally:
        DynamoDBBackend.transact_write_items = original


def set_limit(monkeypatch: Any, limit: int) -> None:
    from lambdas.common import runtime

    monkeypatch.setenv("MAX_CONCURRENT_JOBS_PER_USER", str(limit))
    runtime.reset_all()


class ConcurrencyMonitor:
    """Samples, while jobs run, how many jobs of each user hold a slot or are processing."""

    def __init__(self, flow: Workflow, users: list[str]) -> None:
        self.flow = flow
        self.users = users
        self.max_slots: dict[str, int] = dict.fromkeys(users, 0)
        self.max_processing: dict[str, int] = dict.fromkeys(users, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConcurrencyMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        jobs = factories.jobs()
        while not self._stop.is_set():
            for user in self.users:
                self.max_slots[user] = max(self.max_slots[user], len(self.flow.slots(user)))
                processing = [
                    j for j in jobs.list_for_user(user, limit=50)[0] if j.status == JobStatus.PROCESSING
                ]
                self.max_processing[user] = max(self.max_processing[user], len(processing))
            time.sleep(0.01)
