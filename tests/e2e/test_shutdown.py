"""Ctrl-C stops the whole stack: exit code 0, the container process gone, every port closed; a
stack.json left by a killed stack does not stop a new one from starting in its place."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from local.launcher import start_stack, stop

pytestmark = pytest.mark.slow


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parts.hostname, parts.port)) == 0


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sigint_stops_everything(tmp_path) -> None:
    # Left by an earlier stack that was killed: the new one replaces it, as `make local` does.
    (tmp_path / "stack.json").write_text(json.dumps({"pid": _gone_pid(), "api_url": "http://127.0.0.1:9/v1"}))
    proc, info = start_stack(tmp_path)
    try:
        assert "removed a stale" in (tmp_path / "stack.log").read_text()
        keys = ("api_url", "aws_endpoint_url", "sagemaker_runtime_endpoint_url", "container_url")
        urls = [info[key] for key in keys]
        assert all(_port_open(url) for url in urls)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        stop(proc)  # a no-op after a clean exit; no stack outlives a failed assertion

    with pytest.raises(ProcessLookupError):
        os.kill(info["container_pid"], 0)  # stopped and reaped by the stack, not orphaned
    assert not any(_port_open(url) for url in urls)
    assert not (tmp_path / "stack.json").exists()
