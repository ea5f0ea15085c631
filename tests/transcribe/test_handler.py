"""The Lambda entry point in-process with moto S3 and the real basic-pitch model: a song -> one MIDI
file, a stems song -> one per track, and every refusal a typed error that writes nothing."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pretty_midi
import pytest
from transcriber import handler
from transcriber.errors import AudioRejected, InvalidRequest, SourceMissing, StorageError
from transcriber.settings import SettingsError

from .conftest import BUCKET, encode, melody

# Where the workflow has the function write (lambdas/common/transcription.midi_scratch_prefix).
PREFIX = "media/job-7/midi/"
# A stems-like song: three parts of one 2 s phrase, each in its own file, as the container writes
# a stems request's tracks (`stem-{track}.wav`, 48 kHz stereo 16-bit).
STEMS = {
    "vocals": [(0.0, 0.45, [72]), (0.5, 0.45, [74]), (1.0, 0.9, [76])],
    "bass": [(0.0, 0.95, [40]), (1.0, 0.95, [45])],
    "keyboard": [(0.0, 1.9, [60, 64, 67])],
}


def _put(s3: Any, key: str, data: bytes) -> dict[str, Any]:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return {"bucket": BUCKET, "key": key}


def _event(sources: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"job_id": "job-7", "sources": sources, "output": {"bucket": BUCKET, "prefix": PREFIX}, **extra}


def _written(s3: Any) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listing}


def _pitches(midi_bytes: bytes) -> list[int]:
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    return sorted(note.pitch for instrument in midi.instruments for note in instrument.notes)


def test_a_song_gives_one_midi_file_with_its_notes(s3: Any) -> None:
    song = encode(melody([(0.0, 0.45, [62]), (0.5, 0.45, [66]), (1.0, 0.45, [69])], 48_000, 1.6), 48_000)
    source = _put(s3, "songs/alice/s1/audio.wav", song)
    result = handler.lambda_handler(_event([source], tempo_bpm=96), None)
    (midi,) = result["midi"]
    assert midi == {
        "track": None,
        "bucket": BUCKET,
        "key": f"{PREFIX}audio.mid",
        "content_type": "audio/midi",
        "size_bytes": midi["size_bytes"],
        "notes": 3,
        "duration_s": pytest.approx(1.6, abs=0.01),
    }
    data = _written(s3)[f"{PREFIX}audio.mid"]
    assert len(data) == midi["size_bytes"] and _pitches(data) == [62, 66, 69]
    assert pretty_midi.PrettyMIDI(io.BytesIO(data)).get_tempo_changes()[1][0] == pytest.approx(96)
    head = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}audio.mid")
    assert head["ContentType"] == "audio/midi" and result["job_id"] == "job-7" and result["seconds"] > 0


def test_a_stems_song_gives_one_midi_file_per_track(s3: Any) -> None:
    stems = {track: encode(melody(notes, 48_000, 2.0), 48_000, channels=2) for track, notes in STEMS.items()}
    sources = [
        {**_put(s3, f"songs/s2/stem-{track}.wav", data), "track": track} for track, data in stems.items()
    ]
    result = handler.lambda_handler(_event(sources), None)
    assert [(m["track"], m["key"]) for m in result["midi"]] == [
        (track, f"{PREFIX}stem-{track}.mid") for track in STEMS
    ]
    written = _written(s3)
    assert set(written) == {f"{PREFIX}stem-{track}.mid" for track in STEMS}
    for track, notes in STEMS.items():
        data = written[f"{PREFIX}stem-{track}.mid"]
        assert _pitches(data) == sorted(pitch for _, _, pitches in notes for pitch in pitches), track
        assert [i.name for i in pretty_midi.PrettyMIDI(io.BytesIO(data)).instruments] == [track]


def test_a_silent_stem_gives_an_empty_midi_file_beside_the_others(s3: Any) -> None:
    vocals = encode(melody(STEMS["vocals"], 16_000, 2.0), 16_000)
    sources = [
        {**_put(s3, "songs/a/stem-vocals.wav", vocals), "track": "vocals"},
        {**_put(s3, "songs/a/stem-fx.wav", encode(np.zeros(32_000, np.float32), 16_000)), "track": "fx"},
    ]
    result = handler.lambda_handler(_event(sources), None)
    assert [(m["track"], m["notes"]) for m in result["midi"]] == [("vocals", 3), ("fx", 0)]
    assert _pitches(_written(s3)[f"{PREFIX}stem-fx.mid"]) == []


def test_a_bad_source_among_good_ones_writes_nothing(s3: Any) -> None:
    """Every source is transcribed before anything is written: a refusal leaves the prefix empty."""
    bass = encode(melody(STEMS["bass"], 16_000, 2.0), 16_000)
    sources = [
        {**_put(s3, "songs/a/stem-bass.wav", bass), "track": "bass"},
        {**_put(s3, "songs/a/stem-fx.wav", b"RIFF....WAVEfmt nonsense" * 10), "track": "fx"},
    ]
    with pytest.raises(AudioRejected, match="not audio that can be read"):
        handler.lambda_handler(_event(sources), None)
    assert _written(s3) == {}


def test_a_deleted_source_is_source_missing(s3: Any) -> None:
    with pytest.raises(SourceMissing, match="no longer exists"):
        handler.lambda_handler(_event([{"bucket": BUCKET, "key": "uploads/gone"}]), None)


def test_an_object_over_the_byte_limit_is_refused_unread(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _put(s3, "uploads/big.wav", encode(np.zeros(16_000, np.float32), 16_000))
    monkeypatch.setattr(handler, "MAX_INPUT_BYTES", 1000)
    with pytest.raises(AudioRejected, match="32,044 bytes; up to 1,000 can be transcribed"):
        handler.lambda_handler(_event([source]), None)


def test_the_length_limit_comes_from_the_environment(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _put(s3, "uploads/long.wav", encode(np.zeros(5 * 8_000, np.float32), 8_000))
    monkeypatch.setenv("MAX_DURATION_S", "3")
    handler.cold_start.reset()
    with pytest.raises(AudioRejected, match="5 s long; tracks up to 3 s"):
        handler.lambda_handler(_event([source]), None)


def test_an_unwritable_output_is_a_storage_error(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _put(s3, "uploads/a.wav", encode(np.zeros(8_000, np.float32), 8_000))
    event = _event([source])
    event["output"]["bucket"] = "no-such-bucket"
    monkeypatch.setenv("INFERENCE_BUCKET_NAME", "no-such-bucket")
    handler.cold_start.reset()
    with pytest.raises(
        StorageError, match=r"could not write s3://no-such-bucket/media/job-7/midi/audio\.mid"
    ):
        handler.lambda_handler(event, None)


@pytest.mark.parametrize(
    ("source_bucket", "output_bucket", "refused"),
    [
        ("other-bucket", BUCKET, "sources may not be read from other-bucket"),
        (BUCKET, "other-bucket", "output may not be written to other-bucket"),
    ],
)
def test_buckets_other_than_the_configured_ones_are_refused_before_any_s3_call(
    s3: Any, source_bucket: str, output_bucket: str, refused: str
) -> None:
    event = _event([{"bucket": source_bucket, "key": "uploads/a.wav"}])
    event["output"]["bucket"] = output_bucket
    with pytest.raises(InvalidRequest, match=refused):
        handler.lambda_handler(event, None)
    assert _written(s3) == {}


def test_a_missing_setting_is_named(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPLOADS_BUCKET_NAME")
    handler.cold_start.reset()
    with pytest.raises(SettingsError, match="UPLOADS_BUCKET_NAME"):
        handler.lambda_handler(_event([{"bucket": BUCKET, "key": "a"}]), None)


@pytest.mark.parametrize(
    "event",
    [
        {"job_id": "j", "sources": [], "output": {"bucket": BUCKET, "prefix": PREFIX}},
        _event([{"bucket": BUCKET, "key": "a"}], output={"bucket": BUCKET, "prefix": "no-slash"}),
        _event([{"bucket": BUCKET, "key": "a", "track": "x"}, {"bucket": BUCKET, "key": "b", "track": "x"}]),
        _event([{"bucket": BUCKET, "key": "a", "track": "../etc"}]),
        _event([{"bucket": BUCKET, "key": "a"}], tempo_bpm=5),
    ],
    ids=["no-sources", "prefix", "same-track-twice", "track-name", "tempo"],
)
def test_an_event_outside_the_contract_is_invalid_request(s3: Any, event: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="not a transcription request"):
        handler.lambda_handler(event, None)
    assert _written(s3) == {}
