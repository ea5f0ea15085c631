"""The two models that judge a take: CLAP (does it sound like its style prompt?) and Whisper (are
the words sung, and when?).

- `text_audio`: transformers' `ClapModel` (default `laion/larger_clap_music`, trained on music):
  the take's audio embedding, the mean of the normalised embeddings of up to MAX_CLAP_WINDOWS 10 s
  windows spread evenly over the take (CLAP's input length), against the style prompt's text
  embedding, as a cosine.
- `transcribe`: transformers' Whisper (default `openai/whisper-large-v3-turbo`) through the
  automatic-speech-recognition pipeline, long-form (OpenAI's sequential 30 s windows) with word
  timestamps from the cross-attention alignment (`return_timestamps="word"`), all takes in one
  batch. The request's `vocal_language` is passed when Whisper knows it, otherwise Whisper detects
  the language. song_model.lyrics_timing compares the words with the lyrics.

Both run where the other models run (the GPU); `Scorer.modules` is what the residency places.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .analysis import analysis_mono
from .lyrics_timing import HeardWord

log = logging.getLogger(__name__)

CLAP_RATE = 48_000
CLAP_WINDOW_S = 10.0
MAX_CLAP_WINDOWS = 12
CLAP_BATCH = 16
WHISPER_RATE = 16_000


def clap_windows(mono: np.ndarray, rate: int = CLAP_RATE) -> list[np.ndarray]:
    """Windows of CLAP_WINDOW_S evenly spread to cover the take, at most MAX_CLAP_WINDOWS (a shorter
    take is one window, which the feature extractor pads by repeating it)."""
    size = round(CLAP_WINDOW_S * rate)
    if len(mono) <= size:
        return [mono]
    count = min(MAX_CLAP_WINDOWS, math.ceil(len(mono) / size))
    starts = np.linspace(0, len(mono) - size, count).round().astype(int)
    return [mono[start : start + size] for start in starts]


class Scorer:
    def __init__(
        self,
        clap: Any,
        clap_feature_extractor: Any,
        clap_tokenizer: Any,
        whisper: Any,
        whisper_processor: Any,
        device: torch.device,
        cpu_threads: int | None = None,
    ) -> None:
        """`cpu_threads`: torch's intra-op threads while scoring on a CPU (None: torch's own
        setting). The tiny profile uses 1: with toy-sized models, sharing each small op between
        threads costs more than the op (10x slower on a busy 2-core machine)."""
        from transformers import pipeline

        self.clap = clap.eval()
        self.clap_features = clap_feature_extractor
        self.clap_tokenizer = clap_tokenizer
        self.whisper = whisper.eval()
        self.device = device
        self.asr = pipeline(
            "automatic-speech-recognition",
            model=whisper,
            tokenizer=whisper_processor.tokenizer,
            feature_extractor=whisper_processor.feature_extractor,
            device=device,
            dtype=whisper.dtype,
        )
        self.languages = set(whisper.generation_config.lang_to_id or {})
        # Word timestamps read the decoder's cross-attention weights, so generate() asks every layer
        # for its attention weights, the encoder's too: 32 layers of [takes, 20, 1500, 1500], 2.9 GB
        # a take in bf16, held for the whole generation. Only the decoder's are read: the encoder is
        # told not to keep its own.
        whisper.model.encoder.register_forward_pre_hook(_without_attentions, with_kwargs=True)
        self.cpu_threads = cpu_threads if device.type == "cpu" else None

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        if self.cpu_threads is None:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(self.cpu_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @property
    def modules(self) -> list[torch.nn.Module]:
        return [self.clap, self.whisper]

    def text_audio(self, takes: list[np.ndarray], rate: int, prompt: str) -> list[float]:
        """The CLAP cosine between each take and the prompt."""
        windows: list[np.ndarray] = []
        owner: list[int] = []
        for index, samples in enumerate(takes):
            for window in clap_windows(analysis_mono(samples, rate, CLAP_RATE)):
                windows.append(window)
                owner.append(index)
        with torch.inference_mode(), self._threads():
            text = self.clap_tokenizer([prompt], padding=True, truncation=True, return_tensors="pt")
            text_embedding = self.clap.get_text_features(**text.to(self.device)).pooler_output[0].float()
            audio_embeddings = []
            for start in range(0, len(windows), CLAP_BATCH):
                features = self.clap_features(
                    windows[start : start + CLAP_BATCH], sampling_rate=CLAP_RATE, return_tensors="pt"
                )
                features = features.to(self.device)
                features["input_features"] = features["input_features"].to(self.clap.dtype)
                audio_embeddings.append(self.clap.get_audio_features(**features).pooler_output.float())
            embeddings = torch.cat(audio_embeddings)
        owners = torch.tensor(owner, device=embeddings.device)
        scores = []
        for index in range(len(takes)):
            mean = torch.nn.functional.normalize(embeddings[owners == index].mean(dim=0), dim=-1)
            scores.append(round(float(mean @ text_embedding), 4))
        return scores

    def transcribe(self, takes: list[np.ndarray], rate: int, language: str | None) -> list[list[HeardWord]]:
        """Each take's recognised words with their times."""
        inputs = [
            {"raw": analysis_mono(samples, rate, WHISPER_RATE), "sampling_rate": WHISPER_RATE}
            for samples in takes
        ]
        generate: dict[str, Any] = {"task": "transcribe"}
        if language and f"<|{language}|>" in self.languages:
            generate["language"] = language
        with torch.inference_mode(), self._threads():
            results = self.asr(
                inputs, return_timestamps="word", generate_kwargs=generate, batch_size=len(inputs)
            )
        return [_words(result, len(samples) / rate) for result, samples in zip(results, takes, strict=True)]


def _without_attentions(
    module: torch.nn.Module, args: Any, kwargs: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    return args, {**kwargs, "output_attentions": False}


def _words(result: dict[str, Any], duration_s: float) -> list[HeardWord]:
    """The pipeline's word chunks as HeardWords. Whisper works on 30 s windows, so a word can be
    placed in the silence that pads the last window: times are clamped to the take."""
    words = []
    for chunk in result.get("chunks", []):
        start, end = chunk["timestamp"]
        if start is None:
            continue
        start = min(float(start), duration_s)
        end = min(max(float(end if end is not None else start), start), duration_s)
        words.append(HeardWord(chunk["text"], start, end))
    return words
