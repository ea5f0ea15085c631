"""Audio to MIDI with Spotify's basic-pitch (Apache-2.0), on ONNX Runtime.

basic-pitch ships its model in its wheel (`saved_models/icassp_2022/nmp.onnx`, 230 KB): nothing is
downloaded. Its package metadata pins TensorFlow, which has no wheel for Python 3.12, so it is
installed with `--no-deps` beside ONNX Runtime and its other dependencies (requirements.txt and
requirements-no-deps.txt beside the Dockerfile; the Makefile does the same for the tests).

The model is polyphonic and pitch-only: one MIDI track of notes (with pitch bends) per input,
drums and noise included as whatever pitches they suggest; audio without pitched content gives a
MIDI file with an empty track, not an error.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import soundfile as sf

from . import audio

# basic-pitch's note segmentation settings: its own defaults (the ones its paper evaluated).
_ONSET_THRESHOLD = 0.5
_FRAME_THRESHOLD = 0.3
_MIN_NOTE_MS = 127.70
DEFAULT_TEMPO_BPM = 120.0  # basic-pitch's default; note times are in seconds whatever the tempo


@dataclass(frozen=True)
class Note:
    start_s: float
    end_s: float
    pitch: int  # MIDI note number (60 = C4)
    velocity: int


@dataclass(frozen=True)
class Transcription:
    midi: bytes  # a standard MIDI file (format 1)
    notes: list[Note]
    duration_s: float  # of the audio transcribed


def _quietly_import() -> Any:
    """basic_pitch.inference, imported with its start-up warnings silenced: its __init__ warns
    through the root logger for each backend it lacks (TensorFlow, CoreML, TFLite), and ONNX alone
    is what this package means to use."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        import basic_pitch.inference
    finally:
        logging.disable(previous)
    return basic_pitch.inference


@functools.cache
def _model() -> Any:
    """The ONNX model, loaded once per process (a warm Lambda environment reuses it)."""
    import basic_pitch

    inference = _quietly_import()
    return inference.Model(basic_pitch.build_icassp_2022_model_path(basic_pitch.FilenameSuffix.onnx))


def model_rate() -> int:
    """The sample rate basic-pitch works at (22,050 Hz)."""
    _quietly_import()
    from basic_pitch.constants import AUDIO_SAMPLE_RATE

    return int(AUDIO_SAMPLE_RATE)


def transcribe_file(
    path: Path,
    track: str | None = None,
    tempo_bpm: float = DEFAULT_TEMPO_BPM,
    max_duration_s: float = audio.MAX_DURATION_S,
) -> Transcription:
    """One audio file -> one MIDI file (or audio.AudioRejected)."""
    return transcribe(audio.decode_mono(path, model_rate(), max_duration_s), track, tempo_bpm)


def transcribe(
    samples: np.ndarray, track: str | None = None, tempo_bpm: float = DEFAULT_TEMPO_BPM
) -> Transcription:
    """Mono float32 samples at model_rate() -> MIDI. The MIDI track is named after `track`."""
    rate = model_rate()
    inference = _quietly_import()
    with tempfile.TemporaryDirectory() as folder:
        # predict() takes a path: the decoded audio goes there at the model's rate, so basic-pitch's
        # own loader (librosa) reads it as is, with no second resampling.
        path = Path(folder) / "input.wav"
        sf.write(path, samples, rate, subtype="FLOAT")
        # It prints a line per file to stdout; silence and all-zero activations divide 0 by 0 in its
        # onset inference (harmless: no notes come of it).
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(divide="ignore", invalid="ignore"):
            _, midi, events = inference.predict(
                path,
                _model(),
                onset_threshold=_ONSET_THRESHOLD,
                frame_threshold=_FRAME_THRESHOLD,
                minimum_note_length=_MIN_NOTE_MS,
                midi_tempo=tempo_bpm,
            )
    if not midi.instruments:
        # No notes: still one (empty) track, so a DAW importing the file shows the part.
        midi.instruments.append(pretty_midi.Instrument(program=0))
    for instrument in midi.instruments:
        instrument.name = track or "transcription"
    buffer = io.BytesIO()
    midi.write(buffer)
    notes = [
        Note(round(float(start), 4), round(float(end), 4), int(pitch), int(np.round(127 * amplitude)))
        for start, end, pitch, amplitude, _bends in events
    ]
    notes.sort(key=lambda note: (note.start_s, note.pitch))
    return Transcription(buffer.getvalue(), notes, round(len(samples) / rate, 3))
