"""The service end to end through its HTTP API, on the local stack (tiny models, moto, real handlers).

Songs are submitted together and awaited together where the test allows: the endpoint runs one
inference at a time, like one instance with MaxConcurrentInvocationsPerInstance=1.
"""

from __future__ import annotations

import io
import time
import wave

import pytest
import requests
from PIL import Image

from local.client import download, media_urls, song_id

from .conftest import FAILURE_MARKER, song_body

pytestmark = pytest.mark.slow

MODES = ("description", "custom_lyrics", "described_lyrics")
SONG_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def processed(user) -> dict[str, dict]:
    """One song per mode, each by its own user, all in flight at once; mode -> finished job."""
    submitted = {mode: user(f"mode-{mode}").create_song(song_body(mode)) for mode in MODES}
    return {mode: user(f"mode-{mode}").wait(song_id(job), SONG_TIMEOUT_S) for mode, job in submitted.items()}


def test_health_needs_no_token_and_other_routes_do(stack) -> None:
    assert requests.get(f"{stack['api_url']}/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{stack['api_url']}/me", timeout=10).status_code == 401
    bad = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}
    assert requests.get(f"{stack['api_url']}/songs", headers=bad, timeout=10).status_code == 401


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_is_processed_with_playable_audio_and_a_cover(processed, mode) -> None:
    job = processed[mode]
    assert job["status"] == "processed", job.get("error")
    urls = media_urls(job)
    wav_urls = [url for name, url in urls.items() if name.endswith(".wav")]
    assert wav_urls and "cover.png" in urls

    # The default engine, ACE-Step 1.5 (tiny profile): 48 kHz stereo, exactly the requested length.
    with wave.open(io.BytesIO(download(wav_urls[0]))) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getnframes()) == (48000, 2, 10 * 48000)

    cover = Image.open(io.BytesIO(download(urls["cover.png"])))
    cover.verify()
    assert cover.format == "PNG" and cover.size[0] > 0


def test_every_take_is_measured_ranked_and_has_downloadable_timed_lyrics(processed) -> None:
    job = processed["custom_lyrics"]
    (take,) = job["takes"]
    assert (take["take"], take["rank"], job["best_take"]) == (1, 1, 1)
    assert job["audio_url"] == take["audio_url"]
    analysis, scores = take["analysis"], take["scores"]
    assert analysis["duration_s"] == pytest.approx(10.0)
    assert set(analysis) == {"duration_s", "loudness_lufs", "true_peak_dbtp", "bpm", "key", "key_confidence"}
    assert analysis["true_peak_dbtp"] is None or analysis["true_peak_dbtp"] <= -1.0 + 0.05  # the ceiling
    # The tiny profile's CLAP and Whisper have random weights: the scores exist, their values mean nothing.
    assert isinstance(scores["text_audio"], float) and 0.0 <= scores["lyrics_accuracy"] <= 1.0
    lrc = download(media_urls(job)["song.lrc"]).decode()
    timed = [line for line in lrc.splitlines() if line.startswith("[0")]
    assert [line.split("]", 1)[1] for line in timed if line.split("]", 1)[1]] == [
        "rain on the window",
        "slow and low",
    ]
    described = processed["description"]["takes"][0]
    assert described["rank"] == 1 and described["analysis"]["duration_s"] == pytest.approx(10.0)


def test_mastering_sets_the_delivered_level_and_null_keeps_the_raw_one(user) -> None:
    """Raw, default (-14 LUFS / -1 dBTP) and quiet (-23 / -3) renders of one seed. The tiny
    profile's random audio is peaky: mastering reaches each ceiling before the target, so the
    default is the louder one and both differ from the raw level; a meter reads what is reported."""
    import numpy as np
    import pyloudnorm

    client = user("mastering")
    body = song_body("custom_lyrics", seed=5)
    targets = {"raw": None, "default": {}, "quiet": {"loudness_lufs": -23, "true_peak_dbtp": -3}}
    jobs = {name: client.create_song({**body, "mastering": mastering}) for name, mastering in targets.items()}
    done = {name: client.wait(song_id(job), SONG_TIMEOUT_S) for name, job in jobs.items()}
    assert done["raw"]["request"]["mastering"] is None
    levels, peaks = {}, {}
    for name, job in done.items():
        assert job["status"] == "processed", job.get("error")
        with wave.open(io.BytesIO(download(media_urls(job)["song.wav"]))) as audio:
            frames = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").reshape(-1, 2) / 32768.0
        levels[name] = pyloudnorm.Meter(48000).integrated_loudness(frames)
        analysis = job["takes"][0]["analysis"]
        assert levels[name] == pytest.approx(analysis["loudness_lufs"], abs=0.5)
        peaks[name] = analysis["true_peak_dbtp"]
    assert peaks["quiet"] <= -3.0 + 0.05 and peaks["default"] <= -1.0 + 0.05
    assert levels["quiet"] <= -23.0 + 0.5 and levels["default"] <= -14.0 + 0.5
    assert levels["default"] > levels["quiet"] + 0.5
    assert abs(levels["default"] - levels["raw"]) > 0.5, (levels, peaks)


def test_presigned_urls_need_their_signature(processed) -> None:
    url = media_urls(processed["description"])["cover.png"]
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403


def test_a_processed_song_costs_exactly_its_price(processed, user) -> None:
    me = user("mode-description").me()
    # cdk.json: signup_credits 10, credits_per_minute 1; a 10-second song costs one started minute.
    assert me["credits"] == 9


def test_three_quick_songs_of_one_user_run_one_at_a_time_in_order(user) -> None:
    client = user("queue-user")
    ids = [song_id(client.create_song(song_body("description", seed=s))) for s in (1, 2, 3)]
    seen_running: list[int] = []
    finished_order: list[str] = []
    deadline = time.monotonic() + 3 * SONG_TIMEOUT_S
    while len(finished_order) < 3 and time.monotonic() < deadline:
        statuses = {i: client.song(i)["status"] for i in ids}
        seen_running.append(sum(s == "processing" for s in statuses.values()))
        finished_order += [
            i for i, s in statuses.items() if s in ("processed", "failed") and i not in finished_order
        ]
        time.sleep(0.3)
    assert [client.song(i)["status"] for i in ids] == ["processed"] * 3
    assert max(seen_running) <= 1
    assert any(n == 1 for n in seen_running)  # the poll did see the work happen
    assert finished_order == ids
    assert client.me()["credits"] == 7


def test_another_users_song_is_not_found(processed, user) -> None:
    mine = song_id(processed["description"])
    stranger = user("stranger")
    assert stranger.request("GET", f"/songs/{mine}").status_code == 404
    assert stranger.request("DELETE", f"/songs/{mine}").status_code == 404
    assert user("mode-description").song(mine)["status"] == "processed"


def test_a_container_failure_fails_the_job_with_a_reason_and_no_charge(user) -> None:
    client = user("unlucky")
    credits_before = client.me()["credits"]
    body = song_body("description", description=f"a song that will break ({FAILURE_MARKER})")
    job = client.wait(song_id(client.create_song(body)), SONG_TIMEOUT_S)
    assert job["status"] == "failed"
    # The user sees the workflow's closed set of reasons; the container's own message stays in logs.
    assert job["error"]["code"] == "GenerationFailed"
    assert "Nothing was charged" in job["error"]["message"]
    assert "audio_url" not in job or not job["audio_url"]
    assert client.me()["credits"] == credits_before


def test_an_api_key_acts_as_its_owner_until_revoked(stack, user) -> None:
    """Created in a session, the key reaches /me as its owner through the local front's authorizer;
    it cannot manage keys; revoked, it is refused at once (the local front caches nothing)."""
    session = user("key-owner")
    created = session.request("POST", "/me/api-keys", json={"name": "e2e"})
    assert created.status_code == 201, created.text
    key = created.json()
    with_key = {"Authorization": f"Bearer {key['secret']}"}
    me = requests.get(f"{stack['api_url']}/me", headers=with_key, timeout=10)
    assert me.status_code == 200 and me.json()["user_id"] == session.me()["user_id"]
    refused = requests.get(f"{stack['api_url']}/me/api-keys", headers=with_key, timeout=10)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "SessionRequired")
    (listed,) = session.request("GET", "/me/api-keys").json()["keys"]
    assert listed["key_id"] == key["key_id"] and listed["last_used_at"] is not None
    assert session.request("DELETE", f"/me/api-keys/{key['key_id']}").status_code == 204
    revoked = requests.get(f"{stack['api_url']}/me", headers=with_key, timeout=10)
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (401, "Unauthorized")
