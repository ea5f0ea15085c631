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
# The parts that may live in host memory between requests and move to the GPU only while their
# stage runs (song_model/residency.py); the music engine always stays on the GPU.
OFFLOADABLE = ("llm", "stems", "cover", "scoring")
# The default keeps the LLM and the stems checkpoint off the GPU between their stages: all five
# models resident need ~42 GiB of an L40S's ~44.3 usable, with no room left for a 10-minute song's
# activations (docs/container.md, "GPU memory").
DEFAULT_OFFLOAD = ("llm", "stems")

DEFAULT_LLM = "Qwen/Qwen2-7B-Instruct"
# ACE-Step 1.5 XL turbo, the official diffusers-format conversion (MIT): 8 steps, no guidance.
# The base checkpoint for the tasks turbo lacks (extract, lego, complete): ACESTEP_BASE.
DEFAULT_ACESTEP = "ACE-Step/acestep-v15-xl-turbo-diffusers"
ACESTEP_BASE = "ACE-Step/acestep-v15-xl-base-diffusers"
DEFAULT_MUSICGEN = "facebook/musicgen-medium"
# The scoring models (song_model/scoring.py): CLAP trained on music (Apache 2.0) and Whisper
# large-v3-turbo (MIT).
DEFAULT_CLAP = "laion/larger_clap_music"
DEFAULT_WHISPER = "openai/whisper-large-v3-turbo"


@dataclass(frozen=True)
class CoverRecipe:
    """One cover model: the diffusers SDXL pipeline it loads, an optional UNet that replaces the
    pipeline's (a single safetensors file of a hub repo), its step count and native size."""

    pipeline_id: str
    steps: int
    size: int
    unet_repo: str | None = None
    unet_file: str | None = None


# docs/container.md, "Model licences": the service sells credits, so the default must allow
# commercial use. SDXL-Lightning (ByteDance) is a 4-step distilled UNet for SDXL base 1.0, both under
# CreativeML Open RAIL++-M (commercial use allowed, use restrictions); SDXL-Turbo is under Stability
# AI's non-commercial community licence (commercial use needs a Stability licence).
COVER_MODELS = {
    "sdxl-lightning": CoverRecipe(
        pipeline_id="stabilityai/stable-diffusion-xl-base-1.0",
        steps=4,
        size=1024,
        unet_repo="ByteDance/SDXL-Lightning",
        unet_file="sdxl_lightning_4step_unet.safetensors",
    ),
    "sdxl-turbo": CoverRecipe(pipeline_id="stabilityai/sdxl-turbo", steps=2, size=512),
}
DEFAULT_COVER = "sdxl-lightning"
DEFAULT_IMAGE = COVER_MODELS[DEFAULT_COVER].pipeline_id


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


@dataclass(frozen=True)
class Settings:
    profile: str = "full"
    engine: str = "acestep"
    llm_model_id: str = DEFAULT_LLM
    music_model_id: str = DEFAULT_ACESTEP
    musicgen_model_id: str = DEFAULT_MUSICGEN
    cover_model: str = DEFAULT_COVER
    # The cover pipeline (hub id or folder) and, for Lightning, the repo of its UNet file.
    image_model_id: str = DEFAULT_IMAGE
    cover_unet_id: str | None = COVER_MODELS[DEFAULT_COVER].unet_repo
    # Under model_dir (where SageMaker puts the model data) each model has a folder named after
    # its part: llm/, acestep/ (a diffusers AceStepPipeline folder), musicgen/, image/ (and
    # image_unet/ with Lightning's UNet file).
    # song_model.stage_weights writes that layout.
    model_dir: Path = Path("/opt/ml/model")
    device: str = "auto"
    dtype: str = "auto"
    cover_size: int = 1024
    cover_steps: int = 4
    max_body_bytes: int = 1_000_000
    # Stems (ACE-Step `extract`) need the base checkpoint beside turbo: its DiT and condition
    # encoder (the VAE and text encoder are shared). Off where GPU memory is short.
    stems: bool = True
    music_base_model_id: str = ACESTEP_BASE
    gpu_offload: frozenset[str] = frozenset(DEFAULT_OFFLOAD)
    # The scoring models (CLAP, Whisper): off = no text-audio and lyrics scores, no timed lyrics
    # (mastering, analysis and the tempo/key scores stay). MODEL_DIR/clap/ and whisper/ win.
    scoring: bool = True
    clap_model_id: str = DEFAULT_CLAP
    whisper_model_id: str = DEFAULT_WHISPER
    # CPU threads mastering and analysing takes (None: half the cores, 1..4).
    measure_workers: int | None = None

    @property
    def tiny(self) -> bool:
        return self.profile == "tiny"

    @property
    def cover(self) -> CoverRecipe:
        return COVER_MODELS[self.cover_model]


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


def _offload(env: Mapping[str, str]) -> frozenset[str]:
    raw = env.get("GPU_OFFLOAD")
    if raw is None or not raw.strip():
        return frozenset(DEFAULT_OFFLOAD)
    parts = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if parts == {"none"}:
        return frozenset()
    unknown = sorted(parts - set(OFFLOADABLE))
    if unknown:
        raise SettingsError(
            f"GPU_OFFLOAD={raw!r}: {', '.join(unknown)} cannot be offloaded "
            f"(a comma list of {', '.join(OFFLOADABLE)}, or none)"
        )
    return frozenset(parts)


def _cover(env: Mapping[str, str], profile: str) -> dict[str, object]:
    name = _choice(env, "COVER_MODEL", tuple(COVER_MODELS), DEFAULT_COVER)
    recipe = COVER_MODELS[name]
    # Each distilled model is trained for its size; the tiny profile keeps images small.
    size = _int(env, "COVER_SIZE", 64 if profile == "tiny" else recipe.size, 64, 1024)
    if size % 8:
        # SDXL's VAE downsamples by 8; other sizes are rejected by the pipeline mid-request.
        raise SettingsError(f"COVER_SIZE={size} must be a multiple of 8")
    steps = _int(env, "COVER_STEPS", recipe.steps, 1, 50)
    if recipe.unet_file and steps != recipe.steps:
        # A Lightning UNet is distilled for exactly its step count; other counts degrade the image.
        raise SettingsError(f"COVER_STEPS={steps}: {recipe.unet_file} runs exactly {recipe.steps} steps")
    return {
        "cover_model": name,
        "image_model_id": env.get("IMAGE_MODEL_ID", "").strip() or recipe.pipeline_id,
        "cover_unet_id": (env.get("COVER_UNET_ID", "").strip() or recipe.unet_repo)
        if recipe.unet_file
        else None,
        "cover_size": size,
        "cover_steps": steps,
    }


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raises SettingsError on the first bad value."""
    env = os.environ if env is None else env
    profile = _choice(env, "MODEL_PROFILE", PROFILES, "full")
    engine = _choice(env, "MUSIC_ENGINE", ENGINES, "acestep")
    return Settings(
        profile=profile,
        engine=engine,
        llm_model_id=env.get("LLM_MODEL_ID", "").strip() or DEFAULT_LLM,
        music_model_id=env.get("MUSIC_MODEL_ID", "").strip() or DEFAULT_ACESTEP,
        musicgen_model_id=env.get("MUSICGEN_MODEL_ID", "").strip() or DEFAULT_MUSICGEN,
        **_cover(env, profile),
        model_dir=Path(env.get("MODEL_DIR", "").strip() or "/opt/ml/model"),
        device=_device(env),
        dtype=_choice(env, "DTYPE", DTYPES, "auto"),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1_000_000, 1_000, 100_000_000),
        stems=_choice(env, "STEMS_ENABLED", ("true", "false"), "true") == "true",
        music_base_model_id=env.get("MUSIC_BASE_MODEL_ID", "").strip() or ACESTEP_BASE,
        gpu_offload=_offload(env),
        scoring=_choice(env, "SCORING_ENABLED", ("true", "false"), "true") == "true",
        clap_model_id=env.get("CLAP_MODEL_ID", "").strip() or DEFAULT_CLAP,
        whisper_model_id=env.get("WHISPER_MODEL_ID", "").strip() or DEFAULT_WHISPER,
        measure_workers=_int(env, "MEASURE_WORKERS", 0, 0, 64) or None,
    )
