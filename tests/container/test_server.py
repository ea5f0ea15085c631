"""The HTTP contract SageMaker relies on: /ping, /invocations, JSON errors, and staying up."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import torch
from conftest import BUCKET, Client, make_request


def test_ping_is_503_until_models_are_loaded(app_server: Any, tiny_models: Any) -> None:
    app, client = app_server
    assert client.call("GET", "/ping") == (503, {"status": "loading"})
    app.set_models(tiny_models)
    assert client.call("GET", "/ping") == (200, {"status": "ok"})


def test_invocations_before_load_is_503_not_a_crash(app_server: Any) -> None:
    _, client = app_server
    status, body = client.call("POST", "/invocations", make_request())
    assert status == 503
    assert body["error"]["code"] == "not_ready"
    assert client.call("GET", "/ping")[0] == 503


def test_invocation_returns_the_manifest_and_writes_s3(client: Client, s3: Any) -> None:
    status, manifest = client.call("POST", "/invocations", make_request(formats=["wav", "mp3"]))
    assert status == 200
    assert manifest["job_id"] == "job-1"
    assert [a["format"] for a in manifest["audio"]] == ["wav", "mp3"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    # A vocal take's timed lyrics (lyrics.lrc) are written when the take's words could be aligned.
    lrc = {take["lyrics_timing"]["key"] for take in manifest["takes"] if take["lyrics_timing"]}
    assert lrc <= {"scratch/job-1/lyrics.lrc"}
    assert keys == {"scratch/job-1/audio.wav", "scratch/job-1/audio.mp3", "scratch/job-1/cover.png", *lrc}


def assert_error(result: tuple[int, Any], status: int, code: str) -> dict[str, Any]:
    got_status, body = result
    assert got_status == status, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mode": "karaoke"}, "mode"),
        ({"duration_s": 999}, "duration_s"),
        ({"formats": ["ogg"]}, "formats"),
        ({"output": {"bucket": BUCKET, "prefix": "nope"}}, "output.prefix"),
    ],
)
def test_invalid_requests_get_422_with_field_details(
    client: Client, overrides: dict[str, Any], field: str
) -> None:
    error = assert_error(
        client.call("POST", "/invocations", make_request(**overrides)), 422, "validation_error"
    )
    assert any(field in d["field"] for d in error["details"]), error


def test_missing_fields_get_422(client: Client) -> None:
    error = assert_error(
        client.call("POST", "/invocations", {"mode": "description"}), 422, "validation_error"
    )
    fields = {d["field"] for d in error["details"]}
    assert {"description.job_id", "description.description", "description.output"} <= fields


def test_broken_json_gets_400_and_the_server_keeps_serving(client: Client) -> None:
    assert_error(client.call("POST", "/invocations", raw=b"{not json"), 400, "bad_request")
    assert_error(client.call("POST", "/invocations", raw=b"\xff\xfe"), 400, "bad_request")
    assert client.call("GET", "/ping")[0] == 200
    assert client.call("POST", "/invocations", make_request())[0] == 200


def test_a_negative_content_length_gets_400_not_a_stuck_connection(client: Client) -> None:
    port = int(client.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    assert client.call("GET", "/ping")[0] == 200


def test_unknown_routes_get_404(client: Client) -> None:
    assert_error(client.call("GET", "/nope"), 404, "not_found")
    assert_error(client.call("POST", "/ping", {}), 404, "not_found")


def test_oversized_bodies_get_413(app_server: Any, tiny_models: Any) -> None:
    app, client = app_server
    app.set_models(tiny_models)
    app.max_body_bytes = 1000
    assert_error(client.call("POST", "/invocations", make_request(description="x" * 1500)), 413,
                 "payload_too_large")  # fmt: skip


def test_a_model_error_fails_that_request_only(client: Client, tiny_models: Any, monkeypatch: Any) -> None:
    def broken(job: Any, seeds: Any) -> Any:
        raise RuntimeError("weights are corrupt")

    monkeypatch.setattr(tiny_models.engine, "generate_takes", broken)
    error = assert_error(client.call("POST", "/invocations", make_request()), 500, "model_error")
    assert "music" in error["message"] and "weights are corrupt" in error["message"]
    monkeypatch.undo()
    assert client.call("POST", "/invocations", make_request())[0] == 200


def test_out_of_memory_is_reported_as_such(client: Client, tiny_models: Any, monkeypatch: Any) -> None:
    def oom(prompt: str, seed: int) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(tiny_models.cover, "paint", oom)
    error = assert_error(client.call("POST", "/invocations", make_request()), 500, "out_of_memory")
    assert "cover" in error["message"]
    monkeypatch.undo()
    assert client.call("POST", "/invocations", make_request())[0] == 200


def test_a_missing_bucket_is_a_storage_error(client: Client) -> None:
    body = make_request(output={"bucket": "no-such-bucket", "prefix": "a/"})
    error = assert_error(client.call("POST", "/invocations", body), 502, "storage_error")
    assert "no-such-bucket" in error["message"]
    assert client.call("POST", "/invocations", make_request())[0] == 200
