"""The Python client and the `songs` command line against the local stack, over HTTP.

The credential is a personal API key, made once per user in a signed-in session (an id token of the
local pool), as a person makes one on the web app's Account screen; the scripts use only the key.
The command line runs as its installed console script in a shell with only PATH, an empty HOME and
the two SONG_* settings.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from song_client import Client, verify_webhook
from song_client.cli.batch import STATE_FILE
from song_client.errors import AuthenticationError, PermissionDeniedError
from song_client.models import JobStatus

from local.cognito import CognitoSettings, sign_in
from tests.webhook_receiver import WebhookReceiver, running_receiver

pytestmark = pytest.mark.slow

SONGS = Path(sys.executable).with_name("songs")
SONG_TIMEOUT_S = 300
# The cheapest songs the API accepts: the tiny models render them in seconds.
FAST = ["--duration", "10", "--steps", "2", "--poll", "0.5"]


def _session(stack: dict[str, Any], name: str) -> Client:
    """A client signed in as `name` (an id token): what key management needs."""
    return Client(sign_in(CognitoSettings(**stack["cognito"]), name), stack["api_url"])


@pytest.fixture(scope="module")
def credential(stack: dict[str, Any]) -> Callable[[str], str]:
    """An API key per user name, created in the user's signed-in session."""
    keys: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in keys:
            with _session(stack, name) as session:
                keys[name] = session.create_api_key(f"e2e {name}").secret
        return keys[name]

    return get


@pytest.fixture
def songs(stack: dict[str, Any], credential, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """`songs ARGS...` as a script would run it, as USER."""
    home = tmp_path / "home"
    home.mkdir()

    def env(user: str) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "SONG_API_URL": stack["api_url"],
            "SONG_API_KEY": credential(user),
        }

    def run(*args: str, user: str, timeout: float = SONG_TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SONGS), *args], env=env(user), cwd=tmp_path, capture_output=True, text=True, timeout=timeout
        )

    run.env = env  # type: ignore[attr-defined]
    return run


def _seconds(path: Path) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate


def test_generate_saves_every_take_and_the_cover(songs, tmp_path: Path) -> None:
    result = songs(
        "generate",
        "a short calm piano piece",
        *FAST,
        "--variants",
        "2",
        "--seed",
        "11",
        "-o",
        "out",
        "--json",
        user="cli-generate",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    song = document["song"]
    assert song["status"] == "processed"
    folder = tmp_path / "out" / song["job_id"]
    names = sorted(path.name for path in folder.iterdir())
    # Every take with its timed lyrics (the songwriter wrote words), the cover and the song.
    assert names == [
        "cover.png",
        "song-take1.lrc",
        "song-take1.wav",
        "song-take2.lrc",
        "song-take2.wav",
        "song.json",
    ]
    assert sorted(Path(p).name for p in document["files"]) == names
    for take in ("song-take1.wav", "song-take2.wav"):
        assert abs(_seconds(folder / take) - 10.0) < 0.5
    assert (folder / "song-take1.wav").read_bytes() != (folder / "song-take2.wav").read_bytes()
    assert (folder / "cover.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The live display, as plain lines when stderr is not a terminal.
    assert "submitted (2 credits reserved)" in result.stderr
    assert "rendering (generating)" in result.stderr and "done in" in result.stderr


def test_errors_come_in_the_apis_words_with_documented_exit_codes(songs) -> None:
    unauthorized = subprocess.run(
        [str(SONGS), "me"],
        env={**songs.env("cli-errors"), "SONG_API_KEY": "not-a-token"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unauthorized.returncode == 4
    assert "error: Unauthorized (Unauthorized)" in unauthorized.stderr

    invalid = songs("generate", "a song", "--duration", "5", "--json", user="cli-errors", timeout=60)
    assert invalid.returncode == 1
    error = json.loads(invalid.stdout)["error"]
    assert error["code"] == "ValidationError"
    assert [detail["field"] for detail in error["details"]] == ["body.duration_s"]

    missing = songs("get", "00000000-0000-4000-8000-000000000000", user="cli-errors", timeout=60)
    assert missing.returncode == 1 and "(NotFound)" in missing.stderr

    me = songs("me", "--json", user="cli-errors", timeout=60)
    assert me.returncode == 0 and json.loads(me.stdout)["credits"] >= 1


def test_batch_resumes_after_being_killed(songs, stack, credential, tmp_path: Path) -> None:
    """Killed once both songs were submitted: the re-run follows them (no new song, no second
    charge) and saves them; a third run skips both."""
    user = "cli-batch"
    (tmp_path / "prompts.txt").write_text("a calm lofi song\n# skipped\nan upbeat ska tune\n")
    command = [str(SONGS), "batch", "prompts.txt", "-o", "out", "--parallel", "2", *FAST, "--json"]
    state_file = tmp_path / "out" / STATE_FILE
    first = subprocess.Popen(
        command, env=songs.env(user), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        submitted = _wait_for(lambda: _song_ids(state_file) if len(_song_ids(state_file)) == 2 else None, 60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL

    resumed = songs(*command[1:], user=user)
    assert resumed.returncode == 0, resumed.stderr
    lines = json.loads(resumed.stdout)["lines"]
    assert [line["outcome"] for line in lines] == ["done", "done"]
    assert {line["song_id"] for line in lines} == submitted
    for folder in ("001-a-calm-lofi-song", "003-an-upbeat-ska-tune"):
        assert abs(_seconds(tmp_path / "out" / folder / "song.wav") - 10.0) < 0.5

    with Client(credential(user), stack["api_url"]) as client:
        assert {song.job_id for song in client.iter_songs()} == submitted  # nothing submitted twice
        # cdk.json: signup_credits 10; each 10-second song costs 1, charged once.
        assert client.me().credits == 8

    again = songs(*command[1:], user=user, timeout=60)
    assert again.returncode == 0
    assert [line["outcome"] for line in json.loads(again.stdout)["lines"]] == ["skipped", "skipped"]


def _song_ids(state_file: Path) -> set[str]:
    try:
        lines = json.loads(state_file.read_text())["lines"]
    except (FileNotFoundError, json.JSONDecodeError):
        return set()
    return {line["song_id"] for line in lines.values() if line.get("song_id")}


def _wait_for(probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"nothing after {timeout_s} s")


# --- the Python client: upload, cover, webhooks, download -------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as r:
        yield r


def test_client_uploads_covers_verifies_webhooks_and_downloads(
    stack, credential, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    rate = 48_000
    t = np.arange(4 * rate) / rate
    track = tmp_path / "source.wav"
    sf.write(track, np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1), rate, subtype="PCM_16")
    progress: list[str] = []

    with Client(credential("client-cover"), stack["api_url"]) as client:
        secret = client.webhook_secret()
        upload = client.upload_file(track, timeout_s=60, poll_interval_s=0.25)
        assert (upload.status.value, upload.duration_s, upload.channels) == ("ready", 4.0, 2)
        song = client.generate(
            mode="cover",
            source={"upload_id": upload.upload_id},
            prompt="jazz trio, brushed drums",
            inference_steps=2,
            webhook_url=receiver.url("/cover"),
            on_progress=lambda p: progress.append(p.status.value),
            timeout_s=SONG_TIMEOUT_S,
        )
        assert song.status is JobStatus.processed, song.error
        assert song.source is not None and song.source.upload_id == upload.upload_id
        files = client.download(song, tmp_path / "song")

    assert progress[-1] == "processed"
    assert sorted(path.name for path in files) == ["cover.png", "song.wav"]
    assert abs(_seconds(tmp_path / "song" / "song.wav") - 4.0) < 0.5
    deliveries = receiver.wait_for("/cover", 2)
    events = [verify_webhook(delivery.body, delivery.headers, secret) for delivery in deliveries]
    assert {event["type"] for event in events} >= {"song.processing", "song.processed"}
    assert all(event["data"]["job_id"] == song.job_id for event in events)


# --- API keys: made in a session, used alone, revoked -------------------------------------------


def test_a_key_makes_a_song_as_its_owner_until_revoked(
    stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _session(stack, "client-key") as session:
        owner = session.me().user_id
        key = session.create_api_key("client e2e", expires_in_days=1)
    assert key.secret.startswith(f"{key.prefix}_") and key.expires_at is not None

    # Only the key, from the environment, as a script would have it.
    monkeypatch.setenv("SONG_API_KEY", key.secret)
    monkeypatch.setenv("SONG_API_URL", stack["api_url"])
    with Client() as client:
        assert client.me().user_id == owner
        song = client.generate(
            mode="description",
            description="a short calm piano piece",
            duration_s=10,
            inference_steps=2,
            timeout_s=SONG_TIMEOUT_S,
        )
        assert song.status is JobStatus.processed, song.error
        files = client.download(song, tmp_path / "song")
        with pytest.raises(PermissionDeniedError) as refused:
            client.list_api_keys()  # key management needs the session
    assert refused.value.code == "SessionRequired"
    assert sorted(path.name for path in files) == ["cover.png", "song.lrc", "song.wav"]
    assert abs(_seconds(tmp_path / "song" / "song.wav") - 10.0) < 0.5

    with _session(stack, "client-key") as session:
        (listed,) = [k for k in session.list_api_keys() if k.key_id == key.key_id]
        assert listed.last_used_at is not None and listed.name == "client e2e"
        session.revoke_api_key(key.key_id)
    with Client(key.secret, stack["api_url"]) as client, pytest.raises(AuthenticationError) as revoked:
        client.me()  # at once: the local front caches no authorizer answer
    assert (revoked.value.status, revoked.value.code) == (401, "Unauthorized")
