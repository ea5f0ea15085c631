"""Container settings, read once from environment variables and validated at start-up.

A bad value stops the server before any model loads, with a message naming the variable, so a
misconfigured endpoint fails its health check instead of serving wrong results.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("full", "tiny")
ENGINES = ("acestep", "musicgen")
DTYPES = ("auto", "float32", "float16", "bfloat16")

DEFAULT_LLM = "Qwen/Qwen2-7B-Instruct"
# ACE-Step 1.5 XL turbo, the official diffusers-format conversion (MIT): 8 steps, no guidance.
# The base checkpoint for the tasks turbo lacks (extract, lego, complete): ACESTEP_BASE.
DEFAULT_ACESTEP = "ACE-Step/acestep-v15-xl-turbo-diffusers"
ACESTEP_BASE = "ACE-Step/acestep-v15-xl-base-diffusers"
DEFAULT_MUSICGEN = "facebook/musicgen-medium"
DEFAULT_IMAGE = "stabilityai/sdxl-turbo"


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


@dataclass(frozen=True)
class Settings:
    profile: str = "full"
    engine: str = "acestep"
    llm_model_id: str = DEFAULT_LLM
    music_model_id: str = DEFAULT_ACESTEP
    musicgen_model_id: str = DEFAULT_MUSICGEN
    image_model_id: str = DEFAULT_IMAGE
    # Under model_dir (where SageMaker puts the model data) each model has a folder named after
    # its part: llm/, acestep/ (a diffusers AceStepPipeline folder), musicgen/, image/.
    # song_model.stage_weights writes that layout.
    model_dir: Path = Path("/opt/ml/model")
    device: str = "auto"
    dtype: str = "auto"
    cover_size: int = 512
    cover_steps: int = 2
    max_body_bytes: int = 1_000_000
    # Stems (ACE-Step `extract`) need the base checkpoint beside turbo: its DiT and condition
    # encoder (the VAE and text encoder are shared). Off where GPU memory is short.
    stems: bool = True
    music_base_model_id: str = ACESTEP_BASE

    @property
    def tiny(self) -> bool:
        return self.profile == "tiny"


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside {low}..{high}")
    return value


def _device(env: Mapping[str, str]) -> str:
    value = env.get("DEVICE", "").strip().lower() or "auto"
    if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise SettingsError(f"DEVICE={value!r} must be auto, cpu, cuda or cuda:N")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raises SettingsError on the first bad value."""
    env = os.environ if env is None else env
    profile = _choice(env, "MODEL_PROFILE", PROFILES, "full")
    engine = _choice(env, "MUSIC_ENGINE", ENGINES, "acestep")
    # sdxl-turbo is trained at 512x512; the tiny profile keeps images small so tests stay fast.
    cover_size = _int(env, "COVER_SIZE", 64 if profile == "tiny" else 512, 64, 1024)
    if cover_size % 8:
        # SDXL's VAE downsamples by 8; other sizes are rejected by the pipeline mid-request.
        raise SettingsError(f"COVER_SIZE={cover_size} must be a multiple of 8")
    return Settings(
        profile=profile,
        engine=engine,
        llm_model_id=env.get("LLM_MODEL_ID", "").strip() or DEFAULT_LLM,
        music_model_id=env.get("MUSIC_MODEL_ID", "").strip() or DEFAULT_ACESTEP,
        musicgen_model_id=env.get("MUSICGEN_MODEL_ID", "").strip() or DEFAULT_MUSICGEN,
        image_model_id=env.get("IMAGE_MODEL_ID", "").strip() or DEFAULT_IMAGE,
        model_dir=Path(env.get("MODEL_DIR", "").strip() or "/opt/ml/model"),
        device=_device(env),
        dtype=_choice(env, "DTYPE", DTYPES, "auto"),
        cover_size=cover_size,
        cover_steps=_int(env, "COVER_STEPS", 2, 1, 50),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1_000_000, 1_000, 100_000_000),
        stems=_choice(env, "STEMS_ENABLED", ("true", "false"), "true") == "true",
        music_base_model_id=env.get("MUSIC_BASE_MODEL_ID", "").strip() or ACESTEP_BASE,
    )
