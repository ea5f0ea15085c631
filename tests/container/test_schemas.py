from __future__ import annotations

from typing import Any

import pytest
from conftest import make_request
from pydantic import ValidationError
from song_model.schemas import (
    CustomLyricsRequest,
    DescribedLyricsRequest,
    DescriptionRequest,
    parse_request,
)


@pytest.mark.parametrize(
    ("mode", "cls"),
    [
        ("description", DescriptionRequest),
        ("custom_lyrics", CustomLyricsRequest),
        ("described_lyrics", DescribedLyricsRequest),
    ],
)
def test_each_mode_parses_to_its_model(mode: str, cls: type) -> None:
    assert isinstance(parse_request(make_request(mode)), cls)


def test_defaults_follow_the_design() -> None:
    body = make_request()
    for key in ("duration_s", "seed", "guidance_scale", "inference_steps", "formats", "instrumental"):
        body.pop(key)
    request = parse_request(body)
    assert request.duration_s == 180
    assert request.seed is None
    assert request.guidance_scale is None and request.inference_steps is None
    assert (request.bpm, request.key, request.time_signature, request.vocal_language) == (None,) * 4
    assert request.formats == ["wav"]
    assert request.instrumental is False


def test_music_metadata_parses() -> None:
    body = {"bpm": 30, "key": "C# minor", "time_signature": 6, "vocal_language": "zh", "duration_s": 600}
    request = parse_request(make_request(**body))
    assert (request.bpm, request.key, request.time_signature, request.vocal_language) == (
        30,
        "C# minor",
        6,
        "zh",
    )
    assert request.duration_s == 600


def test_unknown_fields_are_ignored() -> None:
    assert parse_request(make_request(user_id="u-1")).job_id == "job-1"


def _locations(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as info:
        parse_request(body)
    return [e["loc"] for e in info.value.errors()]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mode": "karaoke"}, ()),
        ({"duration_s": 0.5}, ("duration_s",)),
        ({"duration_s": 601}, ("duration_s",)),
        ({"guidance_scale": 16}, ("guidance_scale",)),
        ({"bpm": 29}, ("bpm",)),
        ({"bpm": 301}, ("bpm",)),
        ({"key": "H major"}, ("key",)),
        ({"key": "C"}, ("key",)),
        ({"time_signature": 5}, ("time_signature",)),
        ({"vocal_language": "english"}, ("vocal_language",)),
        ({"inference_steps": 0}, ("inference_steps",)),
        ({"seed": -1}, ("seed",)),
        ({"formats": ["ogg"]}, ("formats", 0)),
        ({"formats": []}, ("formats",)),
        ({"formats": ["wav", "wav"]}, ("formats",)),
        ({"output": {"bucket": "b-1", "prefix": "no-slash"}}, ("output", "prefix")),
        ({"output": {"bucket": "b-1"}}, ("output", "prefix")),
        ({"description": ""}, ("description",)),
        ({"description": "x" * 2001}, ("description",)),
        ({"mastering": {"loudness_lufs": -24}}, ("mastering", "loudness_lufs")),
        ({"mastering": {"loudness_lufs": -5}}, ("mastering", "loudness_lufs")),
        ({"mastering": {"true_peak_dbtp": 0.5}}, ("mastering", "true_peak_dbtp")),
        ({"mastering": {"true_peak_dbtp": -3.5}}, ("mastering", "true_peak_dbtp")),
        ({"mastering": "loud"}, ("mastering",)),
    ],
)
def test_bad_values_are_reported_on_their_field(overrides: dict[str, Any], field: tuple[Any, ...]) -> None:
    locations = _locations(make_request(**overrides))
    if field:
        assert any(loc[-len(field) :] == field for loc in locations), locations
    else:
        assert locations


def test_missing_mode_field_is_an_error() -> None:
    body = make_request("described_lyrics")
    del body["described_lyrics"]
    assert any(loc[-1] == "described_lyrics" for loc in _locations(body))


def test_custom_lyrics_needs_lyrics_unless_instrumental() -> None:
    with pytest.raises(ValidationError, match="lyrics are required"):
        parse_request(make_request("custom_lyrics", lyrics=""))
    assert parse_request(make_request("custom_lyrics", lyrics="", instrumental=True)).instrumental


def test_the_api_request_reaches_the_container_with_its_music_fields() -> None:
    """POST /songs body -> job row (model_dump) -> lambdas.common.inference.build_request ->
    the container's parser: every music field arrives with its value; nulls stay null."""
    from pydantic import TypeAdapter

    from lambdas.common.inference import build_request
    from lambdas.common.models import Job, JobStatus
    from lambdas.common.models import SongRequest as ApiSongRequest

    body = {
        "mode": "description", "description": "a waltz about rain", "duration_s": 600,
        "bpm": 84, "key": "Eb major", "time_signature": 3, "vocal_language": "fr",
    }  # fmt: skip
    api_request = TypeAdapter(ApiSongRequest).validate_python(body)
    job = Job(
        job_id="j1", user_id="u", status=JobStatus.PROCESSING, stage="generating",
        request=api_request.model_dump(mode="json"),
        created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z",
    )  # fmt: skip
    request = parse_request(build_request(job, "scratch-bucket"))
    metadata = (request.bpm, request.key, request.time_signature, request.vocal_language)
    assert metadata == (84, "Eb major", 3, "fr")
    assert request.duration_s == 600
    assert request.inference_steps is None and request.guidance_scale is None


def test_mastering_defaults_to_minus_14_lufs_and_null_is_the_raw_level() -> None:
    default = parse_request(make_request())
    assert default.mastering is not None
    assert (default.mastering.loudness_lufs, default.mastering.true_peak_dbtp) == (-14.0, -1.0)
    assert parse_request(make_request(mastering=None)).mastering is None
    custom = parse_request(make_request(mastering={"loudness_lufs": -23, "true_peak_dbtp": -2}))
    assert custom.mastering is not None and custom.mastering.true_peak_dbtp == -2.0
    half = parse_request(make_request(mastering={"loudness_lufs": -9}))
    assert half.mastering is not None and half.mastering.true_peak_dbtp == -1.0
