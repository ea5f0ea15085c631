"""The inference container's real HTTP server as a child process (what SageMaker runs as `serve`)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from local import account
from local.paths import REPO_ROOT

log = logging.getLogger(__name__)


class ContainerError(RuntimeError):
    """The container exited or never became healthy."""


class ContainerProcess:
    """Starts the server on a port, waits for /ping, and stops it (process group) on `stop`."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        env: dict[str, str],
        log_path: Path,
        host: str = "127.0.0.1",
    ) -> None:
        self.command = list(command)
        self.port = port
        self.host = host
        self._env = {**os.environ, **env}
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, ready_timeout_s: float) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as out:
            # Same process group as the stack: whoever kills the group (a terminal's Ctrl-C, the
            # launcher's last-resort SIGKILL) takes the container with it; no orphan survives.
            self._proc = subprocess.Popen(  # noqa: S603 - fixed command built by the stack
                self.command,
                cwd=REPO_ROOT,
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(ready_timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise ContainerError(
                    f"the container exited with code {self._proc.returncode}; see {self._log_path}"
                )
            try:
                if requests.get(f"{self.url}/ping", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise ContainerError(f"the container was not healthy after {timeout_s:.0f} s; see {self._log_path}")

    def stop(self, grace_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("container did not stop in %.0f s; killing it", grace_s)
            proc.kill()
            proc.wait(timeout=grace_s)


CONTAINER_DIR = REPO_ROOT / "sagemaker_containers" / "music"


def serve_command(host: str, port: int) -> list[str]:
    """The image's `serve` entry point (what SageMaker runs), bound to a local address."""
    return [str(CONTAINER_DIR / "serve"), "--host", host, "--port", str(port)]


def serve_environment(aws_endpoint_url: str, model_dir: Path | None) -> dict[str, str]:
    """tiny profile by default; a model directory switches to the real weights (`full` profile).

    `serve` runs `python3`: this interpreter's directory goes first on PATH so it is the venv's.
    """
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **account.environment(),  # the execution role's credentials on SageMaker
        "AWS_ENDPOINT_URL": aws_endpoint_url,  # media goes to moto's S3
        "MODEL_PROFILE": "tiny" if model_dir is None else "full",
        "HF_HUB_OFFLINE": "1",
    }
    if model_dir is not None:
        env["MODEL_DIR"] = str(model_dir)
    return env
