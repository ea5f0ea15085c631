"""Loading the models for a profile: built in memory (tiny) or from weights (full), each placed on
the GPU or in host memory by the residency (song_model/residency.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .cover import CoverArtist, lightning_scheduler
from .engines import AceStepEngine, MusicEngine, MusicgenEngine
from .measure import Measurer
from .residency import Residency
from .scoring import Scorer
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
    # Where each part lives between requests ("llm", "music", "stems", "cover", "scoring").
    residency: Residency = field(default_factory=lambda: Residency(torch.device("cpu")))
    # CLAP and Whisper (song_model/scoring.py); None when SCORING_ENABLED=false.
    scorer: Scorer | None = None
    measure_workers: int | None = None
    # Masters, analyses and scores the takes (song_model/measure.py); built from the above.
    measurer: Measurer = field(init=False)

    def __post_init__(self) -> None:
        self.measurer = Measurer(self.scorer, self.measure_workers)


def resolve_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"DEVICE={setting} but no CUDA device is visible")
    return torch.device(setting)


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    if setting == "auto":
        # bf16 halves GPU memory (docs/container.md, "GPU memory"); CPUs run float32.
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
    residency = Residency(device, settings.gpu_offload)
    if settings.tiny:
        models = _load_tiny(settings, device, residency)
    else:
        models = _load_full(settings, device, dtype, residency)
    from . import analysis

    # librosa's numba kernels compile (or load from numba's cache) now, not in the first request.
    analysis.warm_up()
    log.info("models loaded in %.1f s", time.perf_counter() - started)
    if device.type == "cuda":
        log.info("GPU memory allocated after load: %.2f GiB", torch.cuda.memory_allocated(device) / 2**30)
    return models


def _load_tiny(settings: Settings, device: torch.device, residency: Residency) -> Models:
    from . import tiny

    if device.type == "cpu":
        # With toy-sized models, oneDNN's per-shape kernel setup costs more than the maths
        # (measured: 2 s of tiny MusicGen audio takes 0.65 s with it, 0.06 s without).
        torch.backends.mkldnn.enabled = False
    llm, llm_tokenizer = tiny.build_llm()
    residency.place("llm", [llm])
    engine = tiny_engine(settings.engine, device)
    image = tiny.build_sdxl(settings.cover_model)
    residency.place("cover", pipeline_modules(image))
    stems_engine = None
    if isinstance(engine, AceStepEngine) and settings.stems:
        # Both random-weight checkpoint kinds, like turbo + base on the endpoint (sharing the VAE
        # and text encoder the same way).
        base = tiny.build_acestep(turbo=False, share=engine.pipeline)
        residency.place("stems", pipeline_modules(base, shared_with=engine.pipeline))
        stems_engine = AceStepEngine(base, device)
    scorer = None
    if settings.scoring:
        clap, clap_features, clap_tokenizer = tiny.build_clap()
        whisper, whisper_processor = tiny.build_whisper()
        scorer = Scorer(
            clap, clap_features, clap_tokenizer, whisper, whisper_processor, device, cpu_threads=1
        )
        residency.place("scoring", scorer.modules)
    return Models(
        songwriter=Songwriter(llm, llm_tokenizer, device),
        engine=engine,
        cover=CoverArtist(image, device, settings.cover_size, settings.cover_steps),
        stems_engine=stems_engine,
        residency=residency,
        scorer=scorer,
        measure_workers=settings.measure_workers,
    )


def pipeline_modules(pipeline: Any, shared_with: Any = None) -> list[torch.nn.Module]:
    """A diffusers pipeline's model components, minus those it shares with `shared_with` (the stems
    checkpoint reuses turbo's VAE and text encoder, which stay where turbo keeps them)."""
    shared = {id(m) for m in pipeline_modules(shared_with)} if shared_with is not None else set()
    return [
        module
        for module in pipeline.components.values()
        if isinstance(module, torch.nn.Module) and id(module) not in shared
    ]


def tiny_engine(engine: str, device: torch.device) -> MusicEngine:
    from . import tiny

    if engine == "acestep":
        return AceStepEngine(tiny.build_acestep().to(device), device)
    musicgen, t5_tokenizer = tiny.build_musicgen()
    return MusicgenEngine(musicgen.to(device), t5_tokenizer, device)


def _load_full(settings: Settings, device: torch.device, dtype: torch.dtype, residency: Residency) -> Models:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Each part is read into host memory first; the residency then moves it to the GPU or keeps it
    # there (offloaded), so an offloaded part never takes GPU memory at start-up.
    llm_src = model_source(settings, "llm", settings.llm_model_id)
    llm_tokenizer = AutoTokenizer.from_pretrained(llm_src)
    llm = AutoModelForCausalLM.from_pretrained(llm_src, dtype=dtype).eval()
    residency.place("llm", [llm])
    engine = _load_engine(settings, device, dtype)
    image = load_image(settings, dtype)
    residency.place("cover", pipeline_modules(image))
    return Models(
        songwriter=Songwriter(llm, llm_tokenizer, device),
        engine=engine,
        cover=CoverArtist(image, device, settings.cover_size, settings.cover_steps),
        stems_engine=_load_stems_engine(settings, engine, device, dtype, residency),
        residency=residency,
        scorer=load_scorer(settings, device, dtype, residency),
        measure_workers=settings.measure_workers,
    )


def load_scorer(
    settings: Settings, device: torch.device, dtype: torch.dtype, residency: Residency
) -> Scorer | None:
    """CLAP and Whisper from MODEL_DIR/clap/ and whisper/ (or their hub ids), placed as "scoring"."""
    if not settings.scoring:
        return None
    from transformers import ClapModel, ClapProcessor, WhisperForConditionalGeneration, WhisperProcessor

    clap_src = model_source(settings, "clap", settings.clap_model_id)
    clap_processor = ClapProcessor.from_pretrained(clap_src)
    clap = ClapModel.from_pretrained(clap_src, dtype=dtype).eval()
    whisper_src = model_source(settings, "whisper", settings.whisper_model_id)
    whisper = WhisperForConditionalGeneration.from_pretrained(whisper_src, dtype=dtype).eval()
    scorer = Scorer(
        clap,
        clap_processor.feature_extractor,
        clap_processor.tokenizer,
        whisper,
        WhisperProcessor.from_pretrained(whisper_src),
        device,
    )
    # After the Scorer: its speech-recognition pipeline moves Whisper to the device when built; the
    # residency then keeps both models there, or in host memory if GPU_OFFLOAD names "scoring".
    residency.place("scoring", scorer.modules)
    return scorer


def _load_stems_engine(
    settings: Settings, engine: MusicEngine, device: torch.device, dtype: torch.dtype, residency: Residency
) -> MusicEngine | None:
    """The base checkpoint beside turbo, sharing turbo's VAE and text encoder."""
    if not settings.stems or not isinstance(engine, AceStepEngine):
        return None
    src = model_source(settings, "acestep_base", settings.music_base_model_id)
    stems = AceStepEngine.from_pretrained(src, device, dtype, share=engine, to_device=False)
    residency.place("stems", pipeline_modules(stems.pipeline, shared_with=engine.pipeline))
    return stems


def _load_engine(settings: Settings, device: torch.device, dtype: torch.dtype) -> MusicEngine:
    if settings.engine == "acestep":
        src = model_source(settings, "acestep", settings.music_model_id)
        return AceStepEngine.from_pretrained(src, device, dtype)
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    src = model_source(settings, "musicgen", settings.musicgen_model_id)
    model = MusicgenForConditionalGeneration.from_pretrained(src, dtype=dtype).to(device).eval()
    return MusicgenEngine(model, AutoTokenizer.from_pretrained(src), device)


def load_image(settings: Settings, dtype: torch.dtype) -> Any:
    """The cover pipeline in host memory: SDXL-Turbo as its hub folder, or SDXL base 1.0 with
    SDXL-Lightning's UNet file in place of its own and Lightning's scheduler (the model card's
    recipe: Euler, trailing timesteps)."""
    from diffusers import AutoPipelineForText2Image

    recipe = settings.cover
    src = model_source(settings, "image", settings.image_model_id)
    parts: dict[str, Any] = {}
    if recipe.unet_file:
        parts["unet"] = _lightning_unet(settings, src, dtype)
    variant = None
    if dtype != torch.float32:
        local = Path(src)
        # Both pipelines ship fp16 copies of every part; the staging command stores only those.
        has_fp16 = any(local.rglob("*.fp16.safetensors")) if local.is_dir() else True
        variant = "fp16" if has_fp16 else None
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(src, torch_dtype=dtype, variant=variant, **parts)
    except (OSError, ValueError):
        if variant is None:
            raise
        log.info("no fp16 variant of %s; loading the full-precision weights", src)
        pipe = AutoPipelineForText2Image.from_pretrained(src, torch_dtype=dtype, **parts)
    if recipe.unet_file:
        pipe.scheduler = lightning_scheduler(pipe.scheduler.config)
    return pipe


def _lightning_unet(settings: Settings, pipeline_src: str, dtype: torch.dtype) -> Any:
    """The SDXL UNet architecture (the pipeline's unet/config.json) with Lightning's weights: one
    safetensors file, staged under MODEL_DIR/image_unet/ or fetched from its hub repo."""
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file

    recipe = settings.cover
    assert recipe.unet_file and settings.cover_unet_id
    staged = settings.model_dir / "image_unet" / recipe.unet_file
    if staged.is_file():
        path = str(staged)
    else:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(settings.cover_unet_id, recipe.unet_file)
    # Parameters on the meta device (no 10 GB of random fp32 init), then the file's tensors in place.
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(pipeline_src, subfolder="unet")
        )
    unet.load_state_dict(load_file(path), strict=True, assign=True)
    return unet.to(dtype).eval()
