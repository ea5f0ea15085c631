"""The audio-in modes: a new song made from a source track the workflow points at in S3.

- cover: ACE-Step `cover` over the source (same length), `strength` = audio_cover_strength.
- repaint: ACE-Step `repaint` of start_s..end_s; then the source's own samples are spliced back
  outside the window (the model regenerates latents only inside it, but the VAE decodes the whole
  latent, so its outside is close to the source, not equal: source_audio.splice).
- extend: ACE-Step has no extend task: repaint over a longer canvas, the source zero-padded to
  source + add_s and the window from the source's end to the canvas end; spliced the same way.
- stems: the base checkpoint's `extract`, once per track, each over the whole source.

The source is read and prepared here (decode, 48 kHz stereo, the canvas length the API priced),
so the engine only ever sees audio at its own rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import source_audio, storage
from .engines import Audio, AudioInput, MusicEngine, MusicJob
from .errors import ValidationFailed
from .schemas import AudioInRequest, CoverRequest, ExtendRequest, RepaintRequest, StemsRequest


@dataclass(frozen=True)
class Rendered:
    """One output file's audio; `track` names the stem (None for one-track results), `take` the
    variant (1-based)."""

    track: str | None
    audio: Audio
    take: int = 1


class AudioInRenderer:
    def __init__(self, engine: MusicEngine, stems_engine: MusicEngine | None) -> None:
        self.engine = engine
        self.stems_engine = stems_engine

    def check(self, request: AudioInRequest) -> MusicEngine:
        """The engine that runs this request, or a clear 422 before any work."""
        if isinstance(request, StemsRequest):
            if self.stems_engine is None:
                raise ValidationFailed(
                    "stems are switched off on this endpoint (STEMS_ENABLED=false: the base "
                    "checkpoint is not loaded)"
                )
            engine = self.stems_engine
            task = "extract"
        else:
            engine = self.engine
            task = "cover" if isinstance(request, CoverRequest) else "repaint"
        if task not in engine.tasks:
            raise ValidationFailed(
                f"mode {request.mode!r} needs ACE-Step's {task!r} task, which the {engine.name} engine "
                f"does not offer (supported: {', '.join(engine.tasks)})"
            )
        return engine

    def render(
        self,
        request: AudioInRequest,
        engine: MusicEngine,
        prompt: str,
        lyrics: str | None,
        seeds: list[int],
        reference: Audio | None = None,
    ) -> list[Rendered]:
        """One file per stem track, or one per take (one seed each; the takes share one batch).
        `engine` is what `check(request)` returned: the caller checks before any other work.
        `reference`: a persona's timbre reference clip (cover only)."""
        rate = engine.sample_rate
        data = storage.get_object(request.source.bucket, request.source.key)
        canvas = source_audio.prepare(data, request.duration_s, rate)  # [2, frames]
        source = Audio(canvas.T.contiguous().numpy(), rate)

        def job(audio_input: AudioInput) -> MusicJob:
            return MusicJob(
                prompt=prompt,
                lyrics=lyrics,
                duration_s=request.duration_s,
                seed=seeds[0],
                steps=request.inference_steps,
                guidance_scale=request.guidance_scale,
                audio_input=audio_input,
            )

        if isinstance(request, StemsRequest):
            return [
                Rendered(track, engine.generate(job(AudioInput("extract", source=source, track_name=track))))
                for track in request.tracks
            ]
        if isinstance(request, CoverRequest):
            audio_input = AudioInput("cover", source=source, reference=reference, strength=request.strength)
            takes = engine.generate_takes(job(audio_input), seeds)
            return [Rendered(None, audio, take) for take, audio in enumerate(takes, start=1)]
        start_s, end_s = _window(request)
        takes = engine.generate_takes(
            job(AudioInput("repaint", source=source, start_s=start_s, end_s=end_s)), seeds
        )
        return [
            Rendered(None, _splice(audio, canvas, start_s, end_s), take)
            for take, audio in enumerate(takes, start=1)
        ]


def _splice(generated: Audio, canvas: torch.Tensor, start_s: float, end_s: float) -> Audio:
    """The source's own samples outside the window, the generated ones inside it."""
    rate = generated.sample_rate
    spliced = source_audio.splice(
        torch.from_numpy(generated.samples.T.copy()),
        canvas,
        start=round(start_s * rate),
        end=round(end_s * rate),
        fade=round(source_audio.SPLICE_FADE_S * rate),
    )
    return Audio(spliced.T.contiguous().numpy(), rate)


def _window(request: RepaintRequest | ExtendRequest) -> tuple[float, float]:
    if isinstance(request, ExtendRequest):
        return request.source.duration_s, request.duration_s
    return request.start_s, min(request.end_s, request.duration_s)
