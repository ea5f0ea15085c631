"""Audio to MIDI with the real basic-pitch model (its ONNX file from the wheel) on synthesized tracks
whose notes are known: pitches and onsets come back, silence and noise give an empty MIDI file,
and what cannot be transcribed is refused with a clear reason.

basic-pitch runs at about 0.1 s of CPU per second of audio here once warm: the clips are a few
seconds long.
"""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from transcriber import audio
from transcriber.errors import AudioRejected
from transcriber.transcribe import model_rate, transcribe, transcribe_file
from transcriber.warm_up import ARPEGGIO, tone_sequence

from lambdas.common.contract import TRANSCRIBER_MAX_DURATION_S
from lambdas.upload_check import check
from stacks.config import ServiceConfig

from .conftest import encode, melody

# basic-pitch's frames are 256 samples at 22,050 Hz (11.6 ms); onsets land within a few frames.
ONSET_TOLERANCE_S = 0.05


def _notes(midi_bytes: bytes) -> list[tuple[float, int]]:
    """(onset, pitch) of every note in a MIDI file, read back with pretty_midi."""
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    return sorted((note.start, note.pitch) for instrument in midi.instruments for note in instrument.notes)


def test_a_c_major_arpeggio_comes_back_note_for_note() -> None:
    """C4-E4-G4-C5, half a second each: those four pitches, at those onsets, in the MIDI file."""
    result = transcribe(tone_sequence(ARPEGGIO, model_rate()))
    assert [note.pitch for note in result.notes] == list(ARPEGGIO)
    for index, note in enumerate(result.notes):
        assert note.start_s == pytest.approx(0.5 * index, abs=ONSET_TOLERANCE_S)
        assert note.end_s - note.start_s == pytest.approx(0.5, abs=0.1)
        assert 0 < note.velocity <= 127
    in_file = _notes(result.midi)
    assert [pitch for _, pitch in in_file] == list(ARPEGGIO)
    assert [onset for onset, _ in in_file] == pytest.approx([0.0, 0.5, 1.0, 1.5], abs=ONSET_TOLERANCE_S)
    assert result.duration_s == pytest.approx(2.0, abs=0.01)


def test_a_melody_with_a_chord_from_a_stereo_44k_flac_file(tmp_path: Path) -> None:
    """Tones with overtones (3 partials) at 44.1 kHz stereo FLAC: decoded, mixed to mono and
    resampled, then A4-G4-F4 and an A minor chord (A3 C4 E4): every pitch at its onset, no more."""
    events = [(0.0, 0.4, [69]), (0.5, 0.4, [67]), (1.0, 0.4, [65]), (1.5, 0.5, [57, 60, 64])]
    path = tmp_path / "take.flac"
    path.write_bytes(encode(melody(events, 44_100, 2.2, harmonics=3), 44_100, "FLAC", channels=2))
    found = _notes(transcribe_file(path, track="keyboard").midi)
    expected = [(start, pitch) for start, _, pitches in events for pitch in pitches]
    assert sorted(pitch for _, pitch in found) == sorted(pitch for _, pitch in expected)
    for (onset, pitch), (start, want) in zip(found, sorted(expected), strict=True):
        assert pitch == want and onset == pytest.approx(start, abs=ONSET_TOLERANCE_S)


@pytest.mark.parametrize(
    "samples",
    [np.zeros(2 * 22_050, np.float32), (np.random.default_rng(0).standard_normal(2 * 22_050) * 0.3)],
    ids=["silence", "white-noise"],
)
def test_audio_without_pitched_content_gives_an_empty_midi_file(samples: np.ndarray) -> None:
    """A valid MIDI file: the tempo track and the part's own track, named, without notes."""
    result = transcribe(samples.astype(np.float32), track="drums")
    assert result.notes == [] and _notes(result.midi) == []
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    assert midi.type == 1 and [track.name for track in midi.tracks] == ["", "drums"]
    assert not any(message.type == "note_on" for track in midi.tracks for message in track)


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "input"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"ID3 and then no audio at all" * 40, "not audio that can be read"),
        (encode(np.zeros(4_000, np.float32), 4_000), "sampled at 4000 Hz; audio sampled at 8,000 to 192,000"),
        (encode(np.zeros(8_000, np.float32), 8_000, channels=3), "3 channels; a mono or stereo mix"),
        (encode(np.zeros(0, np.float32), 16_000), "holds no audio"),
    ],
    ids=["not-audio", "rate", "channels", "empty"],
)
def test_what_cannot_be_transcribed_is_refused_with_the_reason(
    tmp_path: Path, data: bytes, match: str
) -> None:
    with pytest.raises(AudioRejected, match=match):
        transcribe_file(_file(tmp_path, data))


def test_a_track_longer_than_the_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    path = _file(tmp_path, encode(np.zeros(3 * 8_000, np.float32), 8_000))
    with pytest.raises(AudioRejected, match="3 s long; tracks up to 1 s"):
        audio.decode_mono(path, 22_050, max_duration_s=1.0)


def test_a_damaged_track_is_refused_where_it_stops_decoding(tmp_path: Path) -> None:
    """A FLAC file cut short after its header: the header promises 3 s, the frames are garbage."""
    data = bytearray(encode(melody([(0.0, 3.0, [60])], 16_000, 3.0), 16_000, "FLAC"))
    data[400:] = bytes(len(data) - 400)
    with pytest.raises(AudioRejected, match=r"stops decoding after 0\.0 s; the file is damaged"):
        transcribe_file(_file(tmp_path, bytes(data)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("mono", [True, False], ids=["transcriber", "analyzer"])
def test_a_float_track_with_samples_that_are_not_numbers_is_refused(tmp_path: Path, bad, mono) -> None:
    """The upload check refuses such a file, but songs and older uploads reach the decoder too."""
    samples = melody([(0.0, 1.0, [69])], 16_000, 1.0)
    samples[8_000:8_010] = bad
    path = _file(tmp_path, encode(samples, 16_000, subtype="FLOAT"))
    with pytest.raises(AudioRejected, match=r"not numbers \(NaN or infinite\) after 0\.0 s"):
        audio.decode(path, 48_000, mono=mono)


def test_decoding_mixes_to_mono_at_the_model_rate(tmp_path: Path) -> None:
    path = _file(tmp_path, encode(melody([(0.0, 1.0, [69])], 48_000, 1.0), 48_000, channels=2))
    samples = audio.decode_mono(path, 22_050)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(22_050, abs=2)
    reference, _ = sf.read(path, dtype="float32")
    assert np.abs(samples).max() == pytest.approx(np.abs(reference.mean(axis=1)).max(), rel=0.05)


def test_the_limits_are_the_upload_checks() -> None:
    assert (audio.MIN_SAMPLE_RATE, audio.MAX_SAMPLE_RATE, audio.MAX_CHANNELS) == (
        check.MIN_SAMPLE_RATE,
        check.MAX_SAMPLE_RATE,
        check.MAX_CHANNELS,
    )
    # The longest upload by default, and what the deployed function is given (MAX_DURATION_S).
    assert audio.MAX_DURATION_S == ServiceConfig().upload_max_duration_s == TRANSCRIBER_MAX_DURATION_S == 600
    assert model_rate() == 22_050
