"""The building blocks of request bodies: strict models, safe text, ids, lists without repeats,
webhook URLs, mastering, tempo and key, and an audio-in mode's source."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from .url_safety import UnsafeUrl, check_submitted_url


# Request bodies: the schema the OpenAPI document publishes is exactly the rule enforced. Unknown
# fields are rejected and types are strict ("30" is not 30, "yes" is not true); text is taken as
# sent (no silent stripping), so a value the schema accepts is never refused after a rewrite.
class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# Text that reaches prompts, logs and the UI: no control characters (C0, DEL, C1) except line
# breaks and tabs. A JSON Schema pattern (ECMA-262, also valid for pydantic's Rust engine and
# Python `re`), so the published document states the rule clients must follow.
SAFE_TEXT_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
SafeText = Annotated[str, StringConstraints(pattern=SAFE_TEXT_PATTERN)]
# Job, upload and persona ids (lower-case canonical UUID text): the API's path parameters and sources.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def require_exactly_one(model: BaseModel, first: str, second: str) -> None:
    """For an `after` model validator: exactly one of two optional fields is given (not None)."""
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        raise ValueError(f"give exactly one of {first} or {second}")


def no_repeats(value: list[str], info: ValidationInfo) -> list[str]:
    """A list whose schema says uniqueItems: a repeated item is refused, not dropped."""
    if len(set(value)) != len(value):
        raise ValueError(f"{info.field_name} must not repeat")
    return value


def _safe_webhook_url(value: str) -> str:
    # Checked again, on the resolved address, at every delivery (lambdas/common/url_safety.py).
    try:
        return check_submitted_url(value)
    except UnsafeUrl as exc:
        raise ValueError(f"webhook_url {exc}") from None


# No spaces or control characters in the schema; the full rule (https, a public address) is the
# validator's, and the sender checks the resolved address again at every delivery.
WebhookUrl = Annotated[
    str,
    StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\x00-\x20\x7F-\x9F]+$"),
    AfterValidator(_safe_webhook_url),
]


# The delivered level's bounds (the container's song_model/schemas.py Mastering applies the same).
# Music metadata: a text mode's or an audio-in mode's tempo and key (the container applies the same
# rules: song_model/schemas.py).
BPM_MIN, BPM_MAX = 30, 300
Bpm = Annotated[int | None, Field(ge=BPM_MIN, le=BPM_MAX)]
KEY_PATTERN = r"^[A-G][#b]? (major|minor)$"
MusicalKey = Annotated[str | None, Field(pattern=KEY_PATTERN, examples=["C major", "F# minor"])]

LOUDNESS_LUFS_RANGE = (-23.0, -6.0)
TRUE_PEAK_DBTP_RANGE = (-3.0, 0.0)


class Mastering(StrictModel):
    """The level every take is delivered at (docs/container.md, Measuring)."""

    loudness_lufs: float = Field(
        -14.0,
        ge=LOUDNESS_LUFS_RANGE[0],
        le=LOUDNESS_LUFS_RANGE[1],
        description="Integrated loudness, LUFS (ITU-R BS.1770 / EBU R128)",
    )
    true_peak_dbtp: float = Field(
        -1.0, ge=TRUE_PEAK_DBTP_RANGE[0], le=TRUE_PEAK_DBTP_RANGE[1], description="True-peak ceiling, dBTP"
    )


class SourceRef(StrictModel):
    """Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed songs)."""

    # The rule in the published schema too: exactly one of the two ids is given as a string.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["upload_id"], "properties": {"upload_id": {"type": "string"}}},
                {"required": ["song_id"], "properties": {"song_id": {"type": "string"}}},
            ]
        }
    )

    upload_id: str | None = Field(None, pattern=UUID_PATTERN)
    song_id: str | None = Field(None, pattern=UUID_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceRef:
        require_exactly_one(self, "upload_id", "song_id")
        return self
