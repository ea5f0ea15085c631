from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from song_client import Client, RetryPolicy
from song_client.cli import app
from typer.testing import CliRunner

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


@pytest.fixture
def songs(api: FakeApi, sleeps, monkeypatch, tmp_path: Path):
    """Run `songs ARGS...` with SONG_API_URL/KEY set and the fake API behind the client."""
    monkeypatch.setenv("SONG_API_URL", API)
    monkeypatch.setenv("SONG_API_KEY", "key-123")
    monkeypatch.setenv("SONG_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.chdir(tmp_path)

    def client(api_key: str, base_url: str, **_: Any) -> Client:
        return Client(api_key, base_url, transport=api.transport(), sleep=sleeps)

    monkeypatch.setattr("song_client.cli.commands.Client", client)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, [str(arg) for arg in args], input=input)

    return run
