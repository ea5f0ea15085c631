from __future__ import annotations

import pytest
from song_client import Client, RetryPolicy

from .fake_api import API, FakeApi


class Sleeps(list):
    """Records the client's waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(api: FakeApi, sleeps: Sleeps) -> Client:
    policy = RetryPolicy(max_retries=3, backoff_base_s=1.0, backoff_max_s=8.0, max_retry_after_s=60)
    with Client("key-123", API, transport=api.transport(), retry=policy, sleep=sleeps) as client:
        yield client
