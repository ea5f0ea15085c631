"""Fixtures for the inference container tests: tiny models built once, moto S3, a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CONTAINER_DIR = Path(__file__).resolve().parents[2] / "sagemaker_containers" / "music"
sys.path.insert(0, str(CONTAINER_DIR))

# Never reach the hub from a test (tests/conftest.py keeps real AWS out of reach).
os.environ["TRANSFORMERS_OFFLINE"] = "1"

BUCKET = "song-output-test"


@pytest.fixture(scope="session")
def tiny_models() -> Any:
    from song_model.models import load_models
    from song_model.settings import load_settings

    return load_models(load_settings({"MODEL_PROFILE": "tiny"}))


@pytest.fixture(scope="session")
def tiny_musicgen(tiny_models: Any) -> Any:
    """The alternative engine, tiny (tiny_models carries the default engine, ACE-Step)."""
    import torch
    from song_model.models import tiny_engine

    return tiny_engine("musicgen", torch.device("cpu"))


@pytest.fixture
def s3_bucket() -> str:
    """The bucket of the `s3` fixture (tests/conftest.py)."""
    return BUCKET


def run_script(script: str, *args: str, timeout_s: float) -> Any:
    """Run `script` in a fresh Python process in the container's folder (memory and time measured
    from a clean start) and return the JSON of its last stdout line."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=CONTAINER_DIR,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_request(mode: str = "description", **overrides: Any) -> dict[str, Any]:
    texts = {
        "description": {"description": "an upbeat summer pop song about a road trip"},
        "custom_lyrics": {
            "prompt": "pop, upbeat, guitar",
            "lyrics": "[verse]\nsun on the road\n[chorus]\nla la",
        },
        "described_lyrics": {"prompt": "rock, energetic", "described_lyrics": "friends on a road trip"},
    }
    body: dict[str, Any] = {
        "job_id": "job-1",
        "mode": mode,
        **texts.get(mode, {}),
        "instrumental": False,
        "duration_s": 1.5,
        "seed": 42,
        "guidance_scale": None,
        "inference_steps": 2,
        "formats": ["wav"],
        "output": {"bucket": BUCKET, "prefix": "scratch/job-1/"},
    }
    body.update(overrides)
    return body


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture
def app_server() -> Iterator[tuple[Any, Client]]:
    """A live server on a free port whose models are not loaded yet (the test sets them)."""
    from song_model.server import App, AppServer

    app = App()
    server = AppServer(("127.0.0.1", 0), app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, Client(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(app_server: tuple[Any, Client], tiny_models: Any, s3: Any) -> Client:
    app, client = app_server
    app.set_models(tiny_models)
    return client
