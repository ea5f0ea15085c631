"""Where a job's published media live in the media bucket (the contract between publish and API).

`songs/{user_id}/{job_id}/audio.{fmt}` (`audio-take{k}.{fmt}` for take k > 1), the timed lyrics
`lyrics.lrc` (`lyrics-take{k}.lrc`) and `songs/{user_id}/{job_id}/cover.png`: all under the job's
prefix, so deleting the prefix deletes the song. Both ids are
checked before they become part of a key, so no request value can point at another prefix.
"""

from __future__ import annotations

import re
from uuid import UUID

from .contract import SONGS_PREFIX

# Cognito `sub` values are UUIDs; other identity providers (the local stack) use similar tokens.
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def is_valid_user_id(user_id: str) -> bool:
    return bool(_USER_ID.fullmatch(user_id))


def is_valid_job_id(job_id: str) -> bool:
    """Canonical lower-case UUID text, as `new_job_id()` writes it."""
    try:
        return str(UUID(job_id)) == job_id
    except ValueError:
        return False


def job_prefix(user_id: str, job_id: str) -> str:
    if not is_valid_user_id(user_id) or not is_valid_job_id(job_id):
        raise ValueError("user_id or job_id is not safe for an S3 key")
    return f"{SONGS_PREFIX}{user_id}/{job_id}/"


def audio_key(user_id: str, job_id: str, fmt: str, track: str | None = None, take: int = 1) -> str:
    """`audio.{fmt}` (take k > 1 of a song with variants: `audio-take{k}.{fmt}`), or
    `stem-{track}.{fmt}` for one track of a stems song."""
    name = "audio" if track is None else f"stem-{track}"
    suffix = "" if take == 1 else f"-take{int(take)}"
    return f"{job_prefix(user_id, job_id)}{name}{suffix}.{fmt}"


def midi_key(user_id: str, job_id: str, track: str | None = None) -> str:
    """`audio.mid` (a transcribed song or upload) or `stem-{track}.mid`, beside the audio files."""
    name = "audio" if track is None else f"stem-{track}"
    return f"{job_prefix(user_id, job_id)}{name}.mid"


def cover_key(user_id: str, job_id: str) -> str:
    return f"{job_prefix(user_id, job_id)}cover.png"


def lyrics_timing_key(user_id: str, job_id: str, take: int = 1) -> str:
    """A vocal take's timed lyrics (an LRC file): `lyrics.lrc`, take k > 1: `lyrics-take{k}.lrc`."""
    suffix = "" if take == 1 else f"-take{int(take)}"
    return f"{job_prefix(user_id, job_id)}lyrics{suffix}.lrc"
