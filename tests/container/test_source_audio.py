"""Source tracks for the audio-in modes: decode, stereo, resample to 48 kHz, canvas, splice."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch
from song_model import source_audio
from song_model.errors import ValidationFailed


def _encoded(fmt: str, seconds: float, rate: int, channels: int, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone] * channels, axis=1), rate, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
def test_prepare_makes_48k_stereo_of_the_canvas_length(fmt) -> None:
    audio = source_audio.prepare(_encoded(fmt, 1.0, 44_100, 1), canvas_s=1.5)
    assert audio.shape == (2, 72_000) and audio.dtype == torch.float32
    assert torch.equal(audio[0], audio[1])  # mono duplicated
    assert float(audio[:, 60_000:].abs().max()) == 0.0  # padded past the source's end
    assert 0.3 < float(audio[:, 1000:40_000].abs().max()) < 0.5


def test_resampling_keeps_the_tone_and_gives_the_exact_length() -> None:
    rate = 44_100
    t = torch.arange(rate * 2, dtype=torch.float32) / rate
    x = torch.stack([0.5 * torch.sin(2 * torch.pi * 440 * t), 0.3 * torch.sin(2 * torch.pi * 3000 * t)])
    y = source_audio.resample(x, rate, 48_000)
    assert y.shape == (2, 96_000)
    tt = torch.arange(96_000, dtype=torch.float32) / 48_000
    expected = torch.stack(
        [0.5 * torch.sin(2 * torch.pi * 440 * tt), 0.3 * torch.sin(2 * torch.pi * 3000 * tt)]
    )
    # Within -50 dBFS away from the edges (the filter sees zeros beyond them).
    assert float((y - expected)[:, 2000:-2000].abs().max()) < 3e-3


def test_resampling_removes_what_the_lower_rate_cannot_hold() -> None:
    rate = 48_000
    t = torch.arange(rate, dtype=torch.float32) / rate
    above_nyquist = 0.5 * torch.sin(2 * torch.pi * 15_000 * t)[None]  # over 11.025 kHz
    y = source_audio.resample(above_nyquist, rate, 22_050)
    assert float(y[:, 500:-500].abs().max()) < 0.01  # filtered, not aliased


def test_more_than_two_channels_fold_down_and_48k_stereo_is_untouched() -> None:
    surround = np.tile(np.arange(6, dtype=np.float32), (10, 1))
    folded = source_audio.to_stereo(surround)
    assert folded.shape == (2, 10) and folded[0, 0] == 2.0 and folded[1, 0] == 3.0
    x = torch.randn(2, 480)
    assert source_audio.resample(x, 48_000) is x


def test_not_audio_is_a_clear_validation_error() -> None:
    with pytest.raises(ValidationFailed, match="could not be decoded"):
        source_audio.prepare(b"text, not a track" * 20, canvas_s=1.0)


def test_splice_keeps_the_outside_bit_for_bit_and_fades_inside() -> None:
    source, generated = torch.rand(2, 1000), torch.rand(2, 1000) + 2.0
    out = source_audio.splice(generated, source, start=300, end=700, fade=50)
    assert torch.equal(out[:, :300], source[:, :300]) and torch.equal(out[:, 700:], source[:, 700:])
    assert torch.equal(out[:, 350:650], generated[:, 350:650])
    # Inside the fades: between the two signals, moving from one to the other.
    assert bool(((out[:, 300:350] >= source[:, 300:350]) & (out[:, 300:350] <= generated[:, 300:350])).all())
    # A window that runs to the end (extend) has no right edge.
    tail = source_audio.splice(generated, source, start=600, end=1000, fade=50)
    assert torch.equal(tail[:, 650:], generated[:, 650:])
