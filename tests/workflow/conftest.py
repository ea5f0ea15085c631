"""Fixtures: the real ASL executed by moto, its Lambda tasks routed to the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflow.harness import Workflow, sandbox


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Workflow]:
    with sandbox(monkeypatch.setenv) as flow:
        yield flow
