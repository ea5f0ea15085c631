"""One local stack for the whole e2e session, started and stopped exactly as `make local` does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.client import SongClient
from local.launcher import running_stack
from tests.conftest import STACK_RATE_LIMIT_ARGS
from tests.permissions import StackCalls, fail_on

# Requests whose text contains this marker reach the container corrupted (the local endpoint's
# documented fault injection), so the container rejects them for real.
FAILURE_MARKER = "inject-container-failure"


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_calls: Callable[[], StackCalls]
) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    calls = stack_calls()
    args = ["--inject-failure", FAILURE_MARKER, *STACK_RATE_LIMIT_ARGS, *calls.args()]
    with running_stack(state_dir, args, ready_timeout_s=300) as info:
        yield info
    fail_on(calls.check_new())  # what the functions did after the last test returned


@pytest.fixture(scope="session")
def user(stack: dict[str, Any]) -> Callable[[str], SongClient]:
    """A signed-in client per user name (Cognito sign-up on first use)."""
    clients: dict[str, SongClient] = {}

    def get(name: str) -> SongClient:
        if name not in clients:
            clients[name] = SongClient.for_user(stack, name)
        return clients[name]

    return get


def song_body(mode: str, **extra: Any) -> dict[str, Any]:
    """The shortest, fastest song the API accepts, in each mode."""
    base: dict[str, Any] = {"duration_s": 10, "inference_steps": 2, "seed": 11}
    text = {
        "description": {"description": "a short calm piano piece for a rainy morning"},
        "custom_lyrics": {
            "prompt": "lofi, piano, mellow",
            "lyrics": "[verse]\nrain on the window\nslow and low",
        },
        "described_lyrics": {
            "prompt": "indie folk, acoustic guitar",
            "described_lyrics": "a song about a lost cat",
        },
    }[mode]
    return {"mode": mode, **base, **text, **extra}
