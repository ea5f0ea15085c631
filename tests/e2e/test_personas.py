"""Personas end to end through the local stack over HTTP: upload -> persona (the clip cut and stored)
-> the upload deleted -> songs sung with it by the real container (tiny random-weight ACE-Step 1.5,
which hears the clip through its VAE and timbre encoder) -> processed.

The same persona and seed give the same song; the same seed without the persona gives another.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from local.client import download

pytestmark = pytest.mark.slow

RATE = 48_000
VOICE_S = 12.0
START_S = 1.0
SONG_TIMEOUT_S = 300
SONG = {
    "mode": "description",
    "description": "a calm song",
    "duration_s": 10,
    "inference_steps": 2,
    "seed": 21,
}


def voice_wav(seconds: float = VOICE_S, amplitude: float = 0.3) -> bytes:
    """A sung-like tone: 196 Hz with vibrato and a few harmonics, PCM16 stereo."""
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * 196 * t + 0.8 * np.sin(2 * np.pi * 5 * t)
    voice = sum(amplitude / k * np.sin(k * phase) for k in (1, 2, 3))
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([voice, 0.9 * voice], axis=1).astype(np.float32), RATE, "PCM_16", format="WAV")
    return buffer.getvalue()


def _samples(song: dict) -> np.ndarray:
    samples, _ = sf.read(io.BytesIO(download(song["audio_urls"]["wav"])), dtype="float32", always_2d=True)
    return samples


@pytest.fixture(scope="module")
def persona(user) -> dict:
    client = user("singer")
    upload = client.upload_file("voice.wav", voice_wav(), "audio/wav", timeout_s=60)
    assert upload["status"] == "ready", upload
    # No style: the songs with and without the persona then get the same words, and differ by the
    # clip alone (the style joining the prompt is the container's test: tests/container).
    body = {
        "name": "Alto",
        "source": {"upload_id": upload["upload_id"]},
        "start_s": START_S,
    }
    created = client.request("POST", "/personas", json=body)
    assert created.status_code == 201, created.text
    # The clip is the persona's own copy: its source may go.
    assert client.request("DELETE", f"/uploads/{upload['upload_id']}").status_code == 204
    return created.json()


@pytest.fixture(scope="module")
def songs(user, persona) -> dict[str, dict]:
    client = user("singer")
    with_persona = {**SONG, "persona_id": persona["persona_id"]}
    ids = {
        "first": client.create_song(with_persona)["job_id"],
        "again": client.create_song(with_persona)["job_id"],
        "without": client.create_song(SONG)["job_id"],
    }
    return {name: client.wait(job_id, SONG_TIMEOUT_S) for name, job_id in ids.items()}


def test_the_clip_is_cut_from_start_s_and_playable(persona) -> None:
    assert persona["reference_s"] == pytest.approx(VOICE_S - START_S, abs=1e-3)
    clip, rate = sf.read(io.BytesIO(download(persona["reference_url"])), dtype="float32", always_2d=True)
    assert rate == RATE and clip.shape == (round((VOICE_S - START_S) * RATE), 2)


def test_songs_sung_with_the_persona_record_its_clip(songs, persona) -> None:
    for name in ("first", "again"):
        song = songs[name]
        assert song["status"] == "processed", song.get("error")
        assert song["persona_id"] == persona["persona_id"]
        # The container read the stored clip and checked it against the checksum made at creation.
        assert song["persona_reference"] == {
            "sha256": persona["reference_sha256"],
            "reference_s": pytest.approx(VOICE_S - START_S, abs=0.01),
        }
    assert songs["without"]["status"] == "processed" and songs["without"]["persona_reference"] is None


def test_the_same_persona_and_seed_give_the_same_song_and_the_persona_changes_it(songs) -> None:
    first, again, without = (_samples(songs[name]) for name in ("first", "again", "without"))
    assert np.array_equal(first, again)
    assert first.shape == without.shape
    assert songs["first"]["prompt"] == songs["without"]["prompt"]
    assert songs["first"]["lyrics"] == songs["without"]["lyrics"]
    # Same words and seed: only the clip (through the timbre encoder) can make them differ. With the
    # tiny random weights and 2 steps the effect is small (a few 16-bit steps), but never zero.
    assert not np.array_equal(first, without)


def test_a_silent_source_is_refused_and_costs_nothing(user) -> None:
    client = user("quiet-singer")
    upload = client.upload_file("silence.wav", voice_wav(amplitude=0.0), "audio/wav", timeout_s=60)
    credits = client.me()
    refused = client.request(
        "POST", "/personas", json={"name": "x", "source": {"upload_id": upload["upload_id"]}}
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "SourceUnusable"
    assert client.request("GET", "/personas").json()["personas"] == []
    assert client.me() == credits


def test_deleting_the_persona_keeps_the_songs_made_with_it(user, songs, persona) -> None:
    client = user("singer")
    assert client.request("DELETE", f"/personas/{persona['persona_id']}").status_code == 204
    assert client.request("GET", f"/personas/{persona['persona_id']}").status_code == 404
    song = client.song(songs["first"]["job_id"])
    assert song["status"] == "processed" and song["persona_id"] == persona["persona_id"]
    assert len(download(song["audio_urls"]["wav"])) > 0
