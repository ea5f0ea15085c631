"""Build-time check and warm-up of the image (Dockerfile): transcribe a synthesized C major arpeggio
and measure a synthesized clip (the upload analyzer's measurements, song_model.analysis).

Proves the pinned set imports and runs (ONNX Runtime, librosa, numba, pyloudnorm, soxr) and
compiles numba's kernels into NUMBA_CACHE_DIR, which the image keeps for its cold starts
(numba_cache.py). Fails the build if the notes do not come back.
"""

from __future__ import annotations

import numpy as np

from .transcribe import model_rate, transcribe

ARPEGGIO = (60, 64, 67, 72)  # C4 E4 G4 C5


def tone_sequence(pitches: tuple[int, ...], rate: int, note_s: float = 0.5) -> np.ndarray:
    """Sine tones, one after another, with 10 ms attacks and 50 ms releases."""
    t = np.arange(round(note_s * rate)) / rate
    envelope = np.minimum(1.0, np.minimum(t / 0.01, (note_s - t) / 0.05))
    notes = [0.4 * envelope * np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t) for p in pitches]
    return np.concatenate(notes).astype(np.float32)


def main() -> None:
    result = transcribe(tone_sequence(ARPEGGIO, model_rate()))
    found = tuple(note.pitch for note in result.notes)
    if found != ARPEGGIO:
        raise SystemExit(f"warm-up transcription found {found}, expected {ARPEGGIO}")
    print(f"warm-up: {len(result.notes)} notes, {len(result.midi)} bytes of MIDI")
    from song_model import analysis

    analysis.warm_up()
    print("warm-up: analysis measured")


if __name__ == "__main__":
    main()
