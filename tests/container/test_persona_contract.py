"""The API's side of personas meets the container's: the same limits, and a clip the API cuts
(lambdas/api/services/reference_clip.py) is one the container reads, checks and decodes whole."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import BUCKET
from song_model import persona
from song_model.models import Models
from song_model.schemas import PERSONA_STYLE_MAX, Persona

from lambdas.api.services import reference_clip
from lambdas.common import personas as api_personas
from lambdas.common.models import JobPersona


def test_the_limits_are_the_containers() -> None:
    """A clip the API accepts must not be refused by the container (or a paid song would fail)."""
    assert api_personas.REFERENCE_WINDOW_S == persona.REFERENCE_WINDOW_S
    assert api_personas.MIN_REFERENCE_S == persona.MIN_REFERENCE_S
    assert api_personas.SILENT_PEAK == persona.SILENT_PEAK
    assert api_personas.MAX_STYLE_CHARS == PERSONA_STYLE_MAX


@pytest.mark.parametrize(("rate", "subtype"), [(192_000, "FLOAT"), (44_100, "PCM_24")])
def test_the_largest_clip_the_api_writes_fits_the_containers_byte_limit(
    tmp_path: Path, rate: int, subtype: str
) -> None:
    source = tmp_path / "source.wav"
    t = np.arange(40 * rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(source, np.stack([tone, tone], axis=1), rate, subtype=subtype)
    clip = reference_clip.cut(source, 5.0)
    assert clip.duration_s == 30.0 and clip.sample_rate == rate
    assert len(clip.wav) <= persona.MAX_REFERENCE_BYTES


def test_a_clip_the_api_cut_is_what_the_container_hears(tiny_models: Models, s3: Any, tmp_path: Path) -> None:
    rate = 44_100
    t = np.arange(12 * rate) / rate
    voice = 0.3 * np.sin(2 * np.pi * 196 * t + 0.8 * np.sin(2 * np.pi * 5 * t))
    source = tmp_path / "voice.mp3"
    sf.write(source, np.stack([voice, 0.9 * voice], axis=1).astype(np.float32), rate, format="MP3")
    clip = reference_clip.cut(source, 2.0)
    key = "personas/alice/5f0c8d1e-0000-4000-8000-000000000000/reference.wav"
    s3.put_object(Bucket=BUCKET, Key=key, Body=clip.wav)
    sent = JobPersona(persona_id="p", bucket=BUCKET, key=key, sha256=clip.sha256, style="warm alto")
    loaded = persona.load(Persona.model_validate(sent.container_request()), tiny_models.engine)
    assert loaded.applied.sha256 == clip.sha256
    assert loaded.applied.reference_s == pytest.approx(clip.duration_s, abs=0.01)
    assert loaded.reference.samples.shape[1] == 2
    decoded, _ = sf.read(io.BytesIO(clip.wav), always_2d=True)
    assert decoded.shape[0] == round(clip.duration_s * rate)
