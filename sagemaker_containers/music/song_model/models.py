"""Loading the three models for a profile: built in memory (tiny) or from weights (full)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .cover import CoverArtist
from .engines import AceStepEngine, MusicEngine, MusicgenEngine
from .settings import Settings
from .songwriter import Songwriter

log = logging.getLogger(__name__)


@dataclass
class Models:
    songwriter: Songwriter
    engine: MusicEngine
    cover: CoverArtist
    # The base checkpoint for stems (ACE-Step `extract`); None when STEMS_ENABLED=false or the
    # engine is not ACE-Step.
    stems_engine: MusicEngine | None = None


def resolve_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"DEVICE={setting} but no CUDA device is visible")
    return torch.device(setting)


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    if setting == "auto":
        # bf16 halves GPU memory (all three models must stay resident); CPUs run float32.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, setting)


def model_source(settings: Settings, part: str, model_id: str) -> str:
    """MODEL_DIR/<part> if it holds files, else the id (a path or a hub repo id)."""
    local = settings.model_dir / part
    if local.is_dir() and any(local.iterdir()):
        return str(local)
    return model_id


def load_models(settings: Settings) -> Models:
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    log.info(
        "loading models: profile=%s engine=%s device=%s dtype=%s",
        settings.profile,
        settings.engine,
        device,
        dtype,
    )
    started = time.perf_counter()
    models = _load_tiny(settings, device) if settings.tiny else _load_full(settings, device, dtype)
    log.info("models loaded in %.1f s", time.perf_counter() - started)
    if device.type == "cuda":
        log.info("GPU memory allocated after load: %.2f GiB", torch.cuda.memory_allocated(device) / 2**30)
    return models


def _load_tiny(settings: Settings, device: torch.device) -> Models:
    from . import tiny

    if device.type == "cpu":
        # With toy-sized models, oneDNN's per-shape kernel setup costs more than the maths
        # (measured: 2 s of tiny MusicGen audio takes 0.65 s with it, 0.06 s without).
        torch.backends.mkldnn.enabled = False
    llm, llm_tokenizer = tiny.build_llm()
    image = tiny.build_sdxl()
    stems = settings.stems and settings.engine == "acestep"
    return Models(
        songwriter=Songwriter(llm.to(device), llm_tokenizer, device),
        engine=tiny_engine(settings.engine, device),
        cover=CoverArtist(image.to(device), device, settings.cover_size, settings.cover_steps),
        # Both random-weight checkpoint kinds, like turbo + base on the endpoint.
        stems_engine=AceStepEngine(tiny.build_acestep(turbo=False).to(device), device) if stems else None,
    )


def tiny_engine(engine: str, device: torch.device) -> MusicEngine:
    from . import tiny

    if engine == "acestep":
        return AceStepEngine(tiny.build_acestep().to(device), device)
    musicgen, t5_tokenizer = tiny.build_musicgen()
    return MusicgenEngine(musicgen.to(device), t5_tokenizer, device)


def _load_full(settings: Settings, device: torch.device, dtype: torch.dtype) -> Models:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    llm_src = model_source(settings, "llm", settings.llm_model_id)
    llm_tokenizer = AutoTokenizer.from_pretrained(llm_src)
    llm = AutoModelForCausalLM.from_pretrained(llm_src, dtype=dtype).to(device).eval()
    engine = _load_engine(settings, device, dtype)
    return Models(
        songwriter=Songwriter(llm, llm_tokenizer, device),
        engine=engine,
        cover=CoverArtist(
            _load_image(settings, device, dtype), device, settings.cover_size, settings.cover_steps
        ),
        stems_engine=_load_stems_engine(settings, engine, device, dtype),
    )


def _load_stems_engine(
    settings: Settings, engine: MusicEngine, device: torch.device, dtype: torch.dtype
) -> MusicEngine | None:
    """The base checkpoint beside turbo, sharing turbo's VAE and text encoder."""
    if not settings.stems or not isinstance(engine, AceStepEngine):
        return None
    src = model_source(settings, "acestep_base", settings.music_base_model_id)
    return AceStepEngine.from_pretrained(src, device, dtype, share=engine)


def _load_engine(settings: Settings, device: torch.device, dtype: torch.dtype) -> MusicEngine:
    if settings.engine == "acestep":
        src = model_source(settings, "acestep", settings.music_model_id)
        return AceStepEngine.from_pretrained(src, device, dtype)
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    src = model_source(settings, "musicgen", settings.musicgen_model_id)
    model = MusicgenForConditionalGeneration.from_pretrained(src, dtype=dtype).to(device).eval()
    return MusicgenEngine(model, AutoTokenizer.from_pretrained(src), device)


def _load_image(settings: Settings, device: torch.device, dtype: torch.dtype) -> object:
    from diffusers import AutoPipelineForText2Image

    src = model_source(settings, "image", settings.image_model_id)
    variant = None
    if dtype != torch.float32:
        local = Path(src)
        # sdxl-turbo ships fp16 copies of every part; the staging command stores only those.
        has_fp16 = any(local.rglob("*.fp16.safetensors")) if local.is_dir() else True
        variant = "fp16" if has_fp16 else None
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(src, torch_dtype=dtype, variant=variant)
    except (OSError, ValueError):
        if variant is None:
            raise
        log.info("no fp16 variant of %s; loading the full-precision weights", src)
        pipe = AutoPipelineForText2Image.from_pretrained(src, torch_dtype=dtype)
    return pipe.to(device)
