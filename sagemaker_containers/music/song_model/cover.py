"""Cover art with a diffusers SDXL text-to-image pipeline: SDXL-Lightning (4 steps, the default) or
SDXL-Turbo (2 steps), both distilled to run without classifier-free guidance."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image


@dataclass(frozen=True)
class Cover:
    png: bytes
    width: int
    height: int


def lightning_scheduler(config: Any) -> Any:
    """SDXL-Lightning's sampler per its model card: Euler with trailing timesteps, over the
    pipeline's own scheduler config (SDXL base 1.0's)."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler.from_config(config, timestep_spacing="trailing")


def cover_prompt(prompt: str, categories: list[str], title: str | None) -> str:
    # CLIP reads at most 77 tokens: the most telling words go first.
    named = f"'{title}', " if title else ""
    return f"album cover art, {named}{', '.join(categories)}, {prompt}, artistic, no text"


class CoverArtist:
    def __init__(self, pipeline: Any, device: torch.device, size: int, steps: int) -> None:
        self.pipeline = pipeline
        # One bar per request in the endpoint's logs is noise; timings go in the manifest.
        pipeline.set_progress_bar_config(disable=True)
        self.device = device
        self.size = size
        self.steps = steps

    def paint(self, prompt: str, seed: int) -> Cover:
        generator = torch.Generator(device=self.device).manual_seed(seed)
        with torch.inference_mode():
            # Both distilled models run without guidance (guidance_scale=0: no negative-prompt pass).
            image: Image.Image = self.pipeline(
                prompt=prompt,
                num_inference_steps=self.steps,
                guidance_scale=0.0,
                height=self.size,
                width=self.size,
                generator=generator,
            ).images[0]
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return Cover(buffer.getvalue(), image.width, image.height)
