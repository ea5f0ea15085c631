"""Music engines behind one interface: ACE-Step 1.5 (diffusers AceStepPipeline, the default) and
MusicGen (transformers).

An engine takes a MusicJob (words, length, seed, optional sampling settings and music metadata,
optionally an audio input for the audio-to-audio tasks) and returns the audio at the engine's own
sample rate. Sampling settings left as None take the loaded checkpoint's recommended values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .errors import ValidationFailed

log = logging.getLogger(__name__)

TEXT2MUSIC = "text2music"
# ACE-Step 1.5's task types (diffusers AceStepPipeline `task_type`): the guidance-distilled turbo
# checkpoints were trained for the first three, base/sft checkpoints for all six.
TURBO_TASKS = (TEXT2MUSIC, "cover", "repaint")
BASE_TASKS = (*TURBO_TASKS, "extract", "lego", "complete")
# ACE-Step's convention for a song without vocals (its docs: lyrics "[Instrumental]").
ACESTEP_INSTRUMENTAL_LYRICS = "[Instrumental]"


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32, shape (frames, channels), values in [-1, 1]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


@dataclass(frozen=True)
class MusicMetadata:
    """What ACE-Step conditions on besides the words (None = the model decides)."""

    bpm: int | None = None
    key: str | None = None  # "C major", "F# minor"
    time_signature: int | None = None  # beats per bar: 2, 3, 4 or 6 (6/8)
    vocal_language: str | None = None  # ISO 639-1, e.g. "en"


@dataclass(frozen=True)
class AudioInput:
    """The audio-to-audio tasks: the source track (and a timbre reference) at the engine's rate.

    `reference` (a persona's clip) conditions the timbre of any task, text2music included (then
    with no source). task: cover (restyle `source`, `strength` 0..1 keeps its structure), repaint (regenerate
    `start_s`..`end_s` of `source`), extract / lego (`track_name`, e.g. "vocals"), complete
    (`track_classes`). Which tasks run depends on the checkpoint: `MusicEngine.tasks`.
    """

    task: str
    source: Audio | None = None
    reference: Audio | None = None
    start_s: float | None = None
    end_s: float | None = None
    track_name: str | None = None
    track_classes: tuple[str, ...] = ()
    strength: float = 1.0


@dataclass(frozen=True)
class MusicJob:
    prompt: str
    lyrics: str | None  # None = instrumental
    duration_s: float
    seed: int
    steps: int | None = None  # None = the checkpoint's recommended value
    guidance_scale: float | None = None  # None = the checkpoint's recommended value
    metadata: MusicMetadata = field(default_factory=MusicMetadata)
    audio_input: AudioInput | None = None


@dataclass(frozen=True)
class Sampling:
    """The settings a job actually runs with (reported in the manifest)."""

    steps: int | None  # None: the engine has no step count (autoregressive)
    guidance_scale: float | None  # None: the checkpoint does not use guidance (turbo)


def take_seeds(seed: int, takes: int) -> list[int]:
    """Take k (1-based) of a request renders with seed + k - 1: each take has its own seed, and a
    single render with that seed reproduces it (up to floating-point batch effects)."""
    return [(seed + k) % 2**32 for k in range(takes)]


def fit_length(samples: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad (frames, channels) audio to exactly `frames` samples."""
    if samples.shape[0] >= frames:
        return samples[:frames]
    return np.pad(samples, ((0, frames - samples.shape[0]), (0, 0)))


class MusicEngine(ABC):
    name: str
    sample_rate: int
    tasks: tuple[str, ...] = (TEXT2MUSIC,)
    # Whether AudioInput.reference (a persona's timbre reference) conditions this engine.
    takes_reference: bool = False

    @abstractmethod
    def sampling(self, job: MusicJob) -> Sampling:
        """The job's steps and guidance, with the checkpoint's defaults where the job has None."""

    @abstractmethod
    def generate(self, job: MusicJob) -> Audio:
        """Render exactly `job.duration_s` seconds of audio for the job."""

    def generate_takes(self, job: MusicJob, seeds: list[int]) -> list[Audio]:
        """One take per seed (the job's own seed is ignored). This default renders them one after
        another; an engine whose model takes a batch overrides it to render them together."""
        return [self.generate(dataclasses.replace(job, seed=seed)) for seed in seeds]

    def check_task(self, job: MusicJob) -> str:
        task = job.audio_input.task if job.audio_input else TEXT2MUSIC
        if task not in self.tasks:
            raise ValidationFailed(
                f"task {task!r} is not supported by the {self.name} engine's checkpoint "
                f"(supported: {', '.join(self.tasks)})"
            )
        if job.audio_input and job.audio_input.reference is not None:
            self.check_reference()
        return task

    def check_reference(self) -> None:
        """A timbre reference (a persona) this engine would ignore is refused, not dropped."""
        if not self.takes_reference:
            raise ValidationFailed(f"personas need the acestep engine: {self.name} takes no timbre reference")


class AceStepEngine(MusicEngine):
    """ACE-Step 1.5 through diffusers' AceStepPipeline (built in memory, or from_pretrained).

    Defaults follow the checkpoint kind the transformer config declares (`is_turbo`/`model_version`,
    read by the pipeline as `is_turbo`), per the diffusers ACE-Step docs and ACE-Step's INFERENCE.md:
    turbo is guidance-distilled: 8 steps, shift 3.0, guidance not used (a requested guidance_scale
    is ignored); base/sft run classifier-free guidance: 7.0, with 50 steps (ACE-Step recommends
    32-64 for base) and shift 3.0.
    """

    name = "acestep"
    takes_reference = True
    TURBO_STEPS = 8
    BASE_STEPS = 50
    BASE_GUIDANCE = 7.0
    SHIFT = 3.0

    def __init__(self, pipeline: Any, device: torch.device) -> None:
        self.pipeline = pipeline
        # One bar per request in the endpoint's logs is noise; timings go in the manifest.
        pipeline.set_progress_bar_config(disable=True)
        # Encode sources and decode songs in 30 s tiles, whatever the weights: a 10-minute canvas
        # is 28.8M samples per channel, and the VAE's full-rate activations grow with it (the real
        # VAE's would not fit beside the LLM and SDXL; even the tiny profile's took ~36 MB per
        # second of canvas, about 21 GB at 600 s, without tiles). One take at a time (slicing):
        # 4 takes' activations at once would take ~5 GiB (docs/container.md, "GPU memory").
        pipeline.vae.enable_tiling()
        pipeline.vae.enable_slicing()
        self.device = device
        self.turbo = bool(pipeline.is_turbo)
        self.tasks = TURBO_TASKS if self.turbo else BASE_TASKS
        self.sample_rate = int(pipeline.sample_rate)
        # Audio samples per latent step: the product of the VAE's downsampling ratios (1920 for
        # ACE-Step 1.5's Oobleck VAE: 25 latents/s at 48 kHz).
        self.latent_hop = math.prod(pipeline.vae.config.downsampling_ratios)

    @classmethod
    def from_pretrained(
        cls,
        source: str,
        device: torch.device,
        dtype: torch.dtype,
        share: AceStepEngine | None = None,
        to_device: bool = True,
    ) -> AceStepEngine:
        """A diffusers-format checkpoint folder (model_index.json + one folder per part) or hub id.

        `share`: an engine already loaded whose VAE, text encoder and tokenizer this one reuses
        (turbo and base checkpoints ship the same ones), so a second checkpoint costs only its DiT
        and condition encoder in GPU memory. `to_device=False` leaves the checkpoint's own parts in
        host memory for the caller to place (the stems checkpoint is offloaded by default).
        """
        from diffusers import AceStepPipeline

        shared: dict[str, Any] = {}
        if share is not None:
            parts = share.pipeline
            shared = {"vae": parts.vae, "text_encoder": parts.text_encoder, "tokenizer": parts.tokenizer}
        pipeline = AceStepPipeline.from_pretrained(source, torch_dtype=dtype, **shared)
        if to_device:
            pipeline.to(device)
        return cls(pipeline, device)

    def sampling(self, job: MusicJob) -> Sampling:
        if self.turbo:
            return Sampling(job.steps or self.TURBO_STEPS, None)
        guidance = self.BASE_GUIDANCE if job.guidance_scale is None else job.guidance_scale
        return Sampling(job.steps or self.BASE_STEPS, guidance)

    def generate(self, job: MusicJob) -> Audio:
        return self.generate_takes(job, [job.seed])[0]

    def generate_takes(self, job: MusicJob, seeds: list[int]) -> list[Audio]:
        """All takes in one batch: the pipeline takes lists of prompts and generators (the source
        audio of the audio-to-audio tasks is shared across the batch)."""
        task = self.check_task(job)
        sampling = self.sampling(job)
        meta = job.metadata
        takes = len(seeds)
        # A CPU generator gives the same starting noise on any device, so a seed reproduces a song
        # whether it ran on the GPU endpoint or the local stack's CPU (same weights assumed).
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
        rng = self._seeded_global_rng(seeds[0]) if job.audio_input else contextlib.nullcontext()
        with rng, torch.inference_mode():
            output = self.pipeline(
                prompt=[job.prompt] * takes,
                lyrics=[job.lyrics or ACESTEP_INSTRUMENTAL_LYRICS] * takes,
                audio_duration=float(job.duration_s),
                num_inference_steps=sampling.steps,
                # 1.0 = no guidance; turbo would ignore (and warn about) anything higher.
                guidance_scale=sampling.guidance_scale or 1.0,
                shift=self.SHIFT,
                generator=generators,
                bpm=meta.bpm,
                keyscale=meta.key,
                timesignature=str(meta.time_signature) if meta.time_signature else None,
                # "unknown" is ACE-Step's own value for "let the model infer the language".
                vocal_language=meta.vocal_language or "unknown",
                task_type=task,
                **self._audio_kwargs(job.audio_input),
            )
        # (batch, channels, samples) -> (samples, channels) per take; the audio is a whole number of
        # latent steps (source audio is padded up to one, text2music rounds up to one), so it can run
        # up to one step (40 ms) past the request: cut it to the exact length.
        frames = round(job.duration_s * self.sample_rate)
        return [
            Audio(np.clip(fit_length(audio.float().cpu().numpy().T, frames), -1.0, 1.0), self.sample_rate)
            for audio in output.audios
        ]

    @contextlib.contextmanager
    def _seeded_global_rng(self, seed: int) -> Iterator[None]:
        """torch's global RNG seeded with `seed` inside the block, its state restored after (CPU and
        this engine's CUDA device). With source audio, the pipeline's VAE encode samples the latent
        distribution from the global RNG (diffusers passes it no generator): seeding it per request
        makes a seed reproduce the audio-in tasks too."""
        cuda: list[int] = []
        if self.device.type == "cuda":
            cuda = [self.device.index if self.device.index is not None else torch.cuda.current_device()]
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            yield

    def _audio_kwargs(self, audio_input: AudioInput | None) -> dict[str, Any]:
        if audio_input is None:
            return {}
        source, end_s = audio_input.source, audio_input.end_s
        if source is not None and end_s is not None and end_s >= source.duration_s:
            # A window to the source's end (extend) also covers the padding _tensor adds (the
            # pipeline floors end_s to a latent step): None = to the last latent.
            end_s = None
        return {
            "src_audio": self._tensor(audio_input.source, pad=True),
            # Any task, text2music included: the condition encoder's timbre encoder takes it in
            # place of its learned silence latent. The pipeline makes it 30 s itself (persona.py).
            "reference_audio": self._tensor(audio_input.reference, pad=False),
            "repainting_start": audio_input.start_s,
            "repainting_end": end_s,
            "track_name": audio_input.track_name,
            "complete_track_classes": list(audio_input.track_classes) or None,
            "audio_cover_strength": audio_input.strength,
        }

    def _tensor(self, audio: Audio | None, pad: bool) -> torch.Tensor | None:
        if audio is None:
            return None
        if audio.sample_rate != self.sample_rate:
            raise ValidationFailed(f"input audio must be {self.sample_rate} Hz, got {audio.sample_rate} Hz")
        tensor = torch.from_numpy(np.ascontiguousarray(audio.samples.T, dtype=np.float32))
        if not pad:
            return tensor
        # The VAE encoder floors to whole latent steps, and the pipeline takes the latent length
        # from the encoded source: a source that ends mid-step would decode up to one step short,
        # and fit_length would fill the tail with zeros. Zero-pad up to a whole step instead.
        short = -tensor.shape[-1] % self.latent_hop
        return torch.nn.functional.pad(tensor, (0, short)) if short else tensor


class MusicgenEngine(MusicEngine):
    """MusicgenForConditionalGeneration through transformers.

    MusicGen was trained on 30 s clips, so longer songs are generated in windows: each window is
    conditioned on the last `context_s` seconds of audio so far (audiocraft's extension scheme).
    It has no lyrics input; songs from this engine are instrumental whatever the lyrics say, and it
    ignores the music metadata and the step count (it samples one token per codec frame).
    """

    name = "musicgen"
    # MusicGen's published generation_config.json: guidance_scale 3.0.
    GUIDANCE = 3.0

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

    def sampling(self, job: MusicJob) -> Sampling:
        return Sampling(None, self.GUIDANCE if job.guidance_scale is None else job.guidance_scale)

    def generate(self, job: MusicJob) -> Audio:
        self.check_task(job)
        guidance = self.sampling(job).guidance_scale
        text = self.tokenizer([job.prompt], return_tensors="pt", padding=True).to(self.device)
        total = math.ceil(job.duration_s * self.frame_rate)
        torch.manual_seed(job.seed)
        audio = self._window(text, min(total, self.window_frames), None, guidance)
        while audio.shape[-1] < total * self.hop:
            context = audio[..., -self.context_frames * self.hop :]
            new = min(self.window_frames - self.context_frames, total - audio.shape[-1] // self.hop)
            window = self._window(text, new, context, guidance)
            audio = torch.cat([audio, window[..., context.shape[-1] :]], dim=-1)
        samples = audio[0].float().cpu().numpy().T  # (channels, n) -> (n, channels)
        frames = round(job.duration_s * self.sample_rate)
        return Audio(np.clip(fit_length(samples, frames), -1.0, 1.0), self.sample_rate)

    def _window(
        self, text: Any, new_frames: int, context: torch.Tensor | None, guidance_scale: float | None
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
