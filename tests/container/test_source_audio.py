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


def test_mono_is_duplicated_and_48k_stereo_is_untouched() -> None:
    mono = np.arange(10, dtype=np.float32)[:, None]
    assert np.array_equal(source_audio.to_stereo(mono), np.hstack([mono, mono]))
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


def test_streamed_preparation_matches_one_resampling_of_the_whole_track() -> None:
    data = _encoded("WAV", 3.0, 44_100, 2, freq=1000.0)
    samples, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    whole = source_audio.resample(torch.from_numpy(samples.T.copy()), 44_100)
    streamed = source_audio.prepare(data, canvas_s=3.0)
    assert streamed.shape == whole.shape == (2, 144_000)
    assert float((streamed - whole).abs().max()) < 1e-3  # same timing: no block seams, no delay


@pytest.mark.parametrize(
    ("rate", "channels", "message"),
    [(7_999, 1, "7999 Hz"), (192_001, 1, "192001 Hz"), (48_000, 3, "3 channels")],
)
def test_a_source_outside_the_limits_is_refused_before_decoding(rate, channels, message) -> None:
    with pytest.raises(ValidationFailed, match=message):
        source_audio.prepare(_encoded("WAV", 0.1, rate, channels), canvas_s=1.0)


def test_the_limits_are_the_upload_checks() -> None:
    """The upload check accepts exactly what this module prepares: a source outside the limits
    would pass the check and then fail a job on the GPU."""
    from lambdas.upload_check import check

    assert (check.MIN_SAMPLE_RATE, check.MAX_SAMPLE_RATE, check.MAX_CHANNELS) == (
        source_audio.MIN_SOURCE_RATE,
        source_audio.MAX_SOURCE_RATE,
        source_audio.MAX_SOURCE_CHANNELS,
    )


# Peak memory of one preparation, measured in a child process (ru_maxrss is per process; the
# source is read from a file, so nothing before the measurement raises the peak). The child's
# address space is capped a few GB above what it holds, so an implementation that asks for tens of
# GB fails there with MemoryError instead of taking this machine's memory.
_MEASURE = """
import gc, json, resource, sys
from song_model import source_audio

def vm(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1]) * 1024

cap = vm("VmSize:") + 3 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
data = open(sys.argv[1], "rb").read()
canvas_s = float(sys.argv[2])
growth, error = None, None
try:
    source_audio.prepare(data[:100_000], canvas_s=0.5)  # warm up: libraries, thread pools
    gc.collect()
    before = max(vm("VmRSS:"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    source_audio.prepare(data, canvas_s=canvas_s)
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
except (MemoryError, RuntimeError) as exc:
    error = f"{type(exc).__name__}: {exc}"[:200]
print(json.dumps({"growth": growth, "error": error}))
"""


def _write_tone(path, rate: int, seconds: float) -> None:
    """A stereo 16-bit WAV written a second at a time (the test process's memory stays small)."""
    with sf.SoundFile(path, "w", samplerate=rate, channels=2, format="WAV", subtype="PCM_16") as out:
        for second in range(int(seconds)):
            t = np.arange(second * rate, (second + 1) * rate) / rate
            tone = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            out.write(np.stack([tone, tone], axis=1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rate", "seconds"),
    [(22_051, 1), (47_999, 1), (47_999, 600), (192_000, 120), (8_000, 600)],
)
def test_resampling_memory_stays_bounded_at_the_worst_rates(tmp_path, rate, seconds) -> None:
    """Rates that share no factor with 48,000 made the old polyphase kernel 48000 x (rate + 34)
    float64 values (8.5 GB at 22,051 Hz, 18.4 GB at 47,999 Hz). Now the growth is the canvas
    (600 s of 48 kHz stereo float32, 220 MiB) plus a bounded working set, whatever the rate and
    however long the source."""
    from conftest import run_script

    path = tmp_path / "source.wav"
    _write_tone(path, rate, seconds)
    canvas_s = 600.0
    measured = run_script(_MEASURE, str(path), str(canvas_s), timeout_s=300)
    assert measured["error"] is None, measured["error"]
    bound = int(canvas_s * 48_000) * 2 * 4 + 64 * 2**20
    assert measured["growth"] < bound, f"{measured['growth'] / 2**20:.0f} MiB > {bound / 2**20:.0f} MiB"
