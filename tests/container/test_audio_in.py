"""Audio-in modes in the container with the real AceStepPipeline (tiny random weights, turbo and base):
the source is read from S3, decoded, resampled; cover / repaint / extend / stems render and upload."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import BUCKET
from song_model import source_audio
from song_model.audio_in import _splice
from song_model.engines import Audio, AudioInput, MusicJob
from song_model.errors import SourceMissing, ValidationFailed
from song_model.models import Models
from song_model.pipeline import SongPipeline
from song_model.schemas import parse_request

RATE = 48_000
SOURCE_S = 3.0


def _put_source(s3: Any, rate: int = RATE, channels: int = 2, fmt: str = "WAV") -> dict[str, Any]:
    t = np.arange(int(SOURCE_S * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    samples = np.stack([tone, tone * 0.5][:channels], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype="PCM_16" if fmt == "WAV" else None)
    s3.put_object(Bucket=BUCKET, Key="uploads/alice/src", Body=buffer.getvalue())
    return {"bucket": BUCKET, "key": "uploads/alice/src", "duration_s": SOURCE_S}


def _request(mode: str, source: dict[str, Any], **fields: Any) -> Any:
    body = {
        "job_id": "job-a",
        "mode": mode,
        "duration_s": SOURCE_S,
        "seed": 7,
        "inference_steps": 2,
        "formats": ["wav"],
        "source": source,
        "output": {"bucket": BUCKET, "prefix": "scratch/job-a/"},
        **fields,
    }
    return parse_request(body)


def _decoded(s3: Any, key: str) -> np.ndarray:
    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert rate == RATE
    return samples


def test_cover_renders_the_source_length(tiny_models: Models, s3: Any) -> None:
    request = _request("cover", _put_source(s3), prompt="jazz, piano trio", strength=0.7)
    manifest = SongPipeline(tiny_models).run(request)
    (audio,) = manifest.audio
    assert audio.key == "scratch/job-a/audio.wav" and audio.track is None
    assert _decoded(s3, audio.key).shape == (round(SOURCE_S * RATE), 2)
    assert manifest.duration_s == SOURCE_S and manifest.engine == "acestep"
    assert manifest.cover is not None and 3 <= len(manifest.categories) <= 5


def _cover_job(seconds: float, seed: int) -> MusicJob:
    t = np.arange(round(seconds * RATE)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    source = Audio(np.stack([tone, tone], axis=1), RATE)
    return MusicJob("jazz", None, seconds, seed=seed, steps=1, audio_input=AudioInput("cover", source=source))


def test_a_seed_reproduces_a_cover_whatever_the_global_rng(tiny_models: Models) -> None:
    """The VAE encode of the source samples from torch's global RNG: the engine seeds it per
    request (and gives the caller's state back)."""
    job = _cover_job(1.0, seed=11)
    first = tiny_models.engine.generate(job).samples
    torch.rand(1000)  # another request, another library: the global RNG moves on
    state = torch.random.get_rng_state()
    second = tiny_models.engine.generate(job).samples
    assert np.array_equal(first, second)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_a_source_that_ends_mid_latent_step_gives_no_silent_tail(tiny_models: Models) -> None:
    """2.039 s is 97872 samples, 50.98 latent steps of 1920: the source is padded to 51 steps and the
    output cut back, rather than decoded from 50 steps and zero-filled for the last 1872 samples."""
    job = _cover_job(2.039, seed=3)
    samples = tiny_models.engine.generate(job).samples
    assert samples.shape == (97872, 2)
    silent = (samples == 0).all(axis=1)
    trailing_zeros = len(silent) - np.flatnonzero(~silent)[-1] - 1
    assert trailing_zeros == 0


def test_repaint_changes_only_the_window(tiny_models: Models, s3: Any) -> None:
    source = _put_source(s3)
    original = _decoded(s3, source["key"])
    # Mastering off (the default masters the whole take, outside the window too: docs/container.md).
    request = _request("repaint", source, start_s=1.0, end_s=2.0, prompt="drum fill", mastering=None)
    manifest = SongPipeline(tiny_models).run(request)
    out = _decoded(s3, manifest.audio[0].key)
    # Outside: the source's own samples, up to one 16-bit step of requantisation.
    assert np.abs(out[:RATE] - original[:RATE]).max() <= 1 / 32767 + 1e-7
    assert np.abs(out[2 * RATE :] - original[2 * RATE :]).max() <= 1 / 32767 + 1e-7
    assert np.abs(out[RATE + 2000 : 2 * RATE - 2000] - original[RATE + 2000 : 2 * RATE - 2000]).max() > 0.01


def test_repaint_variants_keep_the_source_outside_the_window_in_every_take(
    tiny_models: Models, s3: Any
) -> None:
    source = _put_source(s3)
    original = _decoded(s3, source["key"])
    request = _request("repaint", source, start_s=1.0, end_s=2.0, variants=2, mastering=None)
    manifest = SongPipeline(tiny_models).run(request)
    assert manifest.seeds == [7, 8] and [a.take for a in manifest.audio] == [1, 2]
    first, second = (_decoded(s3, a.key) for a in manifest.audio)
    for take in (first, second):
        assert np.abs(take[:RATE] - original[:RATE]).max() <= 1 / 32767 + 1e-7
    assert not np.array_equal(first[RATE : 2 * RATE], second[RATE : 2 * RATE])


def test_stems_take_no_variants() -> None:
    with pytest.raises(ValueError, match="variants must be 1 for stems"):
        _request("stems", {"bucket": BUCKET, "key": "k", "duration_s": 3.0}, tracks=["bass"], variants=2)


def test_extend_is_a_repaint_of_a_longer_canvas(tiny_models: Models, s3: Any) -> None:
    source = _put_source(s3)
    original = _decoded(s3, source["key"])
    request = _request("extend", source, add_s=2.0, duration_s=SOURCE_S + 2.0, prompt="outro", mastering=None)
    manifest = SongPipeline(tiny_models).run(request)
    out = _decoded(s3, manifest.audio[0].key)
    assert out.shape == (round((SOURCE_S + 2.0) * RATE), 2) and manifest.duration_s == SOURCE_S + 2.0
    assert np.abs(out[: original.shape[0]] - original).max() <= 1 / 32767 + 1e-7
    assert np.abs(out[original.shape[0] + 2000 :]).max() > 0.0


def test_stems_extract_one_file_per_track_with_the_base_checkpoint(tiny_models: Models, s3: Any) -> None:
    assert tiny_models.stems_engine is not None and not tiny_models.stems_engine.turbo
    request = _request(
        "stems", _put_source(s3, rate=44_100, channels=1, fmt="FLAC"), tracks=["vocals", "bass"]
    )
    manifest = SongPipeline(tiny_models).run(request)
    assert [(a.track, a.key) for a in manifest.audio] == [
        ("vocals", "scratch/job-a/stem-vocals.wav"),
        ("bass", "scratch/job-a/stem-bass.wav"),
    ]
    for audio in manifest.audio:
        assert _decoded(s3, audio.key).shape == (round(SOURCE_S * RATE), 2)


def test_the_stems_checkpoint_is_on_the_device_for_the_extraction_only(
    tiny_models: Models, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offloaded by default: the base checkpoint comes in for the stems and leaves before the cover;
    the LLM (categories) has left before it comes (docs/container.md, "GPU memory")."""
    residency = tiny_models.residency
    stems = tiny_models.stems_engine
    assert stems is not None
    seen: list[tuple[str, str]] = []

    def extract(job: MusicJob) -> Audio:
        seen.append((residency.where("llm"), residency.where("stems")))
        # Turbo's VAE and text encoder serve the base checkpoint too: only its own parts move.
        assert stems.pipeline.vae is tiny_models.engine.pipeline.vae
        return real(job)

    real = stems.generate
    monkeypatch.setattr(stems, "generate", extract)
    residency.moves.clear()
    request = _request("stems", _put_source(s3), tracks=["vocals", "drums"])
    SongPipeline(tiny_models).run(request)
    assert seen == [("host", "device"), ("host", "device")]
    assert residency.moves == [("llm", "device"), ("llm", "host"), ("stems", "device"), ("stems", "host")]


def test_stems_switched_off_are_refused_before_any_work(tiny_models: Models, s3: Any) -> None:
    from dataclasses import replace

    without = replace(tiny_models, stems_engine=None)
    request = _request("stems", {"bucket": BUCKET, "key": "never/read", "duration_s": 3.0}, tracks=["vocals"])
    with pytest.raises(ValidationFailed, match="stems are switched off"):
        SongPipeline(without).run(request)


def test_audio_in_needs_the_acestep_engine(tiny_models: Models, tiny_musicgen: Any, s3: Any) -> None:
    from dataclasses import replace

    request = _request("cover", _put_source(s3), prompt="ska")
    with pytest.raises(ValidationFailed, match="musicgen"):
        SongPipeline(replace(tiny_models, engine=tiny_musicgen)).run(request)


def test_a_deleted_source_fails_the_job_with_a_clear_reason(tiny_models: Models, s3: Any) -> None:
    request = _request("cover", {"bucket": BUCKET, "key": "uploads/gone", "duration_s": 3.0}, prompt="ska")
    with pytest.raises(SourceMissing, match="no longer exists"):
        SongPipeline(tiny_models).run(request)


def test_repaint_window_must_be_inside_the_canvas() -> None:
    from pydantic import ValidationError

    source = {"bucket": BUCKET, "key": "k", "duration_s": 3.0}
    with pytest.raises(ValidationError):
        _request("repaint", source, start_s=2.0, end_s=5.0)


def test_repaint_splice_crossfades_each_edge_over_a_short_fade() -> None:
    """The renderer's splice (source 0, generated 1, window 1..2 s): the source outside, the
    generated audio inside, and between them a crossfade just inside each edge, under 0.1 s."""
    canvas = torch.zeros(2, 3 * RATE)
    generated = Audio(np.ones((3 * RATE, 2), dtype=np.float32), RATE)
    out = _splice(generated, canvas, start_s=1.0, end_s=2.0).samples[:, 0]
    fading = np.flatnonzero((out > 0) & (out < 1))
    fade = round(source_audio.SPLICE_FADE_S * RATE)
    assert 0 < fade < RATE / 10
    expected = np.r_[RATE : RATE + fade, 2 * RATE - fade : 2 * RATE]
    assert np.array_equal(fading, expected)
    assert (out[:RATE] == 0).all() and (out[2 * RATE :] == 0).all()
    assert (out[RATE + fade : 2 * RATE - fade] == 1).all()
    assert (np.diff(out[RATE : RATE + fade]) > 0).all()  # fading in
    assert (np.diff(out[2 * RATE - fade : 2 * RATE]) < 0).all()  # fading out


# A cover of a 590 s source through the tiny profile's engine, in a child process whose address
# space is capped (an untiled VAE took ~36 MB per second of canvas: about 21 GB here, which fails
# the child with MemoryError instead of taking this machine's memory). Prints the seconds it took.
_LONG_COVER = """
import json, resource, time
import numpy as np, torch
from song_model import tiny
from song_model.engines import AceStepEngine, Audio, AudioInput, MusicJob

def vm(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1]) * 1024

engine = AceStepEngine(tiny.build_acestep(), torch.device("cpu"))
cap = vm("VmSize:") + 6 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
seconds = 590.0
rng = np.random.default_rng(1)
source = Audio((rng.random((int(seconds * 48_000), 2), dtype=np.float32) - 0.5) * 0.2, 48_000)
job = MusicJob("lofi", None, seconds, 1, steps=1, audio_input=AudioInput("cover", source=source))
started = time.perf_counter()
try:
    (take,) = engine.generate_takes(job, [1])
    result = {"frames": take.samples.shape[0], "error": None}
except (MemoryError, RuntimeError) as exc:
    result = {"frames": 0, "error": f"{type(exc).__name__}: {exc}"[:300]}
result["seconds"] = round(time.perf_counter() - started, 1)
print(json.dumps(result))
"""


@pytest.mark.slow
def test_a_cover_of_a_near_600_s_source_renders_in_the_tiny_profile() -> None:
    """Every audio-in mode renders locally at any length the API accepts: the engine encodes and
    decodes in VAE tiles whatever the weights (it did so only with real weights, and a cover
    of ~600 s asked the tiny VAE for ~21 GB)."""
    from conftest import run_script

    measured = run_script(_LONG_COVER, timeout_s=580)
    print(f"590 s cover in the tiny profile: {measured['seconds']} s")
    assert measured["error"] is None, measured["error"]
    assert measured["frames"] == 590 * 48_000
