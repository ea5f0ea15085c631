"""A fix for moto's DynamoDB backend (5.2.x) that the workflow needs under concurrency: atomic
transactions.

moto runs TransactWriteItems by snapshotting every table it touches, applying the items, and on a
failed condition restoring the snapshots: a write another thread made in between (another job's
status, a user's slot set or reserved credits) is silently undone. DynamoDB never does that, and
the workflow's executions, its Lambda tasks and the API all write concurrently. While
`atomic_transactions()` is active, transactions and single-item writes of the backend take one
lock (and reads wait for it), so a rollback restores only what the transaction itself changed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Reads too: moto iterates an item's attributes while sizing a query page, which a concurrent
# write may change under it.
_OPERATIONS = ("transact_write_items", "put_item", "update_item", "delete_item", "get_item", "query", "scan")
_lock = threading.RLock()


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    return call


@contextmanager
def atomic_transactions() -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    originals = {name: DynamoDBBackend.__dict__[name] for name in _OPERATIONS}
    for name, method in originals.items():
        setattr(DynamoDBBackend, name, _locked(method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(DynamoDBBackend, name, method)
