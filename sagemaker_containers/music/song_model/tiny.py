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


def _corpus() -> list[str]:
    sections = "[verse]\n[chorus]\n[bridge]\n[intro]\n[outro]\n"
    genres = ", ".join(GENRES)
    return [_WORDS, sections, genres, _WORDS.upper(), " ".join(_WORDS.split()[::-1])] * 4


def _bpe_state(tokenizer: Any) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    return model["vocab"], [tuple(pair) for pair in model["merges"]]


_QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@functools.cache
def _qwen2_bpe() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """The trained byte-level BPE (vocab, merges): trained once per process, though a tiny build
    asks for three tokenizers (LLM, turbo and base ACE-Step); each gets its own object."""
    from tokenizers import pre_tokenizers
    from transformers import Qwen2Tokenizer

    seed = Qwen2Tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=_QWEN2_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    seed.backend_tokenizer.train_from_iterator(_corpus(), trainer)
    vocab, merges = _bpe_state(seed)
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
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_qwen2_tokenizer()
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=im_end,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[im_end, tokenizer.eos_token_id], pad_token_id=tokenizer.pad_token_id
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
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        T5Config,
    )

    tokenizer = build_t5_tokenizer()
    text = T5Config(
        vocab_size=len(tokenizer), d_model=32, d_ff=64, num_layers=2, num_heads=4, d_kv=8, pad_token_id=0
    )
    codebook_size, codebooks = 64, 2
    audio = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        num_filters=4,
        hidden_size=16,
        codebook_size=codebook_size,
        upsampling_ratios=[8, 8, 5, 5],
        # num_quantizers = 1000 * bandwidth // (frame_rate * log2(codebook_size)) = 300 // 120 = 2
        target_bandwidths=[0.3],
        num_lstm_layers=1,
        compress=1,
        normalize=False,
        use_causal_conv=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=codebook_size,
        hidden_size=32,
        num_hidden_layers=2,
        ffn_dim=64,
        num_attention_heads=4,
        num_codebooks=codebooks,
        max_position_embeddings=4096,
        pad_token_id=codebook_size,
        bos_token_id=codebook_size,
        decoder_start_token_id=codebook_size,
        audio_channels=1,
    )
    config = MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)
    config.decoder_start_token_id = codebook_size
    config.pad_token_id = codebook_size
    torch.manual_seed(1)
    return random_musicgen(config, top_k=50), tokenizer


def random_musicgen(config: Any, top_k: int, device: torch.device | str = "cpu") -> Any:
    """MusicgenForConditionalGeneration with random weights, set up to generate like a checkpoint.

    Also used by bench/container_bench.py for the real-size model. The special tokens all take the
    id past the last code (decoder.pad_token_id), as in MusicGen's published configs.
    """
    from transformers import MusicgenForConditionalGeneration

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


def build_clip_tokenizer() -> Any:
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    specials = ["<|startoftext|>", "<|endoftext|>"]
    seed = CLIPTokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    seed.backend_tokenizer.train_from_iterator(_corpus(), trainer)
    vocab, merges = _bpe_state(seed)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    tokenizer.model_max_length = 77
    return tokenizer


def build_sdxl(cover_model: str = "sdxl-lightning") -> Any:
    """StableDiffusionXLPipeline with both CLIP text encoders, the SDXL UNet (text_time
    conditioning) and the KL VAE, at toy width, with the cover model's scheduler: SDXL base 1.0's
    Euler config made trailing for Lightning (its model card's recipe), sdxl-turbo's own for Turbo."""
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = build_clip_tokenizer()
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        projection_dim=32,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(2)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        # 6 micro-conditioning values x 8 + the pooled projection of text encoder 2 (32)
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,  # hidden sizes of both text encoders, concatenated
        norm_num_groups=1,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=16,
        sample_size=64,
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text_config).eval(),
        text_encoder_2=CLIPTextModelWithProjection(text_config).eval(),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet.eval(),
        scheduler=sdxl_turbo_scheduler()
        if cover_model == "sdxl-turbo"
        else lightning_scheduler(sdxl_base_scheduler().config),
    )


def sdxl_base_scheduler() -> Any:
    """stabilityai/stable-diffusion-xl-base-1.0's scheduler/scheduler_config.json."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
        interpolation_type="linear",
        prediction_type="epsilon",
        use_karras_sigmas=False,
    )


def sdxl_turbo_scheduler() -> Any:
    """stabilityai/sdxl-turbo's scheduler/scheduler_config.json (also used by the GPU benchmark)."""
    from diffusers import EulerAncestralDiscreteScheduler

    return EulerAncestralDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="trailing",
    )


def build_acestep(turbo: bool = True, share: Any = None) -> Any:
    """AceStepPipeline (ACE-Step 1.5) from its real classes with small configs and random weights.

    The shapes that must agree (checked against diffusers 0.42.1): the DiT takes 3 x the acoustic
    latent (noise, source latents, chunk mask); the condition encoder reads the text encoder's
    hidden size and acoustic-size timbre latents; the VAE encoder is 2 x acoustic wide (mean and
    scale), so the audio-input tasks (cover, repaint, extract) run too. The VAE keeps the real 48 kHz
    stereo and 1920 samples per latent (25 latents/s) but in two upsampling stages at width 1, and
    the DiT patches 8 latents per token instead of 2: a 10-minute song then renders in about half a
    minute on two CPU cores, with the real code path end to end. `turbo` selects the checkpoint kind
    the pipeline reads from the transformer config (turbo: guidance distilled; base: CFG). `share`:
    a built pipeline whose VAE, text encoder and tokenizer this one reuses, as the endpoint's base
    checkpoint reuses turbo's (AceStepEngine.from_pretrained(share=...)).
    """
    from diffusers import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
        AceStepTransformer1DModel,
        AutoencoderOobleck,
    )
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = build_qwen2_tokenizer()
    acoustic, text_hidden = 4, 32
    blocks = dict(  # shared by the DiT, the condition encoder and the audio (de)tokenizer
        hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
        sliding_window=16,
    )  # fmt: skip
    torch.manual_seed(3)
    text_encoder = Qwen3Model(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=text_hidden,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=4096,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    transformer = AceStepTransformer1DModel(
        num_hidden_layers=2,
        in_channels=3 * acoustic,
        audio_acoustic_hidden_dim=acoustic,
        patch_size=8,
        is_turbo=turbo,
        model_version="turbo" if turbo else "base",
        **blocks,
    )
    condition_encoder = AceStepConditionEncoder(
        text_hidden_dim=text_hidden,
        timbre_hidden_dim=acoustic,
        num_lyric_encoder_hidden_layers=1,
        num_timbre_encoder_hidden_layers=1,
        **blocks,
    )
    audio_tokenizer = AceStepAudioTokenizer(
        audio_acoustic_hidden_dim=acoustic,
        pool_window_size=5,
        fsq_dim=blocks["hidden_size"],
        fsq_input_levels=[8, 8, 8, 5, 5, 5],
        num_attention_pooler_hidden_layers=1,
        **blocks,
    )
    detokenizer = AceStepAudioTokenDetokenizer(
        audio_acoustic_hidden_dim=acoustic, pool_window_size=5, num_attention_pooler_hidden_layers=1, **blocks
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=2 * acoustic,
        downsampling_ratios=[48, 40],
        channel_multiples=[1, 1],
        decoder_channels=1,
        decoder_input_channels=acoustic,
        audio_channels=2,
        sampling_rate=48000,
    )
    if share is not None:
        vae, text_encoder, tokenizer = share.vae, share.text_encoder, share.tokenizer
    return assemble_acestep(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        audio_tokenizer=audio_tokenizer,
        audio_token_detokenizer=detokenizer,
    )


def assemble_acestep(tokenizer: Any, **modules: Any) -> Any:
    """AceStepPipeline from its built parts and the official scheduler config; also used by
    bench/container_bench.py for the real-size model. `modules`: the pipeline's six model
    arguments (vae, text_encoder, transformer, condition_encoder, audio_tokenizer,
    audio_token_detokenizer), put in eval mode."""
    from diffusers import AceStepPipeline

    parts = {name: module.eval() for name, module in modules.items()}
    return AceStepPipeline(tokenizer=tokenizer, scheduler=acestep_scheduler(), **parts)


def acestep_scheduler() -> Any:
    """The official conversions' scheduler config: the pipeline computes ACE-Step's shifted sigma
    schedule itself and passes it in, so the scheduler consumes timesteps in [0, 1] unshifted."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)


def _byte_level_bpe(tokenizer_class: Any, specials: list[str], **kwargs: Any) -> Any:
    """A byte-level BPE tokenizer of `tokenizer_class` trained on the built-in corpus."""
    from tokenizers import pre_tokenizers

    seed = tokenizer_class(**kwargs)
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    seed.backend_tokenizer.train_from_iterator(_corpus(), trainer)
    vocab, merges = _bpe_state(seed)
    return tokenizer_class(vocab=vocab, merges=merges, **kwargs)


def build_clap() -> tuple[Any, Any, Any]:
    """ClapModel (HTSAT audio encoder + RoBERTa text encoder) at toy width, with CLAP's feature
    extractor as laion/larger_clap_music configures it (48 kHz, 64 mel bins, 10 s) and a RoBERTa
    byte-level BPE tokenizer. Returns (model, feature extractor, tokenizer)."""
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        RobertaTokenizer,
    )

    tokenizer = _byte_level_bpe(RobertaTokenizer, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    text = ClapTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=514,
        projection_dim=16,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    # HTSAT folds 1024 mel frames x 64 bins into a 256 x 256 "image"; that stays, the width shrinks.
    audio = ClapAudioConfig(
        depths=[1, 1],
        num_attention_heads=[2, 4],
        hidden_size=32,
        patch_embeds_hidden_size=16,
        projection_dim=16,
        num_mel_bins=64,
        spec_size=256,
        enable_fusion=False,
    )
    torch.manual_seed(5)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16))
    features = ClapFeatureExtractor(
        feature_size=64, sampling_rate=48_000, hop_length=480, max_length_s=10, fft_window_size=1024,
        truncation="rand_trunc", padding="repeatpad",
    )  # fmt: skip
    return model.eval(), features, tokenizer


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


def build_whisper() -> tuple[Any, Any]:
    """WhisperForConditionalGeneration at toy width with Whisper's real input geometry (80 mel bins,
    30 s windows = 1500 encoder positions), a byte-level BPE tokenizer carrying Whisper's special
    and timestamp tokens, and a generation config like a checkpoint's. Returns (model, processor).
    Random weights never end a transcript: max_length keeps each window's decoding short."""
    from tokenizers import AddedToken
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    tokenizer = _byte_level_bpe(WhisperTokenizer, ["<|endoftext|>"])
    tokenizer.pad_token = "<|endoftext|>"  # noqa: S105 - a token, not a secret
    tokenizer.add_special_tokens({"additional_special_tokens": whisper_special_tokens()})
    tokenizer.add_tokens(
        [AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(1501)]
    )
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=64,
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    torch.manual_seed(6)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = whisper_generation_config(tokenizer, [[0, 0], [0, 1]], max_length=10)
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer)
    return model, processor
