"""Webhooks, cancel and the queue position through the local stack over HTTP (issue 13).

A receiver on 127.0.0.1 plays the client's webhook endpoint (tests/webhook_receiver.py); it checks
signatures the way a client would, with the Standard Webhooks library (not the service's code).
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from local.client import download, song_id
from tests.webhook_receiver import Delivery, WebhookReceiver, running_receiver

from .conftest import song_body

pytestmark = pytest.mark.slow

SONG_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as r:
        yield r


def _events(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    return [json.loads(d.body) for d in deliveries]


def test_webhooks_arrive_in_order_signed_retried_and_without_urls(user, receiver) -> None:
    client = user("hooked")
    secret = client.request("GET", "/me/webhook-secret").json()["secret"]
    receiver.script("/hooked", 204, 500)  # song.processed: the first attempt gets a 500
    body = song_body("description", webhook_url=receiver.url("/hooked"))
    job = client.wait(song_id(client.create_song(body)), SONG_TIMEOUT_S)
    assert job["status"] == "processed"

    deliveries = receiver.wait_for("/hooked", 3)  # the retry comes about 5 s later
    assert all(d.verifies(secret) for d in deliveries)
    assert not deliveries[0].verifies("whsec_" + base64.b64encode(os.urandom(32)).decode())
    events = _events(deliveries)
    assert [(e["type"], d.status) for e, d in zip(events, deliveries, strict=True)] == [
        ("song.processing", 204),
        ("song.processed", 500),
        ("song.processed", 204),
    ]
    ids = [d.headers["webhook-id"] for d in deliveries]
    assert ids[1] == ids[2] != ids[0]  # a retry keeps its id: receivers dedupe on it
    assert all(e["data"]["job_id"] == job["job_id"] for e in events)
    processed = events[2]["data"]
    assert processed["status"] == "processed" and processed["seed"] == job["seed"]
    assert not any("url" in key for key in processed if key != "request")


def _wait_status(client, job_id: str, status: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        song = client.song(job_id)
        if song["status"] == status:
            return song
        time.sleep(0.2)
    raise TimeoutError(f"{job_id} not {status}: {song['status']}")


def test_cancel_while_processing_and_while_queued(user, receiver) -> None:
    client = user("canceler")
    credits = client.me()["credits"]
    old = client.request("GET", "/me/webhook-secret").json()["secret"]
    secret = client.request("POST", "/me/webhook-secret/rotate").json()["secret"]
    assert secret != old
    hook = receiver.url("/canceler")
    running = song_id(client.create_song(song_body("description", seed=21, webhook_url=hook)))
    queued = song_id(client.create_song(song_body("description", seed=22)))
    _wait_status(client, running, "processing", 60)
    assert client.song(queued)["status"] == "queued"

    assert client.cancel(queued)["status"] == "canceled"
    canceled = client.cancel(running)
    assert canceled["status"] == "canceled" and canceled["error"]["code"] == "Canceled"
    assert client.cancel(running)["status"] == "canceled"  # repeating is harmless

    # The user's next song starts within seconds (the wait fails past 20 s): the stopped
    # executions freed the slot.
    following = song_id(client.create_song(song_body("description", seed=23)))
    _wait_status(client, following, "processing", 20)
    # It renders after the canceled song's GPU work (one local worker cannot drop a running job).
    done = client.wait(following, 2 * SONG_TIMEOUT_S)
    assert done["status"] == "processed"

    # The canceled song's GPU work ended before the next one's (one worker): no late charge.
    assert client.song(running)["status"] == "canceled"
    assert client.song(queued)["status"] == "canceled"
    assert client.me()["credits"] == credits - 1
    finished = client.request("POST", f"/songs/{following}/cancel")
    assert finished.status_code == 409

    deliveries = receiver.wait_for("/canceler", 2)
    assert [e["type"] for e in _events(deliveries)] == ["song.processing", "song.canceled"]
    # Signed with the rotated secret only.
    assert all(d.verifies(secret) for d in deliveries)
    assert not any(d.verifies(old) for d in deliveries)


def test_queue_position_decreases(user) -> None:
    client = user("queue-watcher")
    ids = [song_id(client.create_song(song_body("description", seed=s))) for s in (31, 32, 33)]
    last = ids[-1]
    positions: list[int] = []
    deadline = time.monotonic() + 3 * SONG_TIMEOUT_S
    while time.monotonic() < deadline:
        song = client.song(last)
        if song["status"] != "queued":
            break
        assert song["queue_position"] >= 0
        assert song["eta_s"] is None or song["eta_s"] >= 0
        if not positions or positions[-1] != song["queue_position"]:
            positions.append(song["queue_position"])
        time.sleep(0.3)
    # At least the two songs before it; more if another test's song still renders.
    assert positions[0] >= 2 and positions == sorted(positions, reverse=True) and len(positions) >= 2
    assert client.wait(last, 3 * SONG_TIMEOUT_S)["status"] == "processed"
    assert "queue_position" not in client.song(last) or client.song(last)["queue_position"] is None


def test_variants_render_distinct_takes_charged_once_each(user) -> None:
    client = user("variants")
    credits = client.me()["credits"]
    single = client.create_song(song_body("custom_lyrics", seed=70))
    takes = client.create_song(song_body("custom_lyrics", seed=70, variants=3, formats=["wav", "flac"]))
    assert takes["price_credits"] == 3 * single["price_credits"]
    single = client.wait(song_id(single), 2 * SONG_TIMEOUT_S)
    done = client.wait(song_id(takes), 2 * SONG_TIMEOUT_S)
    assert single["status"] == done["status"] == "processed"

    # One charge per take, each once: the two songs cost exactly their prices.
    assert client.me()["credits"] == credits - single["price_credits"] - done["price_credits"]
    assert [(t["take"], t["seed"]) for t in done["takes"]] == [(1, 70), (2, 71), (3, 72)]
    # The song's own audio is its best take's (take 1's seed stays the song's).
    best = done["best_take"]
    assert done["seed"] == 70 and done["audio_urls"] == done["takes"][best - 1]["audio_urls"]
    audio = []
    for take in done["takes"]:
        assert set(take["audio_urls"]) == {"wav", "flac"}
        samples, rate = sf.read(io.BytesIO(download(take["audio_url"])), dtype="int16")
        assert rate == 48_000 and samples.shape == (10 * 48_000, 2)
        audio.append(samples)
    assert not np.array_equal(audio[0], audio[1]) and not np.array_equal(audio[1], audio[2])
    # Take 1 is the song its seed renders alone (same words; batching changes rounding only).
    alone, _ = sf.read(io.BytesIO(download(single["audio_url"])), dtype="int16")
    assert np.abs(alone.astype(int) - audio[0].astype(int)).max() <= 33
