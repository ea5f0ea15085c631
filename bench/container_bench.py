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
import functools
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # local/ (the local identity)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker_containers" / "music"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from song_model import tiny
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
        return result

    return wrapper


# ---- real-size random-weight models (GPU) ----------------------------------------------------


def qwen2_7b_random(device: torch.device) -> tuple[Any, Any]:
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = tiny.build_qwen2_tokenizer()
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    # Qwen/Qwen2-7B-Instruct config.json
    config = Qwen2Config(
        vocab_size=152064,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        eos_token_id=im_end,
    )
    with torch.device(device):
        model = Qwen2ForCausalLM(config).eval()
    # Random logits never pick <|im_end|>: generation runs to max_new_tokens, the worst case.
    model.generation_config = GenerationConfig(eos_token_id=[im_end], pad_token_id=tokenizer.pad_token_id)
    return model, tokenizer


def sdxl_turbo_random(device: torch.device) -> Any:
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = tiny.build_clip_tokenizer()

    def clip(hidden: int, layers: int, heads: int, act: str) -> CLIPTextConfig:
        # Both encoders: CLIP's 49408-token vocabulary, a 4x MLP, projection as wide as the model.
        return CLIPTextConfig(
            vocab_size=49408,
            hidden_size=hidden,
            intermediate_size=4 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            hidden_act=act,
            projection_dim=hidden,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
        )

    with torch.device(device):
        # stabilityai/sdxl-turbo unet/, text_encoder/, text_encoder_2/, vae/ config.json
        unet = UNet2DConditionModel(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280),
            attention_head_dim=(5, 10, 20),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10),
            cross_attention_dim=2048,
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        )
        enc1 = CLIPTextModel(clip(768, layers=12, heads=12, act="quick_gelu"))
        enc2 = CLIPTextModelWithProjection(clip(1280, layers=32, heads=20, act="gelu"))
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=2,
            sample_size=512,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            scaling_factor=0.13025,
            force_upcast=True,
        )
    scheduler = tiny.sdxl_turbo_scheduler()
    return StableDiffusionXLPipeline(vae, enc1, enc2, tokenizer, tokenizer, unet, scheduler)


def musicgen_medium_random(device: torch.device) -> tuple[Any, Any]:
    from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, T5Config

    tokenizer = tiny.build_t5_tokenizer()
    # facebook/musicgen-medium config.json (t5-base text encoder, 32 kHz EnCodec, 1.5B decoder)
    config = MusicgenConfig(
        text_encoder=T5Config(vocab_size=32128, d_model=768, d_ff=3072, num_layers=12, num_heads=12),
        audio_encoder=EncodecConfig(
            sampling_rate=32000,
            audio_channels=1,
            num_filters=64,
            hidden_size=128,
            codebook_size=2048,
            upsampling_ratios=[8, 5, 4, 4],
            target_bandwidths=[2.2],
            num_lstm_layers=2,
            compress=2,
            normalize=False,
            use_causal_conv=False,
        ),
        decoder=MusicgenDecoderConfig(
            vocab_size=2048,
            hidden_size=1536,
            num_hidden_layers=48,
            ffn_dim=6144,
            num_attention_heads=24,
            num_codebooks=4,
            max_position_embeddings=2048,
            pad_token_id=2048,
            bos_token_id=2048,
            decoder_start_token_id=2048,
        ),
    )
    return tiny.random_musicgen(config, top_k=250, device=device), tokenizer


def acestep_xl_turbo_random(device: torch.device) -> Any:
    """AceStepPipeline at ACE-Step 1.5 XL turbo's published sizes, random weights.

    Sources: the acestep-v15-xl-*-diffusers model card (DiT hidden 2560, 32 layers, 32 heads,
    condition encoder 2048 wide; ~4.7B parameters), its condition encoder config.json (2048 hidden,
    6144 intermediate, 16 heads / 8 KV, 8 lyric + 4 timbre layers, text_hidden_dim 1024,
    timbre_hidden_dim 64), the 1.5 VAE config (Oobleck, 128 wide, ratios 2,4,4,6,10, multiples
    1,2,4,8,16, 64 latent channels, 48 kHz stereo) and Qwen3-Embedding-0.6B (the text encoder).
    The audio (de)tokenizer take the condition encoder's width (their own configs were not at hand;
    they only run for audio-code covers). The tokenizer is the tiny one: text length, not vocabulary,
    sets the cost.
    """
    from diffusers import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
        AceStepTransformer1DModel,
        AutoencoderOobleck,
    )
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = tiny.build_qwen2_tokenizer()
    encoder = dict(hidden_size=2048, intermediate_size=6144, num_attention_heads=16, num_key_value_heads=8)
    with torch.device(device):
        text_encoder = Qwen3Model(
            Qwen3Config(
                vocab_size=151669, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=32768,
            )
        )  # fmt: skip
        transformer = AceStepTransformer1DModel(
            hidden_size=2560, intermediate_size=9728, num_hidden_layers=32, num_attention_heads=32,
            num_key_value_heads=8, head_dim=128, in_channels=192, audio_acoustic_hidden_dim=64,
            patch_size=2, encoder_hidden_size=2048, is_turbo=True, model_version="turbo",
        )  # fmt: skip
        condition_encoder = AceStepConditionEncoder(
            text_hidden_dim=1024, timbre_hidden_dim=64, num_lyric_encoder_hidden_layers=8,
            num_timbre_encoder_hidden_layers=4, **encoder,
        )  # fmt: skip
        audio_tokenizer = AceStepAudioTokenizer(fsq_dim=2048, fsq_input_levels=[8, 8, 8, 5, 5, 5], **encoder)
        detokenizer = AceStepAudioTokenDetokenizer(**encoder)
        vae = AutoencoderOobleck(
            encoder_hidden_size=128, downsampling_ratios=[2, 4, 4, 6, 10], channel_multiples=[1, 2, 4, 8, 16],
            decoder_channels=128, decoder_input_channels=64, audio_channels=2, sampling_rate=48000,
        )  # fmt: skip
    pipeline = tiny.assemble_acestep(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        audio_tokenizer=audio_tokenizer,
        audio_token_detokenizer=detokenizer,
    )
    pipeline.vae.enable_tiling()  # as AceStepEngine.from_pretrained does
    return pipeline


def clap_music_random(device: torch.device) -> tuple[Any, Any, Any]:
    """ClapModel at laion/larger_clap_music's sizes (its config.json: HTSAT audio encoder, depths
    2/2/12/2, 1024 wide, 128-wide patch embeddings; RoBERTa-base text encoder; 512-d projection),
    random weights, with the tiny profile's feature extractor and tokenizer (the same geometry)."""
    from transformers import ClapAudioConfig, ClapConfig, ClapModel, ClapTextConfig

    _, features, tokenizer = tiny.build_clap()
    audio = ClapAudioConfig(depths=[2, 2, 12, 2], hidden_size=1024, patch_embeds_hidden_size=128)
    text = ClapTextConfig(vocab_size=50265)  # roberta-base
    with torch.device(device):
        model = ClapModel(
            ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=512)
        )
    return model.eval(), features, tokenizer


def whisper_turbo_random(device: torch.device, max_length: int = 448) -> tuple[Any, Any]:
    """WhisperForConditionalGeneration at openai/whisper-large-v3-turbo's sizes (its config.json:
    1280 wide, 32 encoder and 4 decoder layers, 20 heads, 5120 FFN, 128 mel bins, 51866 tokens),
    random weights, with the tiny profile's tokenizer: token ids past its vocabulary are never
    generated (suppressed), but the output layer computes all 51866 logits, as the real one does.
    Random weights never end a window: each runs to `max_length` tokens (its worst case)."""
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    _, small = tiny.build_whisper()
    tokenizer = small.tokenizer
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=51866, num_mel_bins=128, d_model=1280, encoder_layers=32, decoder_layers=4,
        encoder_attention_heads=20, decoder_attention_heads=20, encoder_ffn_dim=5120, decoder_ffn_dim=5120,
        max_source_positions=1500, max_target_positions=448, pad_token_id=end, bos_token_id=end,
        eos_token_id=end, decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        begin_suppress_tokens=None, suppress_tokens=None,
    )  # fmt: skip
    with torch.device(device):
        model = WhisperForConditionalGeneration(config).eval()
    # The turbo checkpoint's alignment heads are in its last decoder layers; any heads cost the same.
    generation = tiny.whisper_generation_config(tokenizer, [[2, 4], [3, 8], [3, 15]], max_length)
    generation.suppress_tokens = list(range(len(tokenizer), config.vocab_size))
    model.generation_config = generation
    return model, WhisperProcessor(WhisperFeatureExtractor(feature_size=128), tokenizer)


def random_scorer(device: torch.device, whisper_tokens: int = 448) -> Scorer:
    """The scoring models at their real sizes with random weights (CLAP music, Whisper turbo)."""
    clap, features, tokenizer = clap_music_random(device)
    whisper, processor = whisper_turbo_random(device, whisper_tokens)
    return Scorer(clap, features, tokenizer, whisper, processor, device)


def gpu_random_models(args: argparse.Namespace) -> Models:
    device = torch.device("cuda")
    dtype = torch.bfloat16
    torch.set_default_dtype(dtype)  # build straight in bf16: a fp32 7B model alone is 30 GB
    try:
        llm, llm_tok = qwen2_7b_random(device)
        image = sdxl_turbo_random(device)
        if args.engine == "acestep":
            engine: Any = AceStepEngine(acestep_xl_turbo_random(device), device)
        else:
            mg, t5 = musicgen_medium_random(device)
            engine = MusicgenEngine(mg, t5, device)
        scorer = random_scorer(device)
    finally:
        torch.set_default_dtype(torch.float32)
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
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["tiny", "gpu-random"], default="tiny")
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--steps", type=int, default=None, help="diffusion steps (default: the checkpoint's)")
    parser.add_argument("--formats", default="wav,mp3,flac")
    parser.add_argument("--engine", choices=["acestep", "musicgen"], default="acestep")
    parser.add_argument("--variants", type=int, default=1, help="takes rendered in one batch (1..4)")
    args = parser.parse_args()

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
    request = parse_request(
        {
            "job_id": "bench",
            "mode": "description",
            "description": "an upbeat summer pop song about a road trip",
            "duration_s": args.duration,
            "seed": 1,
            "variants": args.variants,
            "inference_steps": args.steps,
            "formats": args.formats.split(","),
            "output": {"bucket": "bench-bucket", "prefix": "bench/"},
        }
    )
    from moto import mock_aws

    from local import account

    account.use_local_identity(os.environ)  # S3 is moto in-process: fake credentials, none of the user's
    with mock_aws():
        import boto3

        boto3.client("s3").create_bucket(Bucket="bench-bucket")
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
