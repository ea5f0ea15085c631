"""Music engines behind one interface: ACE-Step (default) and MusicGen (transformers)."""

from __future__ import annotations

import logging
import math
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
import torch

from .errors import ModelError

log = logging.getLogger(__name__)

# ACE-Step's UI: "Use [instrumental] or [inst] to generate instrumental music."
ACESTEP_INSTRUMENTAL_LYRICS = "[instrumental]"


@dataclass(frozen=True)
class MusicJob:
    prompt: str
    lyrics: str | None  # None = instrumental
    duration_s: float
    steps: int
    guidance_scale: float
    seed: int


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32, shape (frames, channels), values in [-1, 1]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def fit_length(samples: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad (frames, channels) audio to exactly `frames` samples."""
    if samples.shape[0] >= frames:
        return samples[:frames]
    return np.pad(samples, ((0, frames - samples.shape[0]), (0, 0)))


class MusicEngine(ABC):
    name: str

    @abstractmethod
    def generate(self, job: MusicJob) -> Audio:
        """Render `job.duration_s` seconds of audio for the prompt (and lyrics, if the engine sings)."""


class AceStepEngine(MusicEngine):
    """ACEStepPipeline from the official ACE-Step repository (pinned in the Dockerfile).

    The pipeline writes its result to `save_path` (torchaudio, soundfile backend) and returns
    `[audio_path, ..., input_params]`; we read the file back, so the sample rate is whatever the
    checkpoint's vocoder produced (48 kHz stereo for ACE-Step v1).
    """

    name = "acestep"

    def __init__(self, checkpoint_dir: str, device: torch.device, dtype: torch.dtype) -> None:
        from acestep.pipeline_ace_step import ACEStepPipeline

        if dtype == torch.float16:
            # ACEStepPipeline only takes "bfloat16" or (anything else ->) float32.
            log.warning("ACE-Step does not support float16; using bfloat16")
        self.pipeline = ACEStepPipeline(
            checkpoint_dir=checkpoint_dir,
            device_id=device.index or 0,
            dtype="float32" if dtype == torch.float32 else "bfloat16",
            torch_compile=False,
            cpu_offload=False,
            overlapped_decode=False,
        )
        # Loaded now rather than lazily on the first request, so /ping only turns 200 when ready.
        self.pipeline.load_checkpoint(checkpoint_dir)

    def generate(self, job: MusicJob) -> Audio:
        with tempfile.TemporaryDirectory(prefix="acestep-") as tmp:
            save_path = os.path.join(tmp, "song.wav")
            result = self.pipeline(
                format="wav",
                audio_duration=float(job.duration_s),
                prompt=job.prompt,
                lyrics=job.lyrics if job.lyrics else ACESTEP_INSTRUMENTAL_LYRICS,
                infer_step=int(job.steps),
                guidance_scale=float(job.guidance_scale),
                manual_seeds=[int(job.seed)],
                save_path=save_path,
                batch_size=1,
            )
            paths = [p for p in result if isinstance(p, str)]
            if not paths or not os.path.exists(paths[0]):
                raise ModelError(f"ACE-Step returned no audio file (got {type(result).__name__})")
            samples, rate = sf.read(paths[0], dtype="float32", always_2d=True)
        frames = round(job.duration_s * rate)
        return Audio(np.clip(fit_length(samples, frames), -1.0, 1.0), int(rate))


class MusicgenEngine(MusicEngine):
    """MusicgenForConditionalGeneration through transformers.

    MusicGen was trained on 30 s clips, so longer songs are generated in windows: each window is
    conditioned on the last `context_s` seconds of audio so far (audiocraft's extension scheme).
    It has no lyrics input; songs from this engine are instrumental whatever the lyrics say.
    """

    name = "musicgen"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: torch.device,
        window_s: float = 30.0,
        context_s: float = 10.0,
    ) -> None:
        if not 0 < context_s < window_s:
            raise ValueError("context_s must be positive and shorter than window_s")
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        codec = model.config.audio_encoder
        self.sample_rate = int(codec.sampling_rate)
        self.frame_rate = float(codec.frame_rate)
        self.window_frames = int(window_s * self.frame_rate)
        self.context_frames = int(context_s * self.frame_rate)
        self.hop = round(self.sample_rate / self.frame_rate)

    def generate(self, job: MusicJob) -> Audio:
        text = self.tokenizer([job.prompt], return_tensors="pt", padding=True).to(self.device)
        total = math.ceil(job.duration_s * self.frame_rate)
        torch.manual_seed(job.seed)
        audio = self._window(text, min(total, self.window_frames), None, job.guidance_scale)
        while audio.shape[-1] < total * self.hop:
            context = audio[..., -self.context_frames * self.hop :]
            new = min(self.window_frames - self.context_frames, total - audio.shape[-1] // self.hop)
            window = self._window(text, new, context, job.guidance_scale)
            audio = torch.cat([audio, window[..., context.shape[-1] :]], dim=-1)
        samples = audio[0].float().cpu().numpy().T  # (channels, n) -> (n, channels)
        frames = round(job.duration_s * self.sample_rate)
        return Audio(np.clip(fit_length(samples, frames), -1.0, 1.0), self.sample_rate)

    def _window(
        self, text: Any, new_frames: int, context: torch.Tensor | None, guidance_scale: float
    ) -> torch.Tensor:
        kwargs: dict[str, Any] = {}
        if context is not None:
            # The codec encodes the context into the decoder prompt; output = context + continuation.
            kwargs["input_values"] = context.to(self.device, self.model.dtype)
        # The delay pattern offsets codebook k by k steps: the last frame needs num_codebooks - 1 more.
        extra = self.model.decoder.num_codebooks - 1
        with torch.inference_mode():
            return self.model.generate(
                **text,
                **kwargs,
                do_sample=True,
                guidance_scale=guidance_scale,
                max_new_tokens=new_frames + extra,
            )
