"""Fixtures for the inference container tests: tiny models built once, moto S3, a live server."""

from __future__ import annotations

import json
import os
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

# Never reach the hub or real AWS from a test.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from moto import mock_aws  # noqa: E402

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
def s3() -> Iterator[Any]:
    import boto3

    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


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
