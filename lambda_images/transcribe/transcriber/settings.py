"""The function's settings, read from its environment at its first invocation (as the service's
other functions do: lambdas/common/runtime.py; this image carries none of that package).

MEDIA_BUCKET_NAME, UPLOADS_BUCKET_NAME: the only buckets a source may be read from (songs and stems,
uploads); INFERENCE_BUCKET_NAME: the only bucket MIDI is written to. The role allows no other, and
a request naming another is refused before any S3 call (InvalidRequest). MAX_DURATION_S: the
longest audio transcribed (default 600 s, the longest song).

The upload analyzer (analyzer.py, the same image with another CMD) reads AnalyzerSettings: only
UPLOADS_BUCKET_NAME (the one bucket it reads) and MAX_DURATION_S (the longest upload).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .audio import MAX_DURATION_S


class SettingsError(RuntimeError):
    """A variable is missing or invalid: the message names it."""


class _FromEnvironment(BaseModel):
    model_config = ConfigDict(alias_generator=str.upper, populate_by_name=True, frozen=True)

    @classmethod
    def variables(cls) -> list[str]:
        return [field.alias or name.upper() for name, field in cls.model_fields.items()]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        try:
            return cls.model_validate({name: environ[name] for name in cls.variables() if name in environ})
        except ValidationError as exc:
            problems = [f"{error['loc'][0]}: {error['msg']}" for error in exc.errors()]
            raise SettingsError(f"{cls.__name__}: " + "; ".join(problems)) from None


class Settings(_FromEnvironment):
    """The transcriber's."""

    media_bucket_name: str = Field(min_length=3, max_length=63)
    uploads_bucket_name: str = Field(min_length=3, max_length=63)
    inference_bucket_name: str = Field(min_length=3, max_length=63)
    max_duration_s: float = Field(MAX_DURATION_S, gt=0, le=3600)

    @property
    def source_buckets(self) -> frozenset[str]:
        return frozenset({self.media_bucket_name, self.uploads_bucket_name})


class AnalyzerSettings(_FromEnvironment):
    """The upload analyzer's."""

    uploads_bucket_name: str = Field(min_length=3, max_length=63)
    max_duration_s: float = Field(MAX_DURATION_S, gt=0, le=3600)


S = TypeVar("S", bound=_FromEnvironment)


class ColdStart(Generic[S]):
    """The settings, validated once; `reset(environ)` gives the function another environment (the
    local stack runs every function in one process, each with its own)."""

    def __init__(self, model: type[S]) -> None:
        self.model = model
        self.environ: Mapping[str, str] | None = None  # None: the process environment
        self._settings: S | None = None
        self._lock = threading.Lock()

    def settings(self) -> S:
        with self._lock:
            if self._settings is None:
                self._settings = self.model.from_environment(
                    os.environ if self.environ is None else self.environ
                )
            return self._settings

    def reset(self, environ: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self.environ = environ
            self._settings = None
