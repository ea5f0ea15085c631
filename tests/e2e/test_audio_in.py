"""Audio-in modes end to end through the local stack over HTTP: upload -> ready -> cover, repaint,
extend, stems (tiny random-weight ACE-Step 1.5, turbo and base) -> processed.

Repaint keeps the outside of the window: the container splices the source's own samples there, so
the only difference left is the 16-bit requantisation of the WAV path (the source is read as
int16 / 32768, written back as round(x * 32767)): at most one step, 1/32767.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from local.client import download

pytestmark = pytest.mark.slow

RATE = 48_000
SOURCE_S = 6.0
SONG_TIMEOUT_S = 300
ONE_STEP = 1 / 32767


SOURCE_BPM, SOURCE_KEY = 120, "A major"


def source_wav() -> tuple[bytes, np.ndarray]:
    """A 6 s 48 kHz stereo PCM16 WAV and its samples: an A major chord (A3 E4 left, C#4 right, so
    both channels differ) that swells on every beat at 120 BPM, so the upload's analysis has a
    known tempo and key."""
    t = np.arange(int(SOURCE_S * RATE)) / RATE
    since_beat = t % (60.0 / SOURCE_BPM)
    swell = 0.3 + 0.7 * np.minimum(1.0, since_beat / 0.005) * np.exp(-since_beat / 0.08)
    left = swell * (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t))
    right = swell * 0.3 * np.sin(2 * np.pi * 277 * t)
    samples = np.stack([left, right], axis=1).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    data = buffer.getvalue()
    decoded, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return data, decoded


@pytest.fixture(scope="module")
def source(user) -> dict:
    data, samples = source_wav()
    upload = user("remixer").upload_file("source.wav", data, "audio/wav", timeout_s=60)
    assert upload["status"] == "ready", upload
    return {"upload": upload, "samples": samples}


@pytest.fixture(scope="module")
def results(user, source) -> dict[str, dict]:
    """One song per audio-in mode, submitted together, awaited together."""
    client = user("remixer")
    ref = {"upload_id": source["upload"]["upload_id"]}
    common = {"source": ref, "seed": 5, "inference_steps": 2}
    bodies = {
        "cover": {"mode": "cover", "prompt": "lofi, mellow piano", "strength": 0.6, **common},
        # The untouched part stays bit-identical only at the raw level (mastering: null).
        "repaint": {
            "mode": "repaint",
            "start_s": 2.0,
            "end_s": 4.0,
            "prompt": "drum fill",
            "mastering": None,
            **common,
        },
        "extend": {"mode": "extend", "add_s": 5.0, "prompt": "outro, fade", "mastering": None, **common},
        "stems": {"mode": "stems", "tracks": ["vocals", "drums"], **common},
    }
    ids = {mode: client.create_song(body)["job_id"] for mode, body in bodies.items()}
    return {mode: client.wait(job_id, SONG_TIMEOUT_S) for mode, job_id in ids.items()}


def test_the_upload_reports_its_tempo_key_and_loudness(source) -> None:
    """The upload check had the upload analyzer (the transcriber image's handler, in-process)
    measure it before it became ready."""
    analysis = source["upload"]["analysis"]
    assert analysis is not None, source["upload"]
    assert analysis["bpm"] == pytest.approx(SOURCE_BPM, rel=0.02)
    assert analysis["key"] == SOURCE_KEY
    assert analysis["duration_s"] == pytest.approx(SOURCE_S, abs=0.01)
    assert -40.0 < analysis["loudness_lufs"] < -5.0 and -20.0 < analysis["true_peak_dbtp"] < 0.0


@pytest.mark.parametrize("mode", ["cover", "repaint", "extend"])
def test_songs_made_from_it_take_its_tempo_and_key(results, mode) -> None:
    """None of the requests set bpm or key: the upload's measured ones are what they rendered in."""
    request = results[mode]["request"]
    assert (request["bpm"], request["key"]) == (SOURCE_BPM, SOURCE_KEY)
    assert "bpm" not in results["stems"]["request"] or results["stems"]["request"]["bpm"] is None


def _wav(url: str) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(download(url)), dtype="float32", always_2d=True)
    assert rate == RATE and samples.shape[1] == 2
    return samples


@pytest.mark.parametrize("mode", ["cover", "repaint", "extend", "stems"])
def test_each_mode_is_processed_and_records_its_source(results, source, mode) -> None:
    song = results[mode]
    assert song["status"] == "processed", song.get("error")
    assert song["source"] == {
        "upload_id": source["upload"]["upload_id"],
        "song_id": None,
        "duration_s": SOURCE_S,
    }


@pytest.mark.parametrize(
    ("mode", "seconds"), [("cover", SOURCE_S), ("repaint", SOURCE_S), ("extend", SOURCE_S + 5)]
)
def test_results_have_the_length_of_what_was_rendered(results, mode, seconds) -> None:
    song = results[mode]
    assert song["duration_s"] == pytest.approx(seconds, abs=1e-3)
    assert _wav(song["audio_urls"]["wav"]).shape[0] == round(seconds * RATE)


def test_repaint_leaves_the_outside_of_the_window_as_it_was(results, source) -> None:
    out, original = _wav(results["repaint"]["audio_urls"]["wav"]), source["samples"]
    start, end = 2 * RATE, 4 * RATE
    assert np.abs(out[:start] - original[:start]).max() <= ONE_STEP + 1e-7
    assert np.abs(out[end:] - original[end:]).max() <= ONE_STEP + 1e-7
    # ...and the window itself (away from the 20 ms crossfades) was regenerated.
    inside = slice(start + RATE // 10, end - RATE // 10)
    assert np.abs(out[inside] - original[inside]).max() > 0.01


def test_extend_keeps_the_source_and_adds_new_audio(results, source) -> None:
    out, original = _wav(results["extend"]["audio_urls"]["wav"]), source["samples"]
    assert np.abs(out[: original.shape[0]] - original).max() <= ONE_STEP + 1e-7
    assert np.abs(out[original.shape[0] + RATE // 10 :]).max() > 0.0


def test_stems_give_one_file_per_track_of_the_source_length(results) -> None:
    tracks = results["stems"]["tracks"]
    assert set(tracks) == {"vocals", "drums"}
    for urls in tracks.values():
        assert _wav(urls["wav"]).shape[0] == round(SOURCE_S * RATE)


def test_a_processed_song_can_be_the_next_source(user, results) -> None:
    client = user("remixer")
    cover_id = results["cover"]["job_id"]
    body = {"mode": "repaint", "source": {"song_id": cover_id}, "start_s": 1.0, "end_s": 2.5}
    song = client.create_song({**body, "inference_steps": 2})
    done = client.wait(song["job_id"], SONG_TIMEOUT_S)
    assert done["status"] == "processed", done.get("error")
    assert done["source"]["song_id"] == cover_id and done["duration_s"] == pytest.approx(SOURCE_S, abs=1e-3)
