"""Personas: a reference clip that conditions ACE-Step 1.5's timbre, and style text for the prompt.

ACE-Step 1.5 hears a reference through its VAE and its condition encoder's timbre encoder, in every
task (diffusers `AceStepPipeline(reference_audio=...)`; without one it feeds the encoder a learned
silence latent). The pipeline makes any reference exactly 30 s: it repeats a shorter clip until it
is 30 s long, then takes 10 s from the front, the middle and the back
(`AceStepPipeline.prepare_reference_audio_latents`). So REFERENCE_WINDOW_S is all of a reference
the model can use: the API cuts that window (from the persona's `start_s`) when the persona is
made, and the container decodes no more than that of whatever it is given.

The clip is read from S3 within a byte limit, checked against the SHA-256 the API recorded when it
cut it (a clip that changed or broke since is refused, not used), decoded and resampled with the
audio-in modes' bounded decoder (source_audio.prepare), and refused when shorter than
MIN_REFERENCE_S or silent. Every refusal is a 4xx for this request alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import source_audio, storage
from .engines import Audio, MusicEngine
from .errors import SourceMissing, ValidationFailed
from .schemas import Persona, PersonaApplied

# Seconds of a reference ACE-Step uses (see above); the API validates `start_s` against it.
REFERENCE_WINDOW_S = 30.0
# Shorter clips carry too little of a voice to condition on (the pipeline would loop them 6+ times).
MIN_REFERENCE_S = 5.0
# The API stores the cut window in the source's own rate and sample format: 30 s of 192 kHz stereo
# float32 WAV is 46,080,044 bytes, the largest clip it can write.
MAX_REFERENCE_BYTES = 48 * 1024 * 1024
# A clip whose peak is below -80 dBFS is silence: it would condition the song on nothing at all
# (zeros are out of the timbre encoder's distribution: diffusers' pipeline notes they give drones).
SILENT_PEAK = 1e-4

WHAT = "the persona's reference clip"


@dataclass(frozen=True)
class LoadedPersona:
    reference: Audio  # at the engine's rate, stereo, at most REFERENCE_WINDOW_S long
    applied: PersonaApplied  # what the manifest records


def load(persona: Persona, engine: MusicEngine) -> LoadedPersona:
    """Read, check and decode a persona's reference clip for `engine`, or a 4xx error."""
    engine.check_reference()
    location = persona.reference
    try:
        data = storage.get_object(location.bucket, location.key, max_bytes=MAX_REFERENCE_BYTES, what=WHAT)
    except SourceMissing as exc:
        raise SourceMissing(f"{exc.message} (was the persona deleted?)") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != persona.sha256:
        raise ValidationFailed(f"{WHAT} does not match the persona's checksum (sha256 {digest})")
    clip = source_audio.prepare(data, REFERENCE_WINDOW_S, engine.sample_rate, pad=False, what=WHAT)
    seconds = clip.shape[-1] / engine.sample_rate
    if seconds < MIN_REFERENCE_S:
        raise ValidationFailed(f"{WHAT} is {seconds:.2f} s long; at least {MIN_REFERENCE_S:g} s are needed")
    samples = np.ascontiguousarray(clip.numpy().T)  # [2, n] -> (n, 2), the engines' layout
    if float(np.abs(samples).max()) < SILENT_PEAK:
        raise ValidationFailed(f"{WHAT} is silent")
    return LoadedPersona(
        reference=Audio(samples, engine.sample_rate),
        applied=PersonaApplied(sha256=digest, reference_s=round(seconds, 3), style=persona.style),
    )


def styled_prompt(prompt: str, persona: Persona | None) -> str:
    """The prompt with the persona's style text appended as more comma-separated tags (ACE-Step's
    caption format), unless the prompt already says it."""
    style = persona.style if persona else None
    if not style or style.lower() in prompt.lower():
        return prompt
    return f"{prompt}, {style}" if prompt else style
