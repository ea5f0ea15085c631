# Generated from docs/openapi.json by datamodel-code-generator: do not edit.
# `make openapi` regenerates it (clients/python/tools/generate_models.py).

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType


class ApiKeyDetail(BaseModel):
    key_id: Annotated[
        str,
        Field(
            description="The key's id (the `key_id` in paths); its secret starts with `prefix`",
            title="Key Id",
        ),
    ]
    name: Annotated[str, Field(title="Name")]
    prefix: Annotated[
        str,
        Field(description="The secret's public start (`sng_<key_id>`), to recognise it by", title="Prefix"),
    ]
    created_at: Annotated[str, Field(title="Created At")]
    expires_at: Annotated[
        str | None, Field(description="The key stops working then; null: never", title="Expires At")
    ] = None
    last_used_at: Annotated[
        str | None,
        Field(
            description="Last authorization with it (to the minute; null: never used)", title="Last Used At"
        ),
    ] = None


class ApiKeyCreated(ApiKeyDetail):
    secret: Annotated[
        str,
        Field(
            description="Send it as `Authorization: Bearer <secret>`. Shown this once: only its hash is kept",
            title="Secret",
        ),
    ]


class ApiKeyList(BaseModel):
    keys: Annotated[
        list[ApiKeyDetail], Field(description="Oldest first; expired keys too, until revoked", title="Keys")
    ]


ExpiresInDays = TypeAliasType(
    "ExpiresInDays",
    Annotated[
        int,
        Field(
            description="The key stops working after this many days; null: never",
            ge=1,
            le=3650,
            title="Expires In Days",
        ),
    ],
)


class ApiKeyRequest(BaseModel):
    """
    `POST /me/api-keys`: a name to recognise the key by, and optionally its lifetime.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[
        str,
        Field(
            description="Shown in the list; not secret",
            max_length=100,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Name",
        ),
    ]
    expires_in_days: Annotated[
        ExpiresInDays | None,
        Field(description="The key stops working after this many days; null: never", title="Expires In Days"),
    ] = None


PersonaId = TypeAliasType(
    "PersonaId",
    Annotated[
        str,
        Field(
            description="One of your personas (POST /personas): its reference clip conditions the voice and sound, its style joins the prompt",
            pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            title="Persona Id",
        ),
    ],
)


Title = TypeAliasType(
    "Title",
    Annotated[
        str,
        Field(
            max_length=120,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Title",
        ),
    ],
)


WebhookUrl = TypeAliasType(
    "WebhookUrl",
    Annotated[
        str,
        Field(
            description="https URL that receives the song's lifecycle events, signed per Standard Webhooks; port 443 (the default) or 8443 only, and its host must resolve to public addresses only (checked now and at every delivery)",
            max_length=2048,
            pattern="^[a-zA-Z][a-zA-Z0-9+.-]*://[^\\x00-\\x20\\x7F-\\x9F]+$",
            title="Webhook Url",
        ),
    ],
)


Seed = TypeAliasType("Seed", Annotated[int, Field(ge=0, le=4294967295, title="Seed")])


GuidanceScale = TypeAliasType(
    "GuidanceScale", Annotated[float, Field(ge=1.0, le=15.0, title="Guidance Scale")]
)


InferenceSteps = TypeAliasType("InferenceSteps", Annotated[int, Field(ge=1, le=100, title="Inference Steps")])


class Format(StrEnum):
    wav = "wav"
    mp3 = "mp3"
    flac = "flac"


Bpm = TypeAliasType("Bpm", Annotated[int, Field(ge=30, le=300, title="Bpm")])


Key = TypeAliasType(
    "Key",
    Annotated[
        str, Field(examples=["C major", "F# minor"], pattern="^[A-G][#b]? (major|minor)$", title="Key")
    ],
)


Lyrics = TypeAliasType(
    "Lyrics",
    Annotated[
        str,
        Field(
            max_length=5000,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Lyrics",
        ),
    ],
)


class TimeSignature(IntEnum):
    integer_2 = 2
    integer_3 = 3
    integer_4 = 4
    integer_6 = 6


VocalLanguage = TypeAliasType(
    "VocalLanguage", Annotated[str, Field(examples=["en"], pattern="^[a-z]{2}$", title="Vocal Language")]
)


class ErrorBody(BaseModel):
    code: Annotated[
        str, Field(description="Stable machine-readable error code, e.g. InsufficientCredits", title="Code")
    ]
    message: Annotated[str, Field(title="Message")]
    details: Annotated[
        Any, Field(description="Field errors for invalid input, or extra context", title="Details")
    ] = None


class ErrorResponse(BaseModel):
    error: ErrorBody


Prompt = TypeAliasType(
    "Prompt",
    Annotated[
        str,
        Field(
            max_length=500,
            min_length=3,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Prompt",
        ),
    ],
)


class HealthResponse(BaseModel):
    status: Annotated[Literal["ok"], Field(title="Status")] = "ok"


class JobError(BaseModel):
    code: Annotated[str, Field(title="Code")]
    message: Annotated[str, Field(title="Message")]


class JobStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    processed = "processed"
    failed = "failed"
    canceled = "canceled"


class Mastering(BaseModel):
    """
    The level every take is delivered at (docs/container.md, Measuring).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    loudness_lufs: Annotated[
        float | None,
        Field(
            description="Integrated loudness, LUFS (ITU-R BS.1770 / EBU R128)",
            ge=-23.0,
            le=-6.0,
            title="Loudness Lufs",
        ),
    ] = -14.0
    true_peak_dbtp: Annotated[
        float | None, Field(description="True-peak ceiling, dBTP", ge=-3.0, le=0.0, title="True Peak Dbtp")
    ] = -1.0


class MeResponse(BaseModel):
    user_id: Annotated[str, Field(title="User Id")]
    credits: Annotated[
        int,
        Field(description="The balance; songs are charged from it when they are processed", title="Credits"),
    ]
    reserved_credits: Annotated[
        int,
        Field(description="Held for the user's songs in progress (their prices)", title="Reserved Credits"),
    ]
    available_credits: Annotated[
        int,
        Field(description="credits - reserved_credits: what new songs can use", title="Available Credits"),
    ]


class PersonaHeard(BaseModel):
    """
    The reference clip a song was conditioned on, as the container's manifest records it.
    """

    sha256: Annotated[str, Field(title="Sha256")]
    reference_s: Annotated[float, Field(title="Reference S")]


Style = TypeAliasType(
    "Style",
    Annotated[
        str,
        Field(
            description="Added to the prompt of every song",
            max_length=300,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Style",
        ),
    ],
)


class PersonaSource(BaseModel):
    """
    What the persona's clip was cut from (it may have been deleted since: the clip is a copy).
    """

    upload_id: Annotated[str | None, Field(title="Upload Id")] = None
    song_id: Annotated[str | None, Field(title="Song Id")] = None
    take: Annotated[int | None, Field(title="Take")] = None


UploadId = TypeAliasType(
    "UploadId",
    Annotated[
        str,
        Field(pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", title="Upload Id"),
    ],
)


SongId = TypeAliasType(
    "SongId",
    Annotated[
        str, Field(pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", title="Song Id")
    ],
)


Take = TypeAliasType(
    "Take", Annotated[int, Field(description="With song_id: the take (default 1)", ge=1, le=4, title="Take")]
)


class SourceRef1(BaseModel):
    """
    Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed songs).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    upload_id: Annotated[UploadId | None, Field(title="Upload Id")]
    song_id: Annotated[SongId | None, Field(title="Song Id")] = None


class PersonaSourceRef1(SourceRef1):
    """
    Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed
    songs; `take` picks one of its takes and goes with `song_id` only).
    """

    take: Annotated[Take | None, Field(description="With song_id: the take (default 1)", title="Take")] = None


class SourceRef2(BaseModel):
    """
    Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed songs).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    upload_id: Annotated[UploadId | None, Field(title="Upload Id")] = None
    song_id: Annotated[SongId | None, Field(title="Song Id")]


class PersonaSourceRef2(SourceRef2):
    """
    Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed
    songs; `take` picks one of its takes and goes with `song_id` only).
    """

    take: Annotated[Take | None, Field(description="With song_id: the take (default 1)", title="Take")] = None


PersonaSourceRef = TypeAliasType(
    "PersonaSourceRef",
    Annotated[
        PersonaSourceRef1 | PersonaSourceRef2,
        Field(
            description="Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed\nsongs; `take` picks one of its takes and goes with `song_id` only).",
            title="PersonaSourceRef",
        ),
    ],
)


class PersonaSummary(BaseModel):
    persona_id: Annotated[str, Field(title="Persona Id")]
    name: Annotated[str, Field(title="Name")]
    style: Annotated[str | None, Field(title="Style")] = None
    source: PersonaSource
    start_s: Annotated[
        float, Field(description="Where in the source the reference clip starts, seconds", title="Start S")
    ]
    reference_s: Annotated[
        float, Field(description="Length of the reference clip, seconds (5 to 30)", title="Reference S")
    ]
    reference_sha256: Annotated[
        str,
        Field(
            description="SHA-256 of the stored clip; songs made with it record it", title="Reference Sha256"
        ),
    ]
    created_at: Annotated[str, Field(title="Created At")]


class SongSource(BaseModel):
    """
    What an audio-in song was made from.
    """

    upload_id: Annotated[str | None, Field(title="Upload Id")] = None
    song_id: Annotated[str | None, Field(title="Song Id")] = None
    duration_s: Annotated[float, Field(description="Length of the source track, seconds", title="Duration S")]


class SongSummary(BaseModel):
    job_id: Annotated[str, Field(description="The song's id (the `song_id` in paths)", title="Job Id")]
    status: JobStatus
    stage: Annotated[str, Field(title="Stage")]
    mode: Annotated[str, Field(title="Mode")]
    title: Annotated[str | None, Field(title="Title")] = None
    created_at: Annotated[str, Field(title="Created At")]
    updated_at: Annotated[str, Field(title="Updated At")]
    error: JobError | None = None
    price_credits: Annotated[
        int | None,
        Field(
            description="The song's price, reserved at submission and charged only if it is processed",
            title="Price Credits",
        ),
    ] = None


SourceRef = TypeAliasType(
    "SourceRef",
    Annotated[
        SourceRef1 | SourceRef2,
        Field(
            description="Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed songs).",
            title="SourceRef",
        ),
    ],
)


class Format6(StrEnum):
    wav = "wav"
    mp3 = "mp3"
    flac = "flac"
    mid = "mid"


class Track(StrEnum):
    vocals = "vocals"
    backing_vocals = "backing_vocals"
    drums = "drums"
    bass = "bass"
    guitar = "guitar"
    keyboard = "keyboard"
    percussion = "percussion"
    strings = "strings"
    synth = "synth"
    fx = "fx"
    brass = "brass"
    woodwinds = "woodwinds"


class _TitleToWebhookUrl(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    title: Annotated[Title | None, Field(title="Title")] = None
    webhook_url: Annotated[
        WebhookUrl | None,
        Field(
            description="https URL that receives the song's lifecycle events, signed per Standard Webhooks; port 443 (the default) or 8443 only, and its host must resolve to public addresses only (checked now and at every delivery)",
            title="Webhook Url",
        ),
    ] = None


class _SeedToInferenceSteps(_TitleToWebhookUrl):
    seed: Annotated[Seed | None, Field(title="Seed")] = None
    guidance_scale: Annotated[GuidanceScale | None, Field(title="Guidance Scale")] = None
    inference_steps: Annotated[InferenceSteps | None, Field(title="Inference Steps")] = None


class StemsRequest(_SeedToInferenceSteps):
    """
    Split the source into `tracks`: one audio file per track (and format), and with "mid" in
    `formats` one MIDI file per track as well.
    """

    formats: Annotated[
        list[Format6] | None,
        Field(
            description='Audio formats of every track; "mid" adds each track transcribed to MIDI',
            max_length=4,
            min_length=1,
            title="Formats",
        ),
    ] = None
    mastering: Annotated[
        Mastering | None,
        Field(
            description="The delivered level: absent = -14 LUFS / -1 dBTP, either field may be left out; null = the model's raw level (repaint and extend keep their untouched samples bit-identical only then)"
        ),
    ] = None
    source: SourceRef
    mode: Annotated[Literal["stems"], Field(title="Mode")]
    variants: Annotated[
        int | None,
        Field(description="Stems have one take (one file per track)", ge=1, le=1, title="Variants"),
    ] = 1
    tracks: Annotated[list[Track], Field(max_length=4, min_length=1, title="Tracks")]


class TakeAnalysis(BaseModel):
    """
    What was measured on a delivered take or a ready upload (the container's song_model/analysis.py,
    which the upload analyzer runs too); null where it could not be measured (silence, under 0.4 s).
    """

    duration_s: Annotated[float, Field(title="Duration S")]
    loudness_lufs: Annotated[
        float | None, Field(description="Integrated loudness, LUFS (BS.1770-4)", title="Loudness Lufs")
    ] = None
    true_peak_dbtp: Annotated[float | None, Field(description="True peak, dBTP", title="True Peak Dbtp")] = (
        None
    )
    bpm: Annotated[float | None, Field(title="Bpm")] = None
    key: Annotated[str | None, Field(examples=["A minor"], title="Key")] = None
    key_confidence: Annotated[
        float | None, Field(description="Key-profile correlation, -1..1", title="Key Confidence")
    ] = None


class TakeScores(BaseModel):
    """
    A take's quality scores (docs/container.md, Measuring); null where not measured.
    """

    text_audio: Annotated[
        float | None,
        Field(description="CLAP cosine between the take and its style prompt", title="Text Audio"),
    ] = None
    lyrics_accuracy: Annotated[
        float | None,
        Field(
            description="1 - word error rate of a Whisper transcription; null for instrumentals",
            title="Lyrics Accuracy",
        ),
    ] = None
    bpm_error: Annotated[
        float | None,
        Field(description="|measured - asked| / asked, when a tempo was asked", title="Bpm Error"),
    ] = None
    key_match: Annotated[
        float | None,
        Field(description="MIREX key score (1 = same key), when a key was asked", title="Key Match"),
    ] = None


class TranscribeRequest(_TitleToWebhookUrl):
    """
    Audio to MIDI: the source transcribed note by note (no GPU). A song made of stems gives one
    MIDI file per track.
    """

    mode: Annotated[Literal["transcribe"], Field(title="Mode")]
    source: SourceRef


class UploadCreated(BaseModel):
    upload_id: Annotated[str, Field(title="Upload Id")]
    url: Annotated[
        str,
        Field(
            description="POST the form here: `fields` first, then the file as the `file` field", title="Url"
        ),
    ]
    fields: Annotated[dict[str, str], Field(description="Form fields to send unchanged", title="Fields")]
    expires_at: Annotated[str, Field(description="The form is accepted until then", title="Expires At")]
    max_duration_s: Annotated[
        int, Field(description="Longer tracks are rejected by the upload check", title="Max Duration S")
    ]


class Format7(StrEnum):
    wav = "wav"
    mp3 = "mp3"
    flac = "flac"
    ogg = "ogg"


class ContentType(StrEnum):
    """
    The file's type; the upload check holds the file to it
    """

    audio_wav = "audio/wav"
    audio_x_wav = "audio/x-wav"
    audio_wave = "audio/wave"
    audio_mpeg = "audio/mpeg"
    audio_mp3 = "audio/mp3"
    audio_flac = "audio/flac"
    audio_x_flac = "audio/x-flac"
    audio_ogg = "audio/ogg"


class UploadRequest(BaseModel):
    """
    `POST /uploads`: what the browser is about to send. The size limit is a setting, checked by
    the API (422 with the field); the POST policy then holds the client to this exact size and type.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    filename: Annotated[
        str,
        Field(
            description="Shown back; not part of the key",
            max_length=255,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Filename",
        ),
    ]
    content_type: Annotated[
        ContentType,
        Field(description="The file's type; the upload check holds the file to it", title="Content Type"),
    ]
    size_bytes: Annotated[
        int,
        Field(
            description="The file's exact size; the upload URL accepts only this size. At most `upload_max_mb` MB (a deployment setting; the document a deployment serves at GET /docs states its own)",
            ge=1,
            le=52428800,
            title="Size Bytes",
        ),
    ]


class UploadStatus(StrEnum):
    pending = "pending"
    ready = "ready"
    rejected = "rejected"


class WebhookSecretResponse(BaseModel):
    secret: Annotated[
        str,
        Field(
            description="whsec_ + base64 of 32 random bytes; the HMAC-SHA256 key is the base64-decoded part",
            title="Secret",
        ),
    ]


class _PersonaIdToMastering(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    persona_id: Annotated[
        PersonaId | None,
        Field(
            description="One of your personas (POST /personas): its reference clip conditions the voice and sound, its style joins the prompt",
            title="Persona Id",
        ),
    ] = None
    title: Annotated[Title | None, Field(title="Title")] = None
    webhook_url: Annotated[
        WebhookUrl | None,
        Field(
            description="https URL that receives the song's lifecycle events, signed per Standard Webhooks; port 443 (the default) or 8443 only, and its host must resolve to public addresses only (checked now and at every delivery)",
            title="Webhook Url",
        ),
    ] = None
    seed: Annotated[Seed | None, Field(title="Seed")] = None
    guidance_scale: Annotated[GuidanceScale | None, Field(title="Guidance Scale")] = None
    inference_steps: Annotated[InferenceSteps | None, Field(title="Inference Steps")] = None
    formats: Annotated[list[Format] | None, Field(max_length=3, min_length=1, title="Formats")] = None
    mastering: Annotated[
        Mastering | None,
        Field(
            description="The delivered level: absent = -14 LUFS / -1 dBTP, either field may be left out; null = the model's raw level (repaint and extend keep their untouched samples bit-identical only then)"
        ),
    ] = None


class CoverRequest(_PersonaIdToMastering):
    """
    Restyle the source: same length and structure, the style of `prompt`.
    """

    source: SourceRef
    variants: Annotated[
        int | None,
        Field(
            description="Takes to render in one batch, each priced; take k uses seed + k - 1",
            ge=1,
            le=4,
            title="Variants",
        ),
    ] = 1
    bpm: Annotated[Bpm | None, Field(title="Bpm")] = None
    key: Annotated[Key | None, Field(examples=["C major", "F# minor"], title="Key")] = None
    mode: Annotated[Literal["cover"], Field(title="Mode")]
    prompt: Annotated[
        str,
        Field(
            max_length=500,
            min_length=3,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Prompt",
        ),
    ]
    lyrics: Annotated[Lyrics | None, Field(title="Lyrics")] = None
    strength: Annotated[
        float | None,
        Field(
            description="How closely the cover follows the source (1 = closest)",
            ge=0.0,
            le=1.0,
            title="Strength",
        ),
    ] = 0.5


class _VariantsToVocalLanguage(_PersonaIdToMastering):
    variants: Annotated[
        int | None,
        Field(
            description="Takes to render in one batch, each priced; take k uses seed + k - 1",
            ge=1,
            le=4,
            title="Variants",
        ),
    ] = 1
    instrumental: Annotated[bool | None, Field(title="Instrumental")] = False
    duration_s: Annotated[int | None, Field(ge=10, le=600, title="Duration S")] = 180
    bpm: Annotated[Bpm | None, Field(title="Bpm")] = None
    key: Annotated[Key | None, Field(examples=["C major", "F# minor"], title="Key")] = None
    time_signature: Annotated[TimeSignature | None, Field(title="Time Signature")] = None
    vocal_language: Annotated[VocalLanguage | None, Field(examples=["en"], title="Vocal Language")] = None


class CustomLyricsRequest(_VariantsToVocalLanguage):
    mode: Annotated[Literal["custom_lyrics"], Field(title="Mode")]
    prompt: Annotated[
        str,
        Field(
            max_length=500,
            min_length=3,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Prompt",
        ),
    ]
    lyrics: Annotated[
        str,
        Field(
            max_length=5000,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Lyrics",
        ),
    ]


class DescribedLyricsRequest(_VariantsToVocalLanguage):
    mode: Annotated[Literal["described_lyrics"], Field(title="Mode")]
    prompt: Annotated[
        str,
        Field(
            max_length=500,
            min_length=3,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Prompt",
        ),
    ]
    described_lyrics: Annotated[
        str,
        Field(
            max_length=1000,
            min_length=3,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Described Lyrics",
        ),
    ]


class DescriptionRequest(_VariantsToVocalLanguage):
    mode: Annotated[Literal["description"], Field(title="Mode")]
    description: Annotated[
        str,
        Field(
            max_length=1000,
            min_length=3,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Description",
        ),
    ]


class _FormatsToKey(_SeedToInferenceSteps):
    formats: Annotated[list[Format] | None, Field(max_length=3, min_length=1, title="Formats")] = None
    mastering: Annotated[
        Mastering | None,
        Field(
            description="The delivered level: absent = -14 LUFS / -1 dBTP, either field may be left out; null = the model's raw level (repaint and extend keep their untouched samples bit-identical only then)"
        ),
    ] = None
    source: SourceRef
    variants: Annotated[
        int | None,
        Field(
            description="Takes to render in one batch, each priced; take k uses seed + k - 1",
            ge=1,
            le=4,
            title="Variants",
        ),
    ] = 1
    bpm: Annotated[Bpm | None, Field(title="Bpm")] = None
    key: Annotated[Key | None, Field(examples=["C major", "F# minor"], title="Key")] = None


class ExtendRequest(_FormatsToKey):
    """
    Add `add_s` seconds after the end of the source: one longer song.
    """

    mode: Annotated[Literal["extend"], Field(title="Mode")]
    add_s: Annotated[float, Field(ge=5.0, le=595.0, title="Add S")]
    prompt: Annotated[Prompt | None, Field(title="Prompt")] = None
    lyrics: Annotated[Lyrics | None, Field(title="Lyrics")] = None


class PersonaDetail(PersonaSummary):
    reference_url: Annotated[
        str,
        Field(
            description="Presigned URL of the reference clip (WAV), to listen to it", title="Reference Url"
        ),
    ]
    urls_expire_at: Annotated[str, Field(title="Urls Expire At")]


class PersonaPage(BaseModel):
    personas: Annotated[list[PersonaSummary], Field(title="Personas")]
    next_token: Annotated[
        str | None, Field(description="Pass as `next_token` for the next page", title="Next Token")
    ] = None


class PersonaRequest(BaseModel):
    """
    POST /personas: the clip is the `REFERENCE_WINDOW_S` seconds of the source from `start_s`.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[
        str,
        Field(
            max_length=80,
            min_length=1,
            pattern="^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
            title="Name",
        ),
    ]
    source: PersonaSourceRef
    start_s: Annotated[
        float | None,
        Field(
            description="Where the reference window starts; up to 30 s from there are kept (at least 5 s must remain in the source)",
            ge=0.0,
            le=600.0,
            title="Start S",
        ),
    ] = 0.0
    style: Annotated[Style | None, Field(description="Added to the prompt of every song", title="Style")] = (
        None
    )


class RepaintRequest(_FormatsToKey):
    """
    Regenerate `start_s`..`end_s` of the source; the rest of the track stays as it was.
    """

    mode: Annotated[Literal["repaint"], Field(title="Mode")]
    start_s: Annotated[float, Field(ge=0.0, le=600.0, title="Start S")]
    end_s: Annotated[
        float,
        Field(description="Must be after start_s and within the source", gt=0.0, le=600.0, title="End S"),
    ]
    prompt: Annotated[Prompt | None, Field(title="Prompt")] = None
    lyrics: Annotated[Lyrics | None, Field(title="Lyrics")] = None


class SongPage(BaseModel):
    songs: Annotated[list[SongSummary], Field(title="Songs")]
    next_token: Annotated[
        str | None, Field(description="Pass as `next_token` for the next page", title="Next Token")
    ] = None


class SongTake(BaseModel):
    """
    One take of a processed song (a song requested with `variants` k has k takes; stems have one,
    measured on the stems' mix, whose files are in `tracks`).
    """

    take: Annotated[int, Field(description="1-based, in the order rendered", title="Take")]
    seed: Annotated[
        int | None, Field(description="Render this seed with variants 1 to get this take again", title="Seed")
    ] = None
    rank: Annotated[
        int | None,
        Field(
            description="1 = the song's best take (its `best_take`); null on songs made before ranking",
            title="Rank",
        ),
    ] = None
    analysis: Annotated[TakeAnalysis | None, Field(description="Measured on the delivered audio")] = None
    scores: TakeScores | None = None
    audio_url: Annotated[
        str | None, Field(description="Presigned URL of the first requested format", title="Audio Url")
    ] = None
    audio_urls: Annotated[
        dict[str, str] | None, Field(description="Presigned URL per audio format", title="Audio Urls")
    ] = None
    lyrics_timing_url: Annotated[
        str | None,
        Field(
            description="Presigned URL of the take's timed lyrics (an LRC file): vocal takes",
            title="Lyrics Timing Url",
        ),
    ] = None


class UploadDetail(BaseModel):
    upload_id: Annotated[str, Field(title="Upload Id")]
    status: Annotated[UploadStatus, Field(description="pending until the file has landed and been checked")]
    filename: Annotated[str, Field(title="Filename")]
    content_type: Annotated[str, Field(title="Content Type")]
    size_bytes: Annotated[int, Field(title="Size Bytes")]
    created_at: Annotated[str, Field(title="Created At")]
    expires_at: Annotated[
        str | None, Field(description="An unused upload is deleted then; null once used", title="Expires At")
    ] = None
    format: Annotated[Format7 | None, Field(title="Format")] = None
    duration_s: Annotated[float | None, Field(title="Duration S")] = None
    sample_rate: Annotated[int | None, Field(title="Sample Rate")] = None
    channels: Annotated[int | None, Field(title="Channels")] = None
    analysis: Annotated[
        TakeAnalysis | None,
        Field(
            description="Length, loudness, true peak, tempo and key, as measured on a take; null until the upload is ready, or when it could not be measured (the upload is usable all the same). Its bpm and key are the defaults of cover, repaint and extend"
        ),
    ] = None
    error: Annotated[JobError | None, Field(description="Why the upload was rejected")] = None


SongRequest = TypeAliasType(
    "SongRequest",
    Annotated[
        DescriptionRequest
        | CustomLyricsRequest
        | DescribedLyricsRequest
        | CoverRequest
        | RepaintRequest
        | ExtendRequest
        | StemsRequest
        | TranscribeRequest,
        Field(
            description="Text modes, or audio-in modes with a `source`; chosen by `mode`",
            discriminator="mode",
            title="Request",
        ),
    ],
)


class SongDetail(SongSummary):
    request: Annotated[
        dict[str, Any], Field(description="The accepted request, defaults filled in", title="Request")
    ]
    source: Annotated[SongSource | None, Field(description="Audio-in modes: the source track")] = None
    persona_id: Annotated[
        str | None,
        Field(
            description="The persona the song is sung with (kept after the persona is deleted)",
            title="Persona Id",
        ),
    ] = None
    persona_reference: Annotated[
        PersonaHeard | None,
        Field(description="Once processed: the persona's clip the model heard (its SHA-256 and seconds)"),
    ] = None
    tracks: Annotated[
        dict[str, dict[str, str]] | None,
        Field(
            description='Stems: presigned URL per track, then per format ("mid": the track\'s MIDI file)',
            title="Tracks",
        ),
    ] = None
    midi_url: Annotated[
        str | None,
        Field(
            description="Mode transcribe of one track (an upload or a song): presigned URL of its MIDI file",
            title="Midi Url",
        ),
    ] = None
    audio_url: Annotated[
        str | None,
        Field(
            description="Presigned URL of the best take's first requested format (see `best_take`)",
            title="Audio Url",
        ),
    ] = None
    audio_urls: Annotated[
        dict[str, str] | None,
        Field(description="The best take's presigned URL per format", title="Audio Urls"),
    ] = None
    cover_url: Annotated[str | None, Field(title="Cover Url")] = None
    urls_expire_at: Annotated[str | None, Field(title="Urls Expire At")] = None
    lyrics: Annotated[str | None, Field(title="Lyrics")] = None
    prompt: Annotated[str | None, Field(title="Prompt")] = None
    categories: Annotated[list[str] | None, Field(title="Categories")] = None
    seed: Annotated[
        int | None, Field(description="Take 1's seed; take k used seed + k - 1", title="Seed")
    ] = None
    takes: Annotated[
        list[SongTake] | None,
        Field(
            description="Processed songs: every take in take order with its rank, measurements and URLs",
            title="Takes",
        ),
    ] = None
    best_take: Annotated[
        int | None,
        Field(
            description="The take ranked 1, whose audio is the song's own `audio_url`; null on older songs",
            title="Best Take",
        ),
    ] = None
    duration_s: Annotated[float | None, Field(title="Duration S")] = None
    queue_position: Annotated[
        int | None,
        Field(
            description="While queued: songs ahead of this one for the GPU (counted up to 100)",
            title="Queue Position",
        ),
    ] = None
    eta_s: Annotated[
        int | None,
        Field(
            description="While queued: rough seconds until done, from recent render times (null: no history)",
            title="Eta S",
        ),
    ] = None
