"""The model side of the async endpoint (local/async_endpoint.py) for the in-process workflow:
placeholder media where the container would write real audio, and the manifest it would answer
with. The workflow tests and the workflow benchmark use it; the local stack runs the real container.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from local.async_endpoint import Invocation, Outcome

SAMPLE_RATE = 48_000
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
LRC_CONTENT_TYPE = "text/plain; charset=utf-8"
# Changes the manifest the model answers with (a faulty container): (manifest, request) -> manifest.
Tamper = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class PlaceholderModel:
    """Writes one object per ordered take, track and format under the request's output prefix, and
    a cover, named as the container names them; answers with their manifest."""

    def __init__(self, tamper: Tamper | None = None) -> None:
        self.tamper = tamper

    def __call__(self, invocation: Invocation, payload: bytes) -> Outcome:
        request = json.loads(payload)
        manifest = self.render(request)
        if self.tamper is not None:
            manifest = self.tamper(manifest, request)
        return Outcome(True, "application/json", json.dumps(manifest).encode())

    def render(self, request: dict[str, Any]) -> dict[str, Any]:
        s3 = boto3.client("s3")
        out_bucket, prefix = request["output"]["bucket"], request["output"]["prefix"]
        seed = request.get("seed") if request.get("seed") is not None else 1234
        seeds = [seed + k for k in range(int(request.get("variants", 1)))]  # the container's rule
        # Stems: one file per ordered track (one take); otherwise one per take.
        tracks = request.get("tracks") if request.get("mode") == "stems" else None
        audio = [
            _put_audio(s3, out_bucket, prefix, request["job_id"], take, track, fmt)
            for take in range(1, len(seeds) + 1)
            for track in tracks or [None]
            for fmt in request.get("formats", ["wav"])
        ]
        vocal = not request.get("instrumental") and request.get("mode") != "stems"
        takes = [
            _measure(s3, out_bucket, prefix, take, seed, len(seeds), vocal, request)
            for take, seed in enumerate(seeds, start=1)
        ]
        cover_body = b"\x89PNG placeholder cover"
        s3.put_object(Bucket=out_bucket, Key=f"{prefix}cover.png", Body=cover_body, ContentType="image/png")
        return {
            "job_id": request["job_id"],
            "audio": audio,
            "cover": {
                "bucket": out_bucket,
                "key": f"{prefix}cover.png",
                "content_type": "image/png",
                "width": 512,
                "height": 512,
                "size_bytes": len(cover_body),
            },
            "sample_rate": SAMPLE_RATE,
            "duration_s": float(request.get("duration_s", 180)),
            "lyrics": None if request.get("instrumental") else "[verse]\nla la la",
            "prompt": request.get("prompt") or "lofi, calm, piano",
            "categories": ["lofi", "chill", "instrumental"],
            "seed": seed,
            "seeds": seeds,
            "engine": "acestep",
            "takes": takes,
            "best_take": len(seeds),  # ranked last take first, so "best" is not simply take 1
            "mastering": request.get("mastering", {"loudness_lufs": -14.0, "true_peak_dbtp": -1.0}),
            "timings": {
                "lyrics_s": 1.5,
                "music_s": 20.0,
                "cover_s": 0.5,
                "measure_s": 0.4,
                "upload_s": 0.2,
                "total_s": 22.6,
            },
            # The container checks the clip against this checksum and records it (it reads the clip;
            # this stand-in does not).
            "persona": {"sha256": request["persona"]["sha256"], "reference_s": 30.0}
            if request.get("persona")
            else None,
        }


# WAV placeholders are real audio, so the transcriber can read them (stems with "mid"): one second
# of a sine tone, its pitch (MIDI note number) per track, at a small rate to stay small.
PLACEHOLDER_PITCHES = {None: 69, "vocals": 72, "bass": 45, "drums": 60, "keyboard": 64}
_PLACEHOLDER_RATE = 16_000


def placeholder_wav(track: str | None) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    pitch = PLACEHOLDER_PITCHES.get(track, 67)
    t = np.arange(_PLACEHOLDER_RATE) / _PLACEHOLDER_RATE
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * 2 ** ((pitch - 69) / 12) * t) * np.minimum(1.0, (1.0 - t) / 0.05)
    buffer = io.BytesIO()
    sf.write(buffer, tone.astype(np.float32), _PLACEHOLDER_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _put_audio(
    s3: Any, bucket: str, prefix: str, job_id: str, take: int, track: str | None, fmt: str
) -> dict[str, Any]:
    """One audio object under the job's scratch prefix, named as the container names it."""
    name = f"stem-{track}" if track else f"audio{'' if take == 1 else f'-take{take}'}"
    key = f"{prefix}{name}.{fmt}"
    body = (
        placeholder_wav(track)
        if fmt == "wav"
        else f"{fmt} audio of {job_id}, take {take}, {track or 'mix'}".encode()
    )
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES[fmt])
    return {
        "format": fmt,
        "track": track,
        "take": take,
        "bucket": bucket,
        "key": key,
        "content_type": CONTENT_TYPES[fmt],
        "size_bytes": len(body),
    }


def _measure(
    s3: Any, bucket: str, prefix: str, take: int, seed: int, count: int, vocal: bool, request: dict[str, Any]
) -> dict[str, Any]:
    """A take's measurements as the container reports them; a vocal take's LRC file beside its audio."""
    mastering = request.get("mastering", {"loudness_lufs": -14.0, "true_peak_dbtp": -1.0})
    timing = None
    if vocal:
        key = f"{prefix}lyrics{'' if take == 1 else f'-take{take}'}.lrc"
        body = b"[length:00:10]\n[00:01.00]la la la\n[00:09.00]\n"
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=LRC_CONTENT_TYPE)
        timing = {
            "bucket": bucket,
            "key": key,
            "content_type": LRC_CONTENT_TYPE,
            "size_bytes": len(body),
            "lines": 1,
            "measured_lines": 1,
        }
    return {
        "take": take,
        "seed": seed,
        "rank": count - take + 1,
        "analysis": {
            "duration_s": float(request.get("duration_s", 180)),
            "loudness_lufs": mastering["loudness_lufs"] if mastering else -20.0,
            "true_peak_dbtp": mastering["true_peak_dbtp"] if mastering else -3.0,
            "bpm": 120.0,
            "key": "A minor",
            "key_confidence": 0.7,
        },
        "scores": {
            "text_audio": 0.3 + 0.01 * take,
            "lyrics_accuracy": 0.8 + 0.01 * take if vocal else None,
            "bpm_error": None,
            "key_match": None,
        },
        "lyrics_timing": timing,
        "gain_db": 1.5,
    }
