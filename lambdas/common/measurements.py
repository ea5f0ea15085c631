"""What the container measured on each delivered take, as a published song keeps it (the container's
song_model/analysis.py and scoring.py; docs/container.md, Measuring)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TakeAnalysis(BaseModel):
    """What was measured on a delivered take or a ready upload (the container's song_model/analysis.py,
    which the upload analyzer runs too); null where it could not be measured (silence, under 0.4 s)."""

    # Finite numbers only: JSON's NaN and Infinity parse as floats, which DynamoDB cannot store.
    model_config = ConfigDict(allow_inf_nan=False)

    duration_s: float
    loudness_lufs: float | None = Field(None, description="Integrated loudness, LUFS (BS.1770-4)")
    true_peak_dbtp: float | None = Field(None, description="True peak, dBTP")
    bpm: float | None = None
    key: str | None = Field(None, examples=["A minor"])
    key_confidence: float | None = Field(None, description="Key-profile correlation, -1..1")


class TakeScores(BaseModel):
    """A take's quality scores (docs/container.md, Measuring); null where not measured."""

    # As TakeAnalysis: DynamoDB cannot store a NaN score.
    model_config = ConfigDict(allow_inf_nan=False)

    text_audio: float | None = Field(None, description="CLAP cosine between the take and its style prompt")
    lyrics_accuracy: float | None = Field(
        None, description="1 - word error rate of a Whisper transcription; null for instrumentals"
    )
    bpm_error: float | None = Field(None, description="|measured - asked| / asked, when a tempo was asked")
    key_match: float | None = Field(None, description="MIREX key score (1 = same key), when a key was asked")


class TakeMeasurement(BaseModel):
    """One take's rank, analysis and scores as published (`lyrics_timing_key`: its LRC file in the
    media bucket, vocal takes only)."""

    take: int
    rank: int
    analysis: TakeAnalysis
    scores: TakeScores
    lyrics_timing_key: str | None = None
