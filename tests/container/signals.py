"""Synthesised test audio with known answers (tempo, key, level) for the measurement tests."""

from __future__ import annotations

import numpy as np

RATE = 48_000


def seconds(duration_s: float, rate: int = RATE) -> np.ndarray:
    return np.arange(round(duration_s * rate)) / rate


def click_track(bpm: float, duration_s: float, rate: int = RATE) -> np.ndarray:
    """A 1 kHz click (10 ms, fast decay) on every beat, mono, peak 0.5."""
    audio = np.zeros(round(duration_s * rate))
    n = np.arange(round(0.01 * rate))
    click = np.sin(2 * np.pi * 1000 * n / rate) * np.exp(-n / (0.002 * rate))
    for beat in np.arange(0, duration_s, 60.0 / bpm):
        start = round(beat * rate)
        end = min(len(audio), start + len(click))
        audio[start:end] += click[: end - start]
    return 0.5 * audio


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def chord(notes: list[int], duration_s: float, rate: int = RATE) -> np.ndarray:
    """A plucked chord: four harmonics per note (1/h amplitude), 20 ms attack, slow decay."""
    t = seconds(duration_s, rate)
    tones = sum(np.sin(2 * np.pi * midi_hz(n) * h * t) / h for n in notes for h in (1, 2, 3, 4))
    return tones * np.minimum(1.0, t / 0.02) * np.exp(-0.8 * t)


def progression(chords: list[list[int]], repeats: int = 2, chord_s: float = 2.0) -> np.ndarray:
    return 0.1 * np.concatenate([chord(notes, chord_s) for notes in chords * repeats])


# Voicings (MIDI notes) with the bass note under each chord.
A_MINOR = [45, 57, 60, 64]
D_MINOR = [50, 57, 62, 65]
E_MAJOR = [40, 56, 59, 64]  # the G# of the dominant is what makes it A minor, not C major
C_MAJOR = [48, 60, 64, 67]
F_MAJOR = [41, 60, 65, 69]
G_MAJOR = [43, 59, 62, 67]


def stereo(mono: np.ndarray) -> np.ndarray:
    return np.stack([mono, mono], axis=1).astype(np.float32)


def drums_and_pad(duration_s: float = 20.0, rate: int = RATE) -> np.ndarray:
    """Peaky material: a quiet sustained pad under loud, short kick drums (crest factor ~25 dB),
    the kind that needs limiting to reach -14 LUFS under a -1 dBTP ceiling."""
    t = seconds(duration_s, rate)
    pad = 0.05 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    n = np.arange(round(0.05 * rate))
    kick = 0.9 * np.sin(2 * np.pi * 60 * n / rate * (1 + 3 * np.exp(-n / 400))) * np.exp(-n / (0.015 * rate))
    drums = np.zeros_like(t)
    for start in range(0, len(t) - len(n), rate // 2):
        drums[start : start + len(n)] += kick
    return np.stack([pad + drums, pad + 0.8 * drums], axis=1).astype(np.float32)
