"""Each model's architecture with random weights, built from its sizes.

One place knows each config's shape: which fields follow from others (widths that must agree,
special tokens from the tokenizer, the conditioning an SDXL UNet reads). The sizes are arguments,
as dicts of the config classes' own field names: the tiny profile (tiny.py) passes toy sizes, the
GPU benchmark (bench/container_bench.py) the published ones. Callers seed torch when they need
reproducible weights; `device` builds the weights where they will run (no copy on the CPU first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

Sizes = Mapping[str, Any]


def qwen2_llm(tokenizer: Any, sizes: Sizes, vocab_size: int | None = None, device: Any = "cpu") -> Any:
    """Qwen2ForCausalLM (an Instruct model: a turn ends at <|im_end|>); vocab_size: the tokenizer's
    unless given. The caller sets the generation config."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size or len(tokenizer),
        tie_word_embeddings=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        **sizes,
    )
    with torch.device(device):
        return Qwen2ForCausalLM(config).eval()


def musicgen(text: Sizes, codec: Sizes, decoder: Sizes, top_k: int, device: Any = "cpu") -> Any:
    """MusicgenForConditionalGeneration: a T5 text encoder (`text`: its full T5Config), a 32 kHz
    mono EnCodec (`codec`, with its codebook_size) and the MusicGen decoder over those codes.

    The special tokens all take the id past the last code, as in MusicGen's published configs.
    """
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    codes = codec["codebook_size"]
    config = MusicgenConfig(
        text_encoder=T5Config(**text),
        audio_encoder=EncodecConfig(
            sampling_rate=32000, audio_channels=1, normalize=False, use_causal_conv=False, **codec
        ),
        decoder=MusicgenDecoderConfig(
            vocab_size=codes,
            pad_token_id=codes,
            bos_token_id=codes,
            decoder_start_token_id=codes,
            audio_channels=1,
            **decoder,
        ),
    )
    config.decoder_start_token_id = config.pad_token_id = codes
    with torch.device(device):
        model = MusicgenForConditionalGeneration(config).eval()
    # EnCodec's codebooks are buffers that start at zero (training fills them by k-means): left so,
    # every code decodes to the same vector and the audio would not depend on what was generated.
    for name, buffer in model.audio_encoder.named_buffers():
        if name.endswith("codebook.embed"):
            buffer.normal_()
    gen = model.generation_config
    gen.decoder_start_token_id = gen.pad_token_id = gen.bos_token_id = config.decoder.pad_token_id
    gen.do_sample, gen.top_k = True, top_k
    return model


def sdxl(
    tokenizer: Any,
    text_encoders: tuple[Sizes, Sizes],
    unet: Sizes,
    vae: Sizes,
    scheduler: Any,
    device: Any = "cpu",
) -> Any:
    """StableDiffusionXLPipeline: two CLIP text encoders (`text_encoders`: their CLIPTextConfig
    sizes; one tokenizer serves both), the SDXL UNet with text_time conditioning and the KL VAE.

    The UNet's first block is plain and the others cross-attend (the VAE's blocks likewise count
    from `block_out_channels`); it attends to both encoders' hidden states side by side and its
    added embedding reads 6 micro-conditioning values plus encoder 2's pooled projection.
    """
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokens = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    text_configs = [CLIPTextConfig(**tokens, **sizes) for sizes in text_encoders]
    blocks = len(unet["block_out_channels"]) - 1
    vae_blocks = len(vae["block_out_channels"])
    with torch.device(device):
        unet_model = UNet2DConditionModel(
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * blocks,
            up_block_types=("CrossAttnUpBlock2D",) * blocks + ("UpBlock2D",),
            use_linear_projection=True,
            addition_embed_type="text_time",
            cross_attention_dim=sum(config.hidden_size for config in text_configs),
            projection_class_embeddings_input_dim=6 * unet["addition_time_embed_dim"]
            + text_configs[1].projection_dim,
            **unet,
        )
        vae_model = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=("DownEncoderBlock2D",) * vae_blocks,
            up_block_types=("UpDecoderBlock2D",) * vae_blocks,
            **vae,
        )
        text_encoder = CLIPTextModel(text_configs[0]).eval()
        text_encoder_2 = CLIPTextModelWithProjection(text_configs[1]).eval()
    return StableDiffusionXLPipeline(
        vae=vae_model,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet_model.eval(),
        scheduler=scheduler,
    )


@dataclass(frozen=True)
class AceStepSizes:
    """An ACE-Step 1.5 checkpoint's sizes; `acoustic`: the acoustic latent's channels."""

    acoustic: int
    text_encoder: Sizes  # Qwen3Config (the text encoder)
    dit: Sizes  # AceStepTransformer1DModel
    encoder: Sizes  # the widths of the condition encoder and the audio (de)tokenizer
    vae: Sizes  # AutoencoderOobleck: its ratios, channel multiples and decoder width
    lyric_layers: int
    timbre_layers: int
    pooler_layers: int  # the audio (de)tokenizer's attention pooler


def acestep(
    tokenizer: Any,
    sizes: AceStepSizes,
    turbo: bool = True,
    share: Any = None,
    vocab_size: int | None = None,
    device: Any = "cpu",
) -> Any:
    """AceStepPipeline (ACE-Step 1.5): the Qwen3 text encoder, the DiT, the condition encoder, the
    audio (de)tokenizer and the Oobleck VAE (48 kHz stereo), with the official scheduler config.

    The widths that must agree: the DiT takes 3 x the acoustic latent (noise, source latents,
    chunk mask); the condition encoder reads the text encoder's hidden size and acoustic-size timbre
    latents; the VAE encoder is 2 x acoustic wide (mean and scale). `turbo` selects the checkpoint
    kind the pipeline reads from the transformer config (turbo: guidance distilled; base: CFG).
    `share`: a built pipeline whose VAE, text encoder and tokenizer this one reuses, as the
    endpoint's base checkpoint reuses turbo's (AceStepEngine.from_pretrained(share=...)).
    """
    from diffusers import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
        AceStepPipeline,
        AceStepTransformer1DModel,
        AutoencoderOobleck,
    )
    from transformers import Qwen3Config, Qwen3Model

    acoustic, encoder = sizes.acoustic, sizes.encoder
    pooler = {"pool_window_size": 5, "num_attention_pooler_hidden_layers": sizes.pooler_layers}
    text_config = Qwen3Config(
        vocab_size=vocab_size or len(tokenizer), pad_token_id=tokenizer.pad_token_id, **sizes.text_encoder
    )
    with torch.device(device):
        modules = {
            "text_encoder": Qwen3Model(text_config),
            "transformer": AceStepTransformer1DModel(
                in_channels=3 * acoustic,
                audio_acoustic_hidden_dim=acoustic,
                is_turbo=turbo,
                model_version="turbo" if turbo else "base",
                **sizes.dit,
            ),
            "condition_encoder": AceStepConditionEncoder(
                text_hidden_dim=text_config.hidden_size,
                timbre_hidden_dim=acoustic,
                num_lyric_encoder_hidden_layers=sizes.lyric_layers,
                num_timbre_encoder_hidden_layers=sizes.timbre_layers,
                **encoder,
            ),
            "audio_tokenizer": AceStepAudioTokenizer(
                audio_acoustic_hidden_dim=acoustic,
                fsq_dim=encoder["hidden_size"],
                fsq_input_levels=[8, 8, 8, 5, 5, 5],
                **pooler,
                **encoder,
            ),
            "audio_token_detokenizer": AceStepAudioTokenDetokenizer(
                audio_acoustic_hidden_dim=acoustic, **pooler, **encoder
            ),
            "vae": AutoencoderOobleck(
                encoder_hidden_size=2 * acoustic,
                decoder_input_channels=acoustic,
                audio_channels=2,
                sampling_rate=48000,
                **sizes.vae,
            ),
        }
    if share is not None:
        modules.update(vae=share.vae, text_encoder=share.text_encoder)
        tokenizer = share.tokenizer
    parts = {name: module.eval() for name, module in modules.items()}
    return AceStepPipeline(tokenizer=tokenizer, scheduler=acestep_scheduler(), **parts)


def acestep_scheduler() -> Any:
    """The official conversions' scheduler config: the pipeline computes ACE-Step's shifted sigma
    schedule itself and passes it in, so the scheduler consumes timesteps in [0, 1] unshifted."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)


def clap(tokenizer: Any, text: Sizes, audio: Sizes, projection_dim: int, device: Any = "cpu") -> Any:
    """ClapModel: a RoBERTa text encoder (`text`: its ClapTextConfig sizes, vocabulary included)
    and an HTSAT audio encoder, both projected to `projection_dim`."""
    from transformers import ClapAudioConfig, ClapConfig, ClapModel, ClapTextConfig

    text_config = ClapTextConfig(
        projection_dim=projection_dim,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **text,
    )
    audio_config = ClapAudioConfig(projection_dim=projection_dim, **audio)
    config = ClapConfig(
        text_config=text_config.to_dict(), audio_config=audio_config.to_dict(), projection_dim=projection_dim
    )
    with torch.device(device):
        return ClapModel(config).eval()


def whisper(
    tokenizer: Any,
    sizes: Sizes,
    alignment_heads: list[list[int]],
    max_length: int,
    vocab_size: int | None = None,
    device: Any = "cpu",
) -> tuple[Any, Any]:
    """WhisperForConditionalGeneration with 30 s windows (1500 encoder positions), its generation
    config like a checkpoint's and its processor. Returns (model, processor). With a vocabulary
    larger than the tokenizer's, the ids past it are never generated (suppressed), but the output
    layer computes every logit, as the real one does."""
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=vocab_size or len(tokenizer),
        max_source_positions=1500,
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        begin_suppress_tokens=None,
        suppress_tokens=None,
        **sizes,
    )
    with torch.device(device):
        model = WhisperForConditionalGeneration(config).eval()
    generation = whisper_generation_config(tokenizer, alignment_heads, max_length)
    if config.vocab_size > len(tokenizer):
        generation.suppress_tokens = list(range(len(tokenizer), config.vocab_size))
    model.generation_config = generation
    return model, WhisperProcessor(WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer)


def whisper_generation_config(tokenizer: Any, alignment_heads: list[list[int]], max_length: int) -> Any:
    """The generation config a Whisper checkpoint ships (multilingual, language and task tokens,
    timestamp rules, cross-attention heads for word timestamps), for `tokenizer`'s ids."""
    from transformers import GenerationConfig
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    ids = tokenizer.convert_tokens_to_ids
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return GenerationConfig(
        decoder_start_token_id=ids("<|startoftranscript|>"),
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
        is_multilingual=True,
        lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in LANGUAGES},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50,
        begin_suppress_tokens=[end],
        alignment_heads=alignment_heads,
        max_length=max_length,
        num_beams=1,
        do_sample=False,
    )
