"""Inference container benchmark: per-stage time and peak memory for one song.

    # CPU, tiny profile (what the local stack runs), in-process S3 (moto):
    PYTHONPATH=sagemaker_containers/music python bench/container_bench.py --profile tiny
    # GPU, real-size models with random weights (Qwen2-7B, SDXL-Turbo, ACE-Step 1.5 XL turbo):
    PYTHONPATH=sagemaker_containers/music python bench/container_bench.py --profile gpu-random
    # ... with MusicGen-medium as the engine instead:
    ... --profile gpu-random --engine musicgen

Random weights give the real compute and memory of each architecture; the words and sounds are
noise. The LLM then writes until max_new_tokens (its worst case). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import functools
import gc
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # local/ (the local identity)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker_containers" / "music"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from song_model import random_models, tiny
from song_model.cover import CoverArtist
from song_model.engines import AceStepEngine, MusicgenEngine
from song_model.models import Models, load_models
from song_model.pipeline import SongPipeline
from song_model.schemas import parse_request
from song_model.scoring import Scorer
from song_model.settings import load_settings
from song_model.songwriter import Songwriter

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakRss:
    """Samples the resident set size every few ms; `peak` is the maximum since `reset`."""

    def __init__(self) -> None:
        self.peak = self.overall = rss_bytes()
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            now = rss_bytes()
            self.peak = max(self.peak, now)
            self.overall = max(self.overall, now)

    def reset(self) -> None:
        self.peak = rss_bytes()

    def stop(self) -> None:
        self._stop.set()


def measured(stages: dict[str, Any], name: str, fn: Callable[..., Any], rss: PeakRss) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        rss.reset()
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        if cuda:
            torch.cuda.synchronize()
        entry = stages.setdefault(name, {"seconds": 0.0, "peak_rss_gib": 0.0})
        entry["seconds"] = round(entry["seconds"] + time.perf_counter() - started, 3)
        entry["peak_rss_gib"] = round(max(entry["peak_rss_gib"], rss.peak / 2**30), 3)
        if cuda:
            peak = torch.cuda.max_memory_allocated() / 2**30
            entry["peak_gpu_gib"] = round(max(entry.get("peak_gpu_gib", 0.0), peak), 2)
            reserved = torch.cuda.max_memory_reserved() / 2**30
            entry["peak_gpu_reserved_gib"] = round(max(entry.get("peak_gpu_reserved_gib", 0.0), reserved), 2)
        return result

    return wrapper


# ---- real-size random-weight models (GPU) ----------------------------------------------------

# The published sizes (each model's config.json), as the config classes name them;
# song_model.random_models builds each architecture from them.
QWEN2_7B = dict(  # Qwen/Qwen2-7B-Instruct
    hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
    num_key_value_heads=4, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
)  # fmt: skip
# stabilityai/sdxl-turbo text_encoder/, text_encoder_2/, unet/, vae/: both CLIP encoders have
# CLIP's 49408-token vocabulary, a 4x MLP and a projection as wide as the model.
SDXL_CLIP_L = dict(
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
    hidden_act="quick_gelu", projection_dim=768,
)  # fmt: skip
SDXL_CLIP_BIGG = dict(
    vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
    hidden_act="gelu", projection_dim=1280,
)  # fmt: skip
SDXL_UNET = dict(
    sample_size=64, layers_per_block=2, block_out_channels=(320, 640, 1280), attention_head_dim=(5, 10, 20),
    transformer_layers_per_block=(1, 2, 10), addition_time_embed_dim=256,
)  # fmt: skip
SDXL_VAE = dict(
    layers_per_block=2, sample_size=512, block_out_channels=(128, 256, 512, 512), scaling_factor=0.13025,
    force_upcast=True,
)  # fmt: skip
# facebook/musicgen-medium (t5-base text encoder, 32 kHz EnCodec, 1.5B decoder)
MUSICGEN_MEDIUM_TEXT = dict(vocab_size=32128, d_model=768, d_ff=3072, num_layers=12, num_heads=12)
MUSICGEN_MEDIUM_CODEC = dict(
    num_filters=64, hidden_size=128, codebook_size=2048, upsampling_ratios=[8, 5, 4, 4],
    target_bandwidths=[2.2], num_lstm_layers=2, compress=2,
)  # fmt: skip
MUSICGEN_MEDIUM_DECODER = dict(
    hidden_size=1536, num_hidden_layers=48, ffn_dim=6144, num_attention_heads=24, num_codebooks=4,
    max_position_embeddings=2048,
)  # fmt: skip
# ACE-Step 1.5 XL turbo (sources: acestep_xl_turbo_random's docstring)
_ACESTEP_XL_ENCODER = dict(
    hidden_size=2048, intermediate_size=6144, num_attention_heads=16, num_key_value_heads=8
)
ACESTEP_XL = random_models.AceStepSizes(
    acoustic=64, lyric_layers=8, timbre_layers=4, pooler_layers=2,
    text_encoder=dict(  # Qwen3-Embedding-0.6B
        hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
        num_key_value_heads=8, head_dim=128, max_position_embeddings=32768,
    ),
    dit=dict(
        hidden_size=2560, intermediate_size=9728, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, head_dim=128, patch_size=2, encoder_hidden_size=2048,
    ),
    encoder=_ACESTEP_XL_ENCODER,
    vae=dict(downsampling_ratios=[2, 4, 4, 6, 10], channel_multiples=[1, 2, 4, 8, 16], decoder_channels=128),
)  # fmt: skip
# laion/larger_clap_music's HTSAT audio encoder (its text encoder is roberta-base)
CLAP_MUSIC_AUDIO = dict(depths=[2, 2, 12, 2], hidden_size=1024, patch_embeds_hidden_size=128)
WHISPER_TURBO = dict(  # openai/whisper-large-v3-turbo
    num_mel_bins=128, d_model=1280, encoder_layers=32, decoder_layers=4, encoder_attention_heads=20,
    decoder_attention_heads=20, encoder_ffn_dim=5120, decoder_ffn_dim=5120, max_target_positions=448,
)  # fmt: skip


def qwen2_7b_random(device: torch.device) -> tuple[Any, Any]:
    tokenizer = tiny.build_qwen2_tokenizer()
    model = random_models.qwen2_llm(tokenizer, QWEN2_7B, vocab_size=152064, device=device)
    model.generation_config = worst_case_generation(tokenizer, model.config.vocab_size)
    return model, tokenizer


def worst_case_generation(tokenizer: Any, vocab_size: int) -> Any:
    """Generation settings for a random-weight LLM that has the real vocabulary but the tiny
    tokenizer: sampling keeps to the tokenizer's ids (random logits over all of them would almost
    never pick one of its few hundred, the answers would decode to nothing and empty lyrics fail
    the song) and never ends a turn, so every answer runs to max_new_tokens, the worst case. The
    output layer still computes every logit."""
    from transformers import GenerationConfig

    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ends = sorted({im_end, tokenizer.eos_token_id} - {None})
    return GenerationConfig(
        eos_token_id=[im_end],
        pad_token_id=tokenizer.pad_token_id,
        suppress_tokens=[*range(len(tokenizer), vocab_size), *ends],
    )


def sdxl_turbo_random(device: torch.device) -> Any:
    tokenizer = tiny.build_clip_tokenizer()
    text_encoders = (SDXL_CLIP_L, SDXL_CLIP_BIGG)
    return random_models.sdxl(
        tokenizer, text_encoders, SDXL_UNET, SDXL_VAE, tiny.sdxl_turbo_scheduler(), device=device
    )


def sdxl_random(device: torch.device, cover_model: str) -> Any:
    """A cover model's SDXL pipeline at real size: SDXL-Turbo's, or SDXL base 1.0 with
    SDXL-Lightning's scheduler (the same UNet, text encoder and VAE architectures; Lightning
    replaces only the UNet's weights)."""
    from song_model.cover import lightning_scheduler
    from song_model.settings import COVER_MODELS

    pipeline = sdxl_turbo_random(device)
    if COVER_MODELS[cover_model].unet_file:
        pipeline.scheduler = lightning_scheduler(tiny.sdxl_base_scheduler().config)
    return pipeline


def musicgen_medium_random(device: torch.device) -> tuple[Any, Any]:
    tokenizer = tiny.build_t5_tokenizer()
    model = random_models.musicgen(
        MUSICGEN_MEDIUM_TEXT, MUSICGEN_MEDIUM_CODEC, MUSICGEN_MEDIUM_DECODER, top_k=250, device=device
    )
    return model, tokenizer


def acestep_xl_turbo_random(device: torch.device, turbo: bool = True, share: Any = None) -> Any:
    """AceStepPipeline at ACE-Step 1.5 XL turbo's published sizes, random weights.

    Sources: the acestep-v15-xl-*-diffusers model card (DiT hidden 2560, 32 layers, 32 heads,
    condition encoder 2048 wide; ~4.7B parameters), its condition encoder config.json (2048 hidden,
    6144 intermediate, 16 heads / 8 KV, 8 lyric + 4 timbre layers, text_hidden_dim 1024,
    timbre_hidden_dim 64), the 1.5 VAE config (Oobleck, 128 wide, ratios 2,4,4,6,10, multiples
    1,2,4,8,16, 64 latent channels, 48 kHz stereo) and Qwen3-Embedding-0.6B (the text encoder).
    The audio (de)tokenizer take the condition encoder's width (their own configs were not at hand;
    they only run for audio-code covers). The tokenizer is the tiny one: text length, not vocabulary,
    sets the cost. `turbo=False` builds the XL base checkpoint (same sizes, classifier-free guidance);
    `share`: a built pipeline whose VAE, text encoder and tokenizer it reuses, as the endpoint's
    stems checkpoint reuses turbo's.
    """
    tokenizer = tiny.build_qwen2_tokenizer()
    pipeline = random_models.acestep(
        tokenizer, ACESTEP_XL, turbo=turbo, share=share, vocab_size=151669, device=device
    )
    pipeline.vae.enable_tiling()  # as AceStepEngine.from_pretrained does
    return pipeline


def clap_music_random(device: torch.device) -> tuple[Any, Any, Any]:
    """ClapModel at laion/larger_clap_music's sizes (its config.json: HTSAT audio encoder, depths
    2/2/12/2, 1024 wide, 128-wide patch embeddings; RoBERTa-base text encoder; 512-d projection),
    random weights, with the tiny profile's feature extractor and tokenizer (the same geometry)."""
    _, features, tokenizer = tiny.build_clap()
    text = {"vocab_size": 50265}  # roberta-base's sizes (ClapTextConfig's defaults)
    model = random_models.clap(tokenizer, text, CLAP_MUSIC_AUDIO, projection_dim=512, device=device)
    return model, features, tokenizer


def whisper_turbo_random(device: torch.device, max_length: int = 448) -> tuple[Any, Any]:
    """WhisperForConditionalGeneration at openai/whisper-large-v3-turbo's sizes (its config.json:
    1280 wide, 32 encoder and 4 decoder layers, 20 heads, 5120 FFN, 128 mel bins, 51866 tokens),
    random weights, with the tiny profile's tokenizer: token ids past its vocabulary are never
    generated (suppressed), but the output layer computes all 51866 logits, as the real one does.
    Random weights never end a window: each runs to `max_length` tokens (its worst case)."""
    tokenizer = tiny.build_whisper_tokenizer()
    # The turbo checkpoint's alignment heads are in its last decoder layers; any heads cost the same.
    heads = [[2, 4], [3, 8], [3, 15]]
    return random_models.whisper(tokenizer, WHISPER_TURBO, heads, max_length, vocab_size=51866, device=device)


def random_scorer(device: torch.device, whisper_tokens: int = 448) -> Scorer:
    """The scoring models at their real sizes with random weights (CLAP music, Whisper turbo)."""
    clap, features, tokenizer = clap_music_random(device)
    whisper, processor = whisper_turbo_random(device, whisper_tokens)
    return Scorer(clap, features, tokenizer, whisper, processor, device)


def gpu_random_models(args: argparse.Namespace) -> Models:
    device = torch.device("cuda")
    with default_dtype(torch.bfloat16):
        llm, llm_tok = qwen2_7b_random(device)
        image = sdxl_turbo_random(device)
        if args.engine == "acestep":
            engine: Any = AceStepEngine(acestep_xl_turbo_random(device), device)
        else:
            mg, t5 = musicgen_medium_random(device)
            engine = MusicgenEngine(mg, t5, device)
        scorer = random_scorer(device)
    return Models(Songwriter(llm, llm_tok, device), engine, CoverArtist(image, device, 512, 2), scorer=scorer)


# ---- run ------------------------------------------------------------------------------------


def instrument(models: Models, stages: dict[str, Any], rss: PeakRss) -> None:
    writer = models.songwriter
    for method in ("style_tags", "metadata", "lyrics", "categories"):
        setattr(writer, method, measured(stages, f"llm.{method}", getattr(writer, method), rss))
    models.engine.generate_takes = measured(stages, "music", models.engine.generate_takes, rss)  # type: ignore[method-assign]
    models.cover.paint = measured(stages, "cover", models.cover.paint, rss)  # type: ignore[method-assign]
    if models.scorer is not None:
        for method in ("text_audio", "transcribe"):
            setattr(
                models.scorer,
                method,
                measured(stages, f"scoring.{method}", getattr(models.scorer, method), rss),
            )


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews CPU numbers
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = props.name
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
    info["packages"] = package_versions()
    return info


def package_versions() -> dict[str, str | None]:
    """The installed versions of what the container imports (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


VERSIONED = (
    "torch", "transformers", "diffusers", "accelerate", "tokenizers", "huggingface_hub", "safetensors",
    "numpy", "soundfile", "soxr", "pillow", "pydantic", "boto3", "moto",
)  # fmt: skip


# ---- the stage suite (`--stages`, run by bench/gpu_run.sh) ----------------------------------

# docs/container.md, "GPU memory": what the default instance's L40S leaves usable.
L40S_USABLE_GIB = 44.3
BUCKET = "bench-bucket"
# The real-size random weights in bf16 as staged (docs/container.md, "GPU memory": 45.18 GB), with
# room for configs and tokenizers; the tiny ones are a few MB.
STAGED_BYTES = {"gpu-random": 46 * 10**9, "tiny": 10**9}
TAKES = (1, 2, 4)
STEM_TRACKS = ("vocals", "drums")
# The takes stages render fixed words (no LLM): the music stage alone, as one batch of k takes.
TAKES_PROMPT = "upbeat summer pop, female vocals, acoustic guitar, bright synths, 118 bpm"
TAKES_LYRICS = "\n".join(
    ["[verse]"] + ["windows down and the radio on, we drive until the night is gone"] * 8
    + ["[chorus]"] + ["summer road, take me home, golden light on the open road"] * 8
    + ["[bridge]"] + ["we were young and the sky was wide"] * 4
    + ["[chorus]"] + ["summer road, take me home, golden light on the open road"] * 8
)  # fmt: skip
# Seconds a stage needs at the least on an H100 (estimates): a stage that would start with less
# of the run's budget left is skipped (recorded), so the run ends inside its time limit.
MIN_SECONDS = {
    "song": 25.0, "takes_1": 5.0, "takes_2": 8.0, "takes_4": 12.0, "stems": 40.0, "song_long": 50.0,
}  # fmt: skip


def description_request(job_id: str, duration_s: float, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "mode": "description",
        "description": "an upbeat summer pop song about a road trip",
        "duration_s": duration_s,
        "seed": 1,
        "variants": args.variants,
        "inference_steps": args.steps,
        "formats": args.formats.split(","),
        "output": {"bucket": BUCKET, "prefix": f"{job_id}/"},
    }


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build straight in bf16: a fp32 7B model alone is 30 GB
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def filesystem(path: Path) -> str:
    """The type of the filesystem holding `path` (the longest mount point above it)."""
    best, kind = "", "unknown"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            point, fstype = line.split()[1:3]
            if str(path).startswith(point) and len(point) > len(best):
                best, kind = point, fstype
    return kind


def pick_model_dir(need: int, requested: str | None) -> Path:
    """A new folder with room for the staged weights: under `requested`, else under the first of
    the temp folder, /var/tmp and the home folder with `need` bytes free, else RAM-backed /dev/shm."""
    candidates = (
        [requested] if requested else [tempfile.gettempdir(), "/var/tmp", str(Path.home()), "/dev/shm"]
    )
    free = {c: shutil.disk_usage(c).free for c in candidates if os.path.isdir(c)}
    for candidate, available in free.items():
        if available >= need:
            return Path(tempfile.mkdtemp(prefix="bench-weights-", dir=candidate))
    room = ", ".join(f"{c}: {b / 1e9:.1f} GB" for c, b in free.items())
    raise RuntimeError(f"no folder has {need / 1e9:.0f} GB free ({room})")


def prune(folder: Path, allow: tuple[str, ...]) -> None:
    """Delete the files song_model.stage_weights would not stage (its allow patterns, matched as
    the hub matches them)."""
    for file in folder.rglob("*"):
        if file.is_file() and not any(fnmatch.fnmatch(file.relative_to(folder).as_posix(), p) for p in allow):
            file.unlink()


def stage_random_weights(model_dir: Path, profile: str, device: torch.device) -> dict[str, int]:
    """Random weights at the profile's sizes, written part by part (each freed before the next is
    built) in the layout the server reads from MODEL_DIR (song_model.stage_weights): llm/, acestep/
    (turbo), acestep_base/ (the base checkpoint's own parts), image/ (SDXL base 1.0 without its
    UNet's weights), image_unet/ (the Lightning UNet file), clap/ and whisper/ (the scorers).
    Returns each part's bytes."""
    from safetensors.torch import save_file
    from song_model.settings import COVER_MODELS, DEFAULT_COVER
    from song_model.stage_weights import PATTERNS
    from transformers import ClapProcessor

    small = profile == "tiny"
    with default_dtype(torch.float32 if small else torch.bfloat16):
        llm, tokenizer = tiny.build_llm() if small else qwen2_7b_random(device)
        llm.save_pretrained(model_dir / "llm")
        tokenizer.save_pretrained(model_dir / "llm")
        del llm
        free_memory()
        turbo = tiny.build_acestep() if small else acestep_xl_turbo_random(device)
        base = (
            tiny.build_acestep(turbo=False, share=turbo)
            if small
            else acestep_xl_turbo_random(device, turbo=False, share=turbo)
        )
        turbo.save_pretrained(model_dir / "acestep")
        base.save_pretrained(model_dir / "acestep_base")
        prune(model_dir / "acestep_base", PATTERNS["acestep_base"])
        del turbo, base
        free_memory()
        recipe = COVER_MODELS[DEFAULT_COVER]
        image = tiny.build_sdxl(DEFAULT_COVER) if small else sdxl_random(device, DEFAULT_COVER)
        image.save_pretrained(model_dir / "image")
        if recipe.unet_file:
            # The server builds the UNet from image/unet/config.json and loads Lightning's file.
            (model_dir / "image_unet").mkdir()
            state = {name: t.detach().to("cpu").contiguous() for name, t in image.unet.state_dict().items()}
            save_file(state, model_dir / "image_unet" / recipe.unet_file)
            for weights in (model_dir / "image" / "unet").glob("*.safetensors"):
                weights.unlink()
        del image
        free_memory()
        # The scorers (song_model.scoring): CLAP for text-audio agreement, Whisper for the lyrics.
        clap, features, clap_tokenizer = tiny.build_clap() if small else clap_music_random(device)
        clap.save_pretrained(model_dir / "clap")
        clap_processor = ClapProcessor(feature_extractor=features, tokenizer=clap_tokenizer)
        clap_processor.save_pretrained(model_dir / "clap")
        whisper, processor = tiny.build_whisper() if small else whisper_turbo_random(device)
        whisper.save_pretrained(model_dir / "whisper")
        processor.save_pretrained(model_dir / "whisper")
        del clap, whisper
        free_memory()
    return {
        part.name: sum(f.stat().st_size for f in part.rglob("*") if f.is_file())
        for part in sorted(model_dir.iterdir())
    }


def drop_page_cache() -> bool:
    """Make the load read the disk, not the page cache the staging filled (root only)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


class Suite:
    """Runs stages one after another into one report. A stage that fails (out of GPU memory or any
    other error) is recorded with its error and the next one runs; the report is written after every
    stage, so a run stopped at its time limit keeps what it measured."""

    def __init__(self, report: dict[str, Any], out: Path | None, deadline: float, rss: PeakRss) -> None:
        self.report = report
        self.out = out
        self.deadline = deadline
        self.rss = rss
        # The running stage's inner measurements (LLM calls, music, cover, stems, moves), by name.
        self.parts: dict[str, Any] = {}

    def write(self) -> None:
        if self.out is not None:
            self.out.write_text(json.dumps(self.report, indent=2))

    def skip(self, name: str, reason: str) -> None:
        self.report["stages"][name] = {"ok": False, "skipped": reason}
        self.write()

    def run(self, name: str, fn: Callable[[dict[str, Any]], Any]) -> Any:
        min_s = MIN_SECONDS.get(name, 0.0) if self.report["profile"] == "gpu-random" else 0.0
        if time.monotonic() + min_s > self.deadline:
            self.skip(name, f"time budget: under {min_s:.0f} s left")
            return None
        entry: dict[str, Any] = {}
        self.report["stages"][name] = entry
        self.parts.clear()
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.rss.reset()
        started = time.perf_counter()
        result = None
        try:
            result = fn(entry)
            entry["ok"] = True
        except Exception as exc:  # recorded, not fatal: the next stage runs
            entry["ok"] = False
            entry["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            if exc.__cause__ is not None:  # the pipeline wraps model errors (OutOfMemory <- torch's)
                entry["cause"] = f"{type(exc.__cause__).__name__}: {exc.__cause__}"[:2000]
            traceback.print_exc()
            free_memory()
        if cuda:
            torch.cuda.synchronize()
        entry["seconds"] = round(time.perf_counter() - started, 3)
        inner = list(self.parts.values())
        entry["peak_rss_gib"] = round(
            max([self.rss.peak / 2**30, *(p.get("peak_rss_gib", 0) for p in inner)]), 3
        )
        if cuda:
            # The inner measurements reset the peak counters: the stage's peak is the largest seen.
            for key, now in (
                ("peak_gpu_gib", torch.cuda.max_memory_allocated()),
                ("peak_gpu_reserved_gib", torch.cuda.max_memory_reserved()),
            ):
                entry[key] = round(max([now / 2**30, *(p.get(key, 0.0) for p in inner)]), 2)
        if self.parts:
            entry["parts"] = json.loads(json.dumps(self.parts))
        self.write()
        return result


def time_moves(models: Models, parts: dict[str, Any]) -> None:
    """Record how long moving each offloaded part to the device takes (`move_in.<part>`)."""
    residency = models.residency
    offloaded = set(residency.host_bytes())
    original = residency.on_device

    @contextlib.contextmanager
    def on_device(part: str) -> Iterator[None]:
        started = time.perf_counter()
        with original(part):
            if part in offloaded:
                entry = parts.setdefault(f"move_in.{part}", {"seconds": 0.0})
                entry["seconds"] = round(entry["seconds"] + time.perf_counter() - started, 3)
            yield

    residency.on_device = on_device  # type: ignore[method-assign]


def song_stage(
    models: Models, duration_s: float, args: argparse.Namespace
) -> Callable[[dict[str, Any]], None]:
    """One song through the container's pipeline: LLM words and metadata, music, cover, encoding
    and S3 writes (moto in-process)."""

    def run(entry: dict[str, Any]) -> None:
        job_id = f"song-{duration_s:g}s"
        manifest = SongPipeline(models).run(parse_request(description_request(job_id, duration_s, args)))
        entry["duration_s"] = manifest.duration_s
        entry["lyrics_chars"] = len(manifest.lyrics or "")
        entry["music"] = manifest.music.model_dump()
        entry["timings"] = manifest.timings.model_dump()
        entry["real_time_factor"] = round(manifest.duration_s / manifest.timings.music_s, 2)

    return run


def takes_stage(models: Models, takes: int, args: argparse.Namespace) -> Callable[[dict[str, Any]], None]:
    """The music engine alone, `takes` takes of a song in one batch (the words and the cover are
    made once per song whatever the number of takes)."""
    from song_model.engines import MusicJob, take_seeds

    def run(entry: dict[str, Any]) -> None:
        job = MusicJob(TAKES_PROMPT, TAKES_LYRICS, args.duration, seed=1, steps=args.steps)
        audio = models.engine.generate_takes(job, take_seeds(1, takes))
        entry["takes"] = len(audio)
        entry["duration_s"] = round(audio[0].duration_s, 3)

    return run


def stems_stage(models: Models, args: argparse.Namespace) -> Callable[[dict[str, Any]], None]:
    """A stems request on a synthesized source: the base checkpoint moves to the GPU for the
    extraction (one render per track, at the checkpoint's own steps and guidance)."""
    import numpy as np
    from song_model import audio_io, storage
    from song_model.engines import Audio

    def run(entry: dict[str, Any]) -> None:
        rate = models.engine.sample_rate
        t = np.arange(round(args.duration * rate)) / rate
        chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 4
        source = Audio(np.stack([chord, chord], axis=1).astype(np.float32), rate)
        storage.put_object(BUCKET, "sources/stems.wav", audio_io.encode(source, "wav"), "audio/wav")
        request = {
            "job_id": "stems",
            "mode": "stems",
            "source": {"bucket": BUCKET, "key": "sources/stems.wav", "duration_s": args.duration},
            "duration_s": args.duration,
            "tracks": list(STEM_TRACKS),
            "seed": 1,
            "inference_steps": args.steps,
            "formats": ["wav"],
            "output": {"bucket": BUCKET, "prefix": "stems/"},
        }
        manifest = SongPipeline(models).run(parse_request(request))
        entry["tracks"] = list(STEM_TRACKS)
        entry["duration_s"] = manifest.duration_s
        entry["music"] = manifest.music.model_dump()
        entry["timings"] = manifest.timings.model_dump()

    return run


def load_stage(
    model_dir: Path, args: argparse.Namespace, device: torch.device
) -> Callable[[dict[str, Any]], Models]:
    """The server's own loading (song_model.models.load_models, MODEL_PROFILE=full) from the staged
    folder: the default cover model, the stems checkpoint and the default GPU offload."""
    from song_model.settings import load_settings

    def run(entry: dict[str, Any]) -> Models:
        if args.drop_page_cache:
            entry["page_cache_dropped"] = drop_page_cache()
        env = {
            "MODEL_PROFILE": "full",
            "MODEL_DIR": str(model_dir),
            "DEVICE": device.type,
            "MUSIC_ENGINE": "acestep",
        }
        if args.profile == "tiny":
            env["COVER_SIZE"] = "64"  # tiny weights: keep the CPU's cover small
        settings = load_settings(env)
        models = load_models(settings)
        entry["gpu_offload"] = sorted(settings.gpu_offload)
        entry["cover"] = {
            "model": settings.cover_model,
            "size": settings.cover_size,
            "steps": settings.cover_steps,
        }
        entry["offloaded_gib"] = {k: round(v / 2**30, 2) for k, v in models.residency.host_bytes().items()}
        if torch.cuda.is_available():
            entry["resident_gib"] = round(torch.cuda.memory_allocated() / 2**30, 2)
        return models

    return run


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    stages = report["stages"]
    ok = {name: s for name, s in stages.items() if s.get("ok")}
    summary: dict[str, Any] = {"failed": sorted(set(stages) - set(ok))}
    summary["music_seconds_per_take"] = {
        str(k): round(ok[f"takes_{k}"]["seconds"] / k, 3) for k in TAKES if f"takes_{k}" in ok
    }
    song_stages = [s for name, s in ok.items() if name not in ("stage_weights", "load")]
    if song_stages and "peak_gpu_gib" in song_stages[0]:
        reserved = max(s["peak_gpu_reserved_gib"] for s in song_stages)
        summary["peak_gpu_gib"] = max(s["peak_gpu_gib"] for s in song_stages)
        summary["peak_gpu_reserved_gib"] = reserved
        summary["l40s_usable_gib"] = L40S_USABLE_GIB
        summary["fits_l40s"] = reserved <= L40S_USABLE_GIB
    load = ok.get("load", {})
    if "resident_gib" in load:
        summary["all_parts_resident_gib"] = round(
            load["resident_gib"] + sum(load["offloaded_gib"].values()), 2
        )
    return summary


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Stage real-size (or tiny) random weights to disk, load them as the server does, then: a song
    with lyrics and cover, 1, 2 and 4 takes, stems with the base checkpoint, a long song."""
    from moto import mock_aws

    from local import account

    device = torch.device("cuda" if args.profile == "gpu-random" else "cpu")
    if device.type == "cpu":
        torch.backends.mkldnn.enabled = False  # toy shapes: oneDNN's setup costs more than the maths
    rss = PeakRss()
    report: dict[str, Any] = {
        "profile": args.profile,
        "machine": machine(),
        "settings": {
            "song_s": args.duration,
            "long_song_s": args.long_duration,
            "steps": args.steps,
            "formats": args.formats,
            "takes": list(TAKES),
            "stem_tracks": list(STEM_TRACKS),
        },
        "stages": {},
    }
    deadline = time.monotonic() + (args.deadline_s or float("inf"))
    suite = Suite(report, args.out, deadline, rss)
    holder: dict[str, Path] = {}

    def stage_weights(entry: dict[str, Any]) -> None:
        holder["dir"] = model_dir = pick_model_dir(STAGED_BYTES[args.profile], args.model_dir)
        entry["model_dir"] = str(model_dir)
        entry["filesystem"] = filesystem(model_dir)
        written = stage_random_weights(model_dir, args.profile, device)
        entry["gb"] = {part: round(size / 1e9, 2) for part, size in written.items()}

    try:
        suite.run("stage_weights", stage_weights)
        models = suite.run("load", load_stage(holder["dir"], args, device)) if "dir" in holder else None
        names = ["song", *(f"takes_{k}" for k in TAKES), "stems", "song_long"]
        if models is None:
            for name in names:
                suite.skip(name, "no models: loading failed")
        else:
            instrument(models, suite.parts, rss)
            stems = models.stems_engine
            if stems is not None:
                stems.generate_takes = measured(suite.parts, "stems", stems.generate_takes, rss)  # type: ignore[method-assign]
            time_moves(models, suite.parts)
            account.use_local_identity(os.environ)  # S3 is moto in-process: fake credentials
            with mock_aws():
                import boto3

                boto3.client("s3").create_bucket(Bucket=BUCKET)
                suite.run("song", song_stage(models, args.duration, args))
                for k in TAKES:
                    suite.run(f"takes_{k}", takes_stage(models, k, args))
                suite.run("stems", stems_stage(models, args))
                suite.run("song_long", song_stage(models, args.long_duration, args))
    finally:
        if "dir" in holder:
            shutil.rmtree(holder["dir"], ignore_errors=True)  # tens of GB, maybe in RAM (/dev/shm)
        rss.stop()
    report["summary"] = summarize(report)
    suite.write()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["tiny", "gpu-random"], default="tiny")
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--steps", type=int, default=None, help="diffusion steps (default: the checkpoint's)")
    parser.add_argument("--formats", default="wav,mp3,flac")
    parser.add_argument("--engine", choices=["acestep", "musicgen"], default="acestep")
    parser.add_argument("--variants", type=int, default=1, help="takes rendered in one batch (1..4)")
    suite = parser.add_argument_group("the stage suite (bench/gpu_run.sh)")
    suite.add_argument(
        "--stages",
        action="store_true",
        help="stage random weights to disk, load them as the server does, then run every stage "
        "(a --duration song, 1/2/4 takes, stems, a --long-duration song); ACE-Step only",
    )
    suite.add_argument("--long-duration", type=float, default=600.0)
    suite.add_argument("--out", type=Path, default=None, help="also write the JSON here (after every stage)")
    suite.add_argument(
        "--deadline-s", type=float, default=None, help="skip the stages that would start later"
    )
    suite.add_argument(
        "--model-dir", default=None, help="where to stage the weights (default: a folder with room)"
    )
    suite.add_argument(
        "--drop-page-cache", action="store_true", help="load from disk, not the page cache (root)"
    )
    args = parser.parse_args()
    if args.stages:
        if args.engine != "acestep":
            parser.error("--stages runs the ACE-Step engine (stems need it)")
        if args.profile == "gpu-random" and not torch.cuda.is_available():
            parser.error("--profile gpu-random needs a CUDA GPU")
        # `timeout` stops the run with SIGTERM: leave through the finally blocks (staged weights removed).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        print(json.dumps(run_suite(args), indent=2))
        return

    rss = PeakRss()
    started = time.perf_counter()
    if args.profile == "tiny":
        env = {"MODEL_PROFILE": "tiny", "DEVICE": "cpu", "MUSIC_ENGINE": args.engine}
        models = load_models(load_settings(env))
    else:
        if not torch.cuda.is_available():
            parser.error("--profile gpu-random needs a CUDA GPU")
        models = gpu_random_models(args)
    load_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "profile": args.profile,
        "engine": models.engine.name,
        "machine": machine(),
        "load": {"seconds": round(load_s, 2), "rss_gib": round(rss_bytes() / 2**30, 3)},
    }
    if torch.cuda.is_available():
        result["load"]["gpu_allocated_gib"] = round(torch.cuda.memory_allocated() / 2**30, 2)

    stages: dict[str, Any] = {}
    instrument(models, stages, rss)
    request = parse_request(description_request("bench", args.duration, args))
    from moto import mock_aws

    from local import account

    account.use_local_identity(os.environ)  # S3 is moto in-process: fake credentials, none of the user's
    with mock_aws():
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        rss.overall = rss_bytes()
        manifest = SongPipeline(models).run(request)
    result["song"] = {
        "duration_s": manifest.duration_s,
        "takes": len(manifest.seeds),
        "sample_rate": manifest.sample_rate,
        "music": manifest.music.model_dump(),
        "lyrics_chars": len(manifest.lyrics or ""),
        "timings": manifest.timings.model_dump(),
        "real_time_factor": round(manifest.duration_s / manifest.timings.music_s, 2),
        "peak_rss_gib": round(rss.overall / 2**30, 3),
    }
    if torch.cuda.is_available():
        # Stage wrappers reset the CUDA peak counter, so the song's peak is the largest stage peak.
        result["song"]["peak_gpu_gib"] = max(s.get("peak_gpu_gib", 0.0) for s in stages.values())
    result["stages"] = stages
    rss.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
