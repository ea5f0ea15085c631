"""What a song carries of a persona (lambdas/common/personas.py): the request's `persona_id`, the
snapshot the job row keeps, and what the container's manifest says it heard. A leaf module, so the
request and row models (models.py) can use them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .request_fields import UUID_PATTERN


class WithPersona(BaseModel):
    """The modes a persona can sing (the text modes and cover) mix this in; their config applies."""

    persona_id: str | None = Field(
        None,
        pattern=UUID_PATTERN,
        description="One of your personas (POST /personas): its reference clip conditions the voice and "
        "sound, its style joins the prompt",
    )


class JobPersona(BaseModel):
    """The persona a song is made with, as it was at submission: the container reads the clip from
    `bucket`/`key` and checks it against `sha256`. Kept on the job row after the persona is deleted."""

    persona_id: str
    bucket: str
    key: str
    sha256: str
    style: str | None = None

    def container_request(self) -> dict[str, object]:
        """The request's `persona` as the container reads it (song_model/schemas.Persona)."""
        return {
            "reference": {"bucket": self.bucket, "key": self.key},
            "sha256": self.sha256,
            "style": self.style,
        }


class PersonaHeard(BaseModel):
    """The reference clip a song was conditioned on, as the container's manifest records it."""

    sha256: str
    reference_s: float
