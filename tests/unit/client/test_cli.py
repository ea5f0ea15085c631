"""The `songs` command line against the in-memory API: arguments, settings, output, exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from song_client.cli.output import ExitCode

from .fake_api import API, FakeApi, error


def sent(api: FakeApi) -> dict[str, Any]:
    return json.loads(api.api_requests("POST", "/songs")[-1].content)


# --- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["generate"],
        ["generate", "a song", "--duration", "long"],
        ["frobnicate"],
        ["batch", "missing-file.txt"],
        ["cover", "missing.wav", "--style", "jazz"],
        ["batch", "prompts.txt", "--parallel", "0"],
    ],
)
def test_usage_errors_exit_2(songs, args: list[str], tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("a song\n")
    assert songs(*args).exit_code == ExitCode.USAGE


@pytest.mark.parametrize("args", [["lofi"], ["lofi", "--lyrics", "la", "--about", "cats"]])
def test_lyrics_needs_exactly_one_source_of_words(songs, api: FakeApi, args: list[str]) -> None:
    result = songs("lyrics", *args)
    assert result.exit_code == ExitCode.USAGE
    assert "--lyrics" in result.stderr and not api.requests


def test_no_api_url_is_a_usage_error(songs, monkeypatch) -> None:
    monkeypatch.delenv("SONG_API_URL")
    result = songs("me")
    assert result.exit_code == ExitCode.USAGE
    assert "no API URL" in result.stderr and "(NotConfigured)" in result.stderr


def test_no_credential_is_an_auth_error(songs, monkeypatch) -> None:
    monkeypatch.delenv("SONG_API_KEY")
    result = songs("me", "--json")
    assert result.exit_code == ExitCode.AUTH
    assert json.loads(result.stdout)["error"]["code"] == "NoCredential"


# --- settings ------------------------------------------------------------------------------------


def test_flags_beat_the_environment_which_beats_the_config_file(
    songs, api: FakeApi, monkeypatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'api_url = "{API}"\napi_key = "from-file"\n')
    monkeypatch.setenv("SONG_CONFIG", str(config))
    monkeypatch.delenv("SONG_API_KEY")
    monkeypatch.delenv("SONG_API_URL")

    assert songs("me").exit_code == 0
    assert api.requests[-1].headers["Authorization"] == "Bearer from-file"
    monkeypatch.setenv("SONG_API_KEY", "from-env")
    assert songs("me").exit_code == 0
    assert api.requests[-1].headers["Authorization"] == "Bearer from-env"
    assert songs("--api-key", "from-flag", "me").exit_code == 0
    assert api.requests[-1].headers["Authorization"] == "Bearer from-flag"


def test_configure_writes_a_file_only_its_owner_reads(
    songs, api: FakeApi, monkeypatch, tmp_path: Path
) -> None:
    config = tmp_path / "conf" / "config.toml"
    monkeypatch.setenv("SONG_CONFIG", str(config))
    result = songs("configure", "--url", API, "--key", "k-saved")
    assert result.exit_code == 0, result.output
    assert "signed in as u-1" in result.stderr  # checked with GET /me before saving
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert 'api_key = "k-saved"' in config.read_text()

    monkeypatch.delenv("SONG_API_KEY")
    monkeypatch.delenv("SONG_API_URL")
    assert songs("me").exit_code == 0
    assert api.requests[-1].headers["Authorization"] == "Bearer k-saved"


def test_configure_prompts_for_what_is_missing(songs, monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SONG_CONFIG", str(config))
    result = songs("configure", "--no-check", input=f"{API}\nk-typed\n")
    assert result.exit_code == 0, result.output
    assert 'api_key = "k-typed"' in config.read_text() and "k-typed" not in result.output


def test_an_unreadable_config_file_is_a_usage_error(songs, monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("api_url = [")
    monkeypatch.setenv("SONG_CONFIG", str(config))
    monkeypatch.delenv("SONG_API_KEY")
    result = songs("me")
    assert result.exit_code == ExitCode.USAGE and "(BadConfigFile)" in result.stderr


# --- making songs --------------------------------------------------------------------------------


def test_generate_sends_the_request_shows_progress_and_saves_every_file(
    songs, api: FakeApi, tmp_path: Path
) -> None:
    api.lifecycle = ["queued", "queued", "processing", "processed"]
    result = songs(
        "generate",
        "a calm lofi song",
        "--duration",
        "30",
        "--steps",
        "2",
        "--variants",
        "2",
        "-f",
        "wav",
        "-f",
        "mp3",
        "--seed",
        "0",
        "--instrumental",
        "-o",
        "out",
    )
    assert result.exit_code == 0, result.output
    assert sent(api) == {
        "mode": "description",
        "description": "a calm lofi song",
        "duration_s": 30,
        "inference_steps": 2,
        "variants": 2,
        "formats": ["wav", "mp3"],
        "seed": 0,
        "instrumental": True,
    }
    (song_id,) = api.songs
    folder = tmp_path / "out" / song_id
    assert sorted(p.name for p in folder.iterdir()) == [
        "cover.png",
        "song-take1.mp3",
        "song-take1.wav",
        "song-take2.mp3",
        "song-take2.wav",
        "song.json",
    ]
    assert json.loads((folder / "song.json").read_text())["job_id"] == song_id
    progress = result.stderr.splitlines()
    assert any("queued, 2 ahead, ETA ~0:40" in line for line in progress)
    assert any("rendering (generating)" in line for line in progress)
    assert any("done in" in line for line in progress)
    assert f"out/{song_id}/song-take2.mp3" in result.stdout


def test_generate_json_is_one_document_on_stdout(songs, api: FakeApi) -> None:
    result = songs("generate", "a calm lofi song", "--json", "-q")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["song"]["status"] == "processed" and len(document["files"]) == 4
    assert result.stderr == ""  # -q: no notes, no progress


def test_no_wait_prints_the_id_and_returns(songs, api: FakeApi) -> None:
    result = songs("generate", "a calm lofi song", "--no-wait")
    assert result.exit_code == 0
    assert result.stdout.strip() == next(iter(api.songs))
    assert not api.api_requests("GET")


def test_instrumental_and_lyrics_modes(songs, api: FakeApi, tmp_path: Path) -> None:
    assert songs("instrumental", "a drum and bass tune", "--no-wait").exit_code == 0
    assert sent(api) == {"mode": "description", "description": "a drum and bass tune", "instrumental": True}

    (tmp_path / "words.txt").write_text("[verse]\nrain on the window\n")
    assert songs("lyrics", "lofi, piano", "--lyrics-file", "words.txt", "--no-wait").exit_code == 0
    assert sent(api) == {
        "mode": "custom_lyrics",
        "prompt": "lofi, piano",
        "lyrics": "[verse]\nrain on the window\n",
    }

    assert songs("lyrics", "folk", "--lyrics-file", "-", "--no-wait", input="[chorus]\nhey\n").exit_code == 0
    assert sent(api)["lyrics"] == "[chorus]\nhey\n"

    assert songs("lyrics", "folk", "--about", "a lost cat", "--no-wait").exit_code == 0
    assert sent(api) == {"mode": "described_lyrics", "prompt": "folk", "described_lyrics": "a lost cat"}


def test_cover_uploads_then_covers(songs, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "take.wav").write_bytes(b"RIFF" + b"\0" * 40)
    result = songs("cover", "take.wav", "--style", "jazz trio", "--strength", "0", "-o", "out")
    assert result.exit_code == 0, result.output
    (upload_id,) = api.uploads
    assert sent(api) == {
        "mode": "cover",
        "source": {"upload_id": upload_id},
        "prompt": "jazz trio",
        "strength": 0.0,
    }
    assert len(api.storage_posts) == 1


def test_cover_takes_a_tempo_and_key_but_no_duration(songs, api: FakeApi, tmp_path: Path) -> None:
    """A cover's tempo and key override the source's measured ones; its length is the source's."""
    (tmp_path / "take.wav").write_bytes(b"RIFF" + b"\0" * 40)
    result = songs("cover", "take.wav", "-s", "jazz", "--bpm", "96", "--key", "A minor", "--no-wait")
    assert result.exit_code == 0, result.output
    assert (sent(api)["bpm"], sent(api)["key"]) == (96, "A minor")
    assert songs("cover", "take.wav", "-s", "jazz", "--duration", "30").exit_code == ExitCode.USAGE


def test_a_rejected_upload_exits_3_in_the_checks_words(songs, api: FakeApi, tmp_path: Path) -> None:
    api.upload_checks = ["rejected"]
    (tmp_path / "take.wav").write_bytes(b"RIFF")
    result = songs("cover", "take.wav", "--style", "jazz")
    assert result.exit_code == ExitCode.SONG_FAILED
    assert "the track is 0.40 s long; send at least 1 s (TooShort)" in result.stderr
    assert not api.api_requests("POST", "/songs")


def test_a_failed_song_exits_3_with_its_reason(songs, api: FakeApi) -> None:
    api.lifecycle = ["queued", "processing", "failed"]
    result = songs("generate", "a calm lofi song")
    assert result.exit_code == ExitCode.SONG_FAILED
    assert "failed: the GPU failed (GenerationFailed)" in result.stderr

    json_result = songs("generate", "a calm lofi song", "--json")
    assert json_result.exit_code == ExitCode.SONG_FAILED
    assert json.loads(json_result.stdout)["song"]["error"]["code"] == "GenerationFailed"


def test_a_timeout_exits_6(songs, api: FakeApi) -> None:
    api.lifecycle = ["queued"] * 5
    result = songs("generate", "a calm lofi song", "--timeout", "0")
    assert result.exit_code == ExitCode.TIMEOUT
    assert "(Timeout)" in result.stderr


# --- errors in the API's words -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "exit_code"),
    [
        (error(401, "Unauthorized", "Unauthorized"), ExitCode.AUTH),
        (error(403, "Forbidden", "User is not authorized"), ExitCode.AUTH),
        (
            error(402, "InsufficientCredits", "not enough credits", {"available_credits": 0}),
            ExitCode.NO_CREDITS,
        ),
        (error(409, "IdempotencyConflict", "key reused with another body"), ExitCode.API_ERROR),
        (error(500, "InternalError", "unexpected", {"correlation_id": "c-9"}), ExitCode.API_ERROR),
    ],
)
def test_api_errors_map_to_exit_codes(songs, api: FakeApi, response, exit_code: ExitCode) -> None:
    api.then("POST", "/songs", *[response] * 5)
    result = songs("generate", "a calm lofi song", "--json")
    assert result.exit_code == exit_code
    assert json.loads(result.stdout) == json.loads(response.content)  # the API's body, as sent


def test_validation_errors_list_the_fields(songs, api: FakeApi) -> None:
    details = [
        {"field": "body.duration_s", "message": "Input should be greater than or equal to 10", "type": "x"}
    ]
    api.then("POST", "/songs", error(422, "ValidationError", "the request body is not valid", details))
    result = songs("generate", "a calm lofi song", "--duration", "5")
    assert result.exit_code == ExitCode.API_ERROR
    assert "error: the request body is not valid (ValidationError)" in result.stderr
    assert "body.duration_s: Input should be greater than or equal to 10" in result.stderr


# --- the other commands --------------------------------------------------------------------------


def test_me_list_get_cancel_delete(songs, api: FakeApi) -> None:
    me = songs("me")
    assert me.exit_code == 0 and "10 (1 reserved, 9 available)" in me.stdout

    song_id = songs("generate", "a calm lofi song", "--no-wait").stdout.strip()
    listed = json.loads(songs("list", "--json").stdout)
    assert [song["job_id"] for song in listed["songs"]] == [song_id]
    assert song_id in songs("list").stdout

    got = songs("get", song_id)
    assert got.exit_code == 0 and "processing" in got.stdout  # one GET moved it on

    canceled = songs("cancel", song_id, "--json")
    assert json.loads(canceled.stdout)["status"] == "canceled"
    assert songs("delete", song_id).exit_code == 0 and not api.songs
    missing = songs("get", song_id)
    assert missing.exit_code == ExitCode.API_ERROR and "song not found (NotFound)" in missing.stderr


def test_download_and_wait(songs, api: FakeApi, tmp_path: Path) -> None:
    song_id = songs("generate", "a calm lofi song", "--no-wait").stdout.strip()
    not_ready = songs("download", song_id)  # -> processing
    assert not_ready.exit_code == ExitCode.API_ERROR and "(SongNotReady)" in not_ready.stderr

    waited = songs("wait", song_id, "-o", "w")
    assert waited.exit_code == 0
    assert (tmp_path / "w" / song_id / "song.wav").exists()

    downloaded = songs("download", song_id, "-o", "d", "--json")
    assert downloaded.exit_code == 0
    assert {Path(p).name for p in json.loads(downloaded.stdout)["files"]} == {
        "song.wav",
        "song.mp3",
        "cover.png",
        "song.json",
    }


def test_download_of_a_failed_song_exits_3(songs, api: FakeApi) -> None:
    api.lifecycle = ["queued", "failed"]
    song_id = songs("generate", "a calm lofi song", "--no-wait").stdout.strip()
    assert songs("download", song_id).exit_code == ExitCode.SONG_FAILED
