"""Audio to MIDI end to end through the local stack over HTTP: an upload of a synthesized melody,
a song of stems with "mid", a stems song transcribed track by track, unpitched audio (an empty MIDI
file, not an error), and bad sources (nothing charged). The transcriber runs for real (basic-pitch
on ONNX Runtime) as its own function of the stack."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from local.client import ApiError, download
from stacks.config import ServiceConfig

pytestmark = pytest.mark.slow

RATE = 48_000
SONG_TIMEOUT_S = 300
PRICE = ServiceConfig().transcribe_credits
# C4 E4 G4 C5, 0.45 s each, one every half second: what basic-pitch must give back.
MELODY = [(0.0, 60), (0.5, 64), (1.0, 67), (1.5, 72)]
ONSET_TOLERANCE_S = 0.08


def _wav(samples: np.ndarray) -> bytes:
    stereo = np.stack([samples, 0.9 * samples], axis=1).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, stereo, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def melody_wav() -> bytes:
    out = np.zeros(int(2.5 * RATE))
    for start_s, pitch in MELODY:
        t = np.arange(int(0.45 * RATE)) / RATE
        envelope = np.minimum(1.0, np.minimum(t / 0.01, (0.45 - t) / 0.05))
        tone = sum(np.sin(2 * np.pi * k * 440 * 2 ** ((pitch - 69) / 12) * t) / k**2 for k in (1, 2, 3))
        begin = int(start_s * RATE)
        out[begin : begin + len(t)] += 0.25 * envelope * tone
    return _wav(out)


def _notes(url: str) -> list[tuple[float, int]]:
    midi = pretty_midi.PrettyMIDI(io.BytesIO(download(url)))
    return sorted((note.start, note.pitch) for instrument in midi.instruments for note in instrument.notes)


@pytest.fixture(scope="module")
def musician(user) -> Any:
    return user("midi-maker")


@pytest.fixture(scope="module")
def melody(musician) -> dict[str, Any]:
    upload = musician.upload_file("melody.wav", melody_wav(), "audio/wav", timeout_s=60)
    assert upload["status"] == "ready", upload
    return upload


def _done(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    song = client.create_song(body)
    return client.wait(song["job_id"], SONG_TIMEOUT_S)


def test_an_uploaded_melody_comes_back_as_its_notes_for_the_flat_price(musician, melody) -> None:
    before = musician.me()["credits"]
    song = _done(musician, {"mode": "transcribe", "source": {"upload_id": melody["upload_id"]}})
    assert song["status"] == "processed", song.get("error")
    assert song["price_credits"] == PRICE and musician.me()["credits"] == before - PRICE
    assert song["audio_url"] is None and song["tracks"] is None
    notes = _notes(song["midi_url"])
    assert [pitch for _, pitch in notes] == [pitch for _, pitch in MELODY]
    for (onset, _), (start, _) in zip(notes, MELODY, strict=True):
        assert onset == pytest.approx(start, abs=ONSET_TOLERANCE_S)


def test_unpitched_audio_gives_an_empty_midi_file(musician) -> None:
    # White noise at the model's own rate (22,050 Hz mono: no resampling on the way).
    noise = np.random.default_rng(0).standard_normal(2 * 22_050) * 0.3
    buffer = io.BytesIO()
    sf.write(buffer, noise.astype(np.float32), 22_050, format="WAV", subtype="PCM_16")
    upload = musician.upload_file("noise.wav", buffer.getvalue(), "audio/wav", timeout_s=60)
    assert upload["status"] == "ready", upload
    song = _done(musician, {"mode": "transcribe", "source": {"upload_id": upload["upload_id"]}})
    assert song["status"] == "processed", song.get("error")
    assert _notes(song["midi_url"]) == []


def _stems(melody: dict[str, Any], formats: list[str]) -> dict[str, Any]:
    return {
        "mode": "stems",
        "source": {"upload_id": melody["upload_id"]},
        "tracks": ["vocals", "keyboard"],
        "formats": formats,
        "inference_steps": 2,
        "seed": 3,
    }


@pytest.fixture(scope="module")
def stems_with_midi(musician, melody) -> dict[str, Any]:
    return _done(musician, _stems(melody, ["wav", "mid"]))


def test_stems_with_mid_come_with_a_midi_file_per_track(musician, melody, stems_with_midi) -> None:
    song = stems_with_midi
    assert song["status"] == "processed", song.get("error")
    assert set(song["tracks"]) == {"vocals", "keyboard"}
    for urls in song["tracks"].values():
        assert set(urls) == {"wav", "mid"}
        _notes(urls["mid"])  # a MIDI file (the tiny random-weight model's stems have no known notes)
    plain = musician.create_song(_stems(melody, ["wav"]))  # canceled at once: a cancel charges nothing
    assert song["price_credits"] == plain["price_credits"] + PRICE
    musician.cancel(plain["job_id"])


def test_a_stems_song_is_transcribed_track_by_track(musician, stems_with_midi) -> None:
    song = _done(musician, {"mode": "transcribe", "source": {"song_id": stems_with_midi["job_id"]}})
    assert song["status"] == "processed", song.get("error")
    assert set(song["tracks"]) == {"vocals", "keyboard"} and song["midi_url"] is None
    assert all(set(urls) == {"mid"} for urls in song["tracks"].values())


def test_bad_sources_are_refused_and_nothing_is_charged(user, musician, melody) -> None:
    before = musician.me()
    rejected = musician.upload_file("notes.wav", b"these are not samples" * 100, "audio/wav", timeout_s=60)
    assert rejected["status"] == "rejected"
    pending = musician.create_upload("later.wav", "audio/wav", 1000)
    transcription = _done(musician, {"mode": "transcribe", "source": {"upload_id": melody["upload_id"]}})
    refusals = [
        (
            {"upload_id": user("someone-else").upload_file("x.wav", melody_wav(), "audio/wav")["upload_id"]},
            404,
        ),
        ({"upload_id": pending["upload_id"]}, 409),
        ({"upload_id": rejected["upload_id"]}, 422),
        ({"song_id": transcription["job_id"]}, 422),  # a MIDI transcription has no audio
    ]
    after_transcription = musician.me()
    for source, status in refusals:
        with pytest.raises(ApiError) as refused:
            musician.create_song({"mode": "transcribe", "source": source})
        assert refused.value.status == status, source
    assert musician.me() == after_transcription
    assert after_transcription["credits"] == before["credits"] - PRICE
