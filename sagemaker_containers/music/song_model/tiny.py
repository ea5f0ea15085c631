"""The `tiny` profile: the real architectures with small random weights, built on this machine.

ACE-Step 1.5 (the default engine) is the diffusers AceStepPipeline with all eight parts built from
small configs. Every tokenizer is trained here from a small built-in corpus with the same tokenizer
class the real checkpoint uses (Qwen2 byte-level BPE, CLIP BPE, T5 Unigram), so the code paths (chat template,
padding, special tokens) are the ones the `full` profile runs. Nothing is downloaded. Weights are
seeded, so two processes build identical models and a request seed reproduces across restarts.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import torch
from tokenizers import trainers

from . import random_models
from .categories import GENRES
from .cover import lightning_scheduler

# Qwen2-Instruct's ChatML chat template (as in its tokenizer_config.json).
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_WORDS = """
the a and of to in love night city light heart dream fire rain summer winter sky road home time
dance feel free run fly sing song music beat rhythm soul shine star ocean wave river mountain
we you i me my your our they she he is are was be never always forever again tonight tomorrow
up down away back together alone young wild golden blue red dark bright slow fast loud quiet
guitar piano drums bass synth strings violin saxophone vocals female male choir upbeat mellow
energetic sad happy romantic dreamy epic chill groovy catchy melodic bpm tempo verse chorus
bridge intro outro hook write lyrics song about style tags genre mood instruments comma separated
answer with one only output the following which fits best this describe musical
"""


# The toy sizes, as the config classes name them; random_models builds each architecture from them.
LLM = dict(  # Qwen2, grouped-query attention like Qwen2-7B
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    max_position_embeddings=4096,
)  # fmt: skip
MUSICGEN_TEXT = dict(d_model=32, d_ff=64, num_layers=2, num_heads=4, d_kv=8, pad_token_id=0)  # T5
# EnCodec: num_quantizers = 1000 * bandwidth // (frame_rate * log2(codebook_size)) = 300 // 120 = 2
MUSICGEN_CODEC = dict(
    num_filters=4, hidden_size=16, codebook_size=64, upsampling_ratios=[8, 8, 5, 5], target_bandwidths=[0.3],
    num_lstm_layers=1, compress=1,
)  # fmt: skip
MUSICGEN_DECODER = dict(
    hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4, num_codebooks=2,
    max_position_embeddings=4096,
)  # fmt: skip
SDXL_CLIP = dict(  # both text encoders
    hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
    max_position_embeddings=77,
)  # fmt: skip
SDXL_UNET = dict(
    block_out_channels=(32, 64), layers_per_block=1, sample_size=32, attention_head_dim=(2, 4),
    addition_time_embed_dim=8, transformer_layers_per_block=(1, 1), norm_num_groups=1,
)  # fmt: skip
SDXL_VAE = dict(block_out_channels=[32, 64], norm_num_groups=16, sample_size=64)
_ACESTEP_BLOCKS = dict(  # shared by the DiT, the condition encoder and the audio (de)tokenizer
    hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
    sliding_window=16,
)  # fmt: skip
ACESTEP = random_models.AceStepSizes(
    acoustic=4, lyric_layers=1, timbre_layers=1, pooler_layers=1,
    text_encoder=dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=4096,
    ),
    dit=dict(num_hidden_layers=2, patch_size=8, **_ACESTEP_BLOCKS),
    encoder=_ACESTEP_BLOCKS,
    vae=dict(downsampling_ratios=[48, 40], channel_multiples=[1, 1], decoder_channels=1),
)  # fmt: skip
CLAP_TEXT = dict(  # RoBERTa
    hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    max_position_embeddings=514,
)  # fmt: skip
# HTSAT folds 1024 mel frames x 64 bins into a 256 x 256 "image"; that stays, the width shrinks.
CLAP_AUDIO = dict(
    depths=[1, 1], num_attention_heads=[2, 4], hidden_size=32, patch_embeds_hidden_size=16, num_mel_bins=64,
    spec_size=256, enable_fusion=False,
)  # fmt: skip
WHISPER = dict(
    num_mel_bins=80, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
    decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_target_positions=64,
)  # fmt: skip


def _corpus() -> list[str]:
    sections = "[verse]\n[chorus]\n[bridge]\n[intro]\n[outro]\n"
    genres = ", ".join(GENRES)
    return [_WORDS, sections, genres, _WORDS.upper(), " ".join(_WORDS.split()[::-1])] * 4


_QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _bpe_state(tokenizer_class: Any, specials: list[str], **trainer_options: Any) -> tuple[Any, Any]:
    """(vocab, merges) of a byte-level BPE for `tokenizer_class` trained on the built-in corpus."""
    from tokenizers import pre_tokenizers

    seed = tokenizer_class()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        **trainer_options,
    )
    seed.backend_tokenizer.train_from_iterator(_corpus(), trainer)
    model = json.loads(seed.backend_tokenizer.to_str())["model"]
    return model["vocab"], [tuple(pair) for pair in model["merges"]]


@functools.cache
def _qwen2_bpe() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """The trained byte-level BPE (vocab, merges): trained once per process, though a tiny build
    asks for three tokenizers (LLM, turbo and base ACE-Step); each gets its own object."""
    from transformers import Qwen2Tokenizer

    vocab, merges = _bpe_state(Qwen2Tokenizer, _QWEN2_SPECIALS)
    return vocab, tuple(merges)


def build_qwen2_tokenizer() -> Any:
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab, merges = _qwen2_bpe()
    tokenizer = Qwen2Tokenizer(vocab=dict(vocab), merges=list(merges))
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in _QWEN2_SPECIALS[1:]])
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    return tokenizer


def build_llm() -> tuple[Any, Any]:
    """A 2-layer Qwen2ForCausalLM with grouped-query attention like Qwen2-7B, and its tokenizer."""
    from transformers import GenerationConfig

    tokenizer = build_qwen2_tokenizer()
    torch.manual_seed(0)
    model = random_models.qwen2_llm(tokenizer, LLM)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id],
        pad_token_id=tokenizer.pad_token_id,
    )
    return model, tokenizer


def build_t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    seed = T5Tokenizer(extra_ids=0)
    trainer = trainers.UnigramTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "</s>", "<unk>"],
        unk_token="<unk>",  # noqa: S106 - a token, not a secret
        show_progress=False,
    )
    seed.backend_tokenizer.train_from_iterator(_corpus(), trainer)
    vocab = [tuple(piece) for piece in json.loads(seed.backend_tokenizer.to_str())["model"]["vocab"]]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def build_musicgen() -> tuple[Any, Any]:
    """MusicgenForConditionalGeneration (T5 text encoder, EnCodec codec, MusicGen decoder), tiny.

    EnCodec keeps the real 32 kHz sample rate; a hop of 1600 samples (20 frames/s instead of 50)
    keeps autoregressive decoding short on CPU.
    """
    tokenizer = build_t5_tokenizer()
    torch.manual_seed(1)
    text = {"vocab_size": len(tokenizer), **MUSICGEN_TEXT}
    return random_models.musicgen(text, MUSICGEN_CODEC, MUSICGEN_DECODER, top_k=50), tokenizer


def build_clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab, merges = _bpe_state(CLIPTokenizer, ["<|startoftext|>", "<|endoftext|>"], end_of_word_suffix="</w>")
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    tokenizer.model_max_length = 77
    return tokenizer


def build_sdxl(cover_model: str = "sdxl-lightning") -> Any:
    """StableDiffusionXLPipeline at toy width (one CLIP size for both text encoders), with the cover
    model's scheduler: SDXL base 1.0's Euler config made trailing for Lightning (its model card's
    recipe), sdxl-turbo's own for Turbo."""
    tokenizer = build_clip_tokenizer()
    clip = {"vocab_size": len(tokenizer), **SDXL_CLIP}
    scheduler = (
        sdxl_turbo_scheduler()
        if cover_model == "sdxl-turbo"
        else lightning_scheduler(sdxl_base_scheduler().config)
    )
    torch.manual_seed(2)
    return random_models.sdxl(tokenizer, (clip, clip), SDXL_UNET, SDXL_VAE, scheduler)


# SDXL's training noise schedule: both checkpoints' scheduler configs start from it.
_SDXL_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1}


def sdxl_base_scheduler() -> Any:
    """stabilityai/stable-diffusion-xl-base-1.0's scheduler/scheduler_config.json."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        timestep_spacing="leading",
        interpolation_type="linear",
        prediction_type="epsilon",
        use_karras_sigmas=False,
        **_SDXL_BETAS,
    )


def sdxl_turbo_scheduler() -> Any:
    """stabilityai/sdxl-turbo's scheduler/scheduler_config.json (also used by the GPU benchmark)."""
    from diffusers import EulerAncestralDiscreteScheduler

    return EulerAncestralDiscreteScheduler(timestep_spacing="trailing", **_SDXL_BETAS)


def build_acestep(turbo: bool = True, share: Any = None) -> Any:
    """AceStepPipeline (ACE-Step 1.5) from its real classes with small configs and random weights
    (checked against diffusers 0.42.1), so the audio-input tasks (cover, repaint, extract) run too.

    The VAE keeps the real 48 kHz stereo and 1920 samples per latent (25 latents/s) but in two
    upsampling stages at width 1, and the DiT patches 8 latents per token instead of 2: a 10-minute
    song then renders in about half a minute on two CPU cores, with the real code path end to end.
    `turbo` and `share`: as random_models.acestep takes them.
    """
    tokenizer = build_qwen2_tokenizer()
    torch.manual_seed(3)
    return random_models.acestep(tokenizer, ACESTEP, turbo=turbo, share=share)


def _byte_level_bpe(tokenizer_class: Any, specials: list[str]) -> Any:
    """A byte-level BPE tokenizer of `tokenizer_class` trained on the built-in corpus."""
    vocab, merges = _bpe_state(tokenizer_class, specials)
    return tokenizer_class(vocab=vocab, merges=merges)


def build_clap() -> tuple[Any, Any, Any]:
    """ClapModel (HTSAT audio encoder + RoBERTa text encoder) at toy width, with CLAP's feature
    extractor as laion/larger_clap_music configures it (48 kHz, 64 mel bins, 10 s) and a RoBERTa
    byte-level BPE tokenizer. Returns (model, feature extractor, tokenizer)."""
    from transformers import ClapFeatureExtractor, RobertaTokenizer

    tokenizer = _byte_level_bpe(RobertaTokenizer, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    torch.manual_seed(5)
    text = {"vocab_size": len(tokenizer), **CLAP_TEXT}
    model = random_models.clap(tokenizer, text, CLAP_AUDIO, projection_dim=16)
    features = ClapFeatureExtractor(
        feature_size=64, sampling_rate=48_000, hop_length=480, max_length_s=10, fft_window_size=1024,
        truncation="rand_trunc", padding="repeatpad",
    )  # fmt: skip
    return model, features, tokenizer


def whisper_special_tokens() -> list[str]:
    """Whisper's special tokens in its vocabulary's order (after <|endoftext|>); the timestamp
    tokens <|0.00|>..<|30.00|> follow them."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [
        "<|startoftranscript|>",
        *[f"<|{code}|>" for code in LANGUAGES],
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
    ]


def build_whisper_tokenizer() -> Any:
    """A byte-level BPE WhisperTokenizer carrying Whisper's special and timestamp tokens."""
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    tokenizer = _byte_level_bpe(WhisperTokenizer, ["<|endoftext|>"])
    tokenizer.pad_token = "<|endoftext|>"  # noqa: S105 - a token, not a secret
    tokenizer.add_special_tokens({"additional_special_tokens": whisper_special_tokens()})
    tokenizer.add_tokens(
        [AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(1501)]
    )
    return tokenizer


def build_whisper() -> tuple[Any, Any]:
    """WhisperForConditionalGeneration at toy width with Whisper's real input geometry (80 mel bins,
    30 s windows = 1500 encoder positions) and a generation config like a checkpoint's. Returns
    (model, processor). Random weights never end a transcript: max_length keeps each window's
    decoding short."""
    tokenizer = build_whisper_tokenizer()
    torch.manual_seed(6)
    return random_models.whisper(tokenizer, WHISPER, [[0, 0], [0, 1]], max_length=10)
