"""The web app in a real browser against the local stack: sign up and in, make a song and watch it
render, play it, delete it; upload a track, cover it, split the cover into stems; the API's errors
(402, invalid input, a rejected upload) shown as the API words them."""

from __future__ import annotations

import re
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    accessibility_violations,
    aws_client,
    id_token,
    screenshot,
    user_sub,
)

pytestmark = pytest.mark.slow

RENDER_TIMEOUT_MS = 180_000


def sign_up_and_in(page: Any, email: str, shots: str | None = None) -> None:
    page.goto("/")
    page.get_by_role("heading", name="Sign in").wait_for()
    assert not page.get_by_role("button", name="Sign out").is_visible()
    if shots:
        screenshot(page, f"sign-in-{shots}")
        assert accessibility_violations(page) == []
    page.get_by_role("button", name="Create account").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form").get_by_role("button", name="Create account").click()
    # Real Cognito e-mails a code; moto accepts any (the form says so, from config.json).
    page.get_by_role("heading", name="Confirm your e-mail").wait_for()
    page.get_by_label("Confirmation code").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Account confirmed").wait_for()
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form").get_by_role("button", name="Sign in").click()
    page.get_by_text("10 credits available").wait_for()


def new_user(new_page: Any, name: str, shots: str | None = None) -> tuple[Any, str]:
    """A fresh page signed in as a new user `<name>-<random>@example.com`: (page, email)."""
    page = new_page()
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_in(page, email, shots=shots)
    return page, email


def open_advanced(page: Any) -> None:
    page.get_by_text("Advanced settings").click()


def test_wrong_password_shows_cognitos_message(new_page: Any) -> None:
    page = new_page()
    page.goto("/")
    page.get_by_label("E-mail").fill(f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # keyboard only: Enter submits the form
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text().strip()  # Cognito's own words, e.g. "User does not exist."
    assert page.get_by_role("heading", name="Sign in").is_visible()


def test_a_song_from_sign_up_to_playing_to_deleted(
    new_page: Any, stack: dict[str, Any], page_errors: list[str]
) -> None:
    page, email = new_user(new_page, "web", shots="desktop")

    # Record every status the list shows for the new song (polling re-renders the badge).
    page.evaluate(
        """() => {
          window.__statuses = [];
          new MutationObserver(() => {
            for (const b of document.querySelectorAll('.songs .badge')) {
              const s = b.dataset.status;
              if (window.__statuses.at(-1) !== s) window.__statuses.push(s);
            }
          }).observe(document.body, {subtree: true, childList: true});
        }"""
    )
    page.get_by_label("Description", exact=True).fill("a calm piano piece for a rainy morning")
    page.get_by_label("Title (optional)").fill("Rainy morning")
    open_advanced(page)
    page.get_by_label("Length (seconds)").fill("10")
    page.get_by_label("Inference steps").fill("10")
    page.get_by_label("Seed").fill("7")
    page.get_by_label("Variants").fill("2")
    page.get_by_label("FLAC").check()
    screenshot(page, "create-desktop")
    page.get_by_role("button", name="Create song").click()

    item = page.locator(".songs li.song", has_text="Rainy morning")
    item.wait_for()
    item.locator('.badge[data-status="processed"]').wait_for(timeout=RENDER_TIMEOUT_MS)
    statuses = page.evaluate("window.__statuses")
    assert statuses[0] == "queued", statuses
    assert statuses[-1] == "processed", statuses
    screenshot(page, "songs-desktop")

    item.get_by_role("link", name="Rainy morning").click()
    page.get_by_role("heading", name="Rainy morning").wait_for()
    audio = page.locator("audio.main-player")
    audio.wait_for()
    # The presigned audio really loads: metadata read, a positive duration.
    page.wait_for_function(
        "() => { const a = document.querySelector('audio.main-player');"
        " return a && a.readyState >= 1 && a.duration > 0; }"
    )
    cover = page.get_by_role("img", name="Cover art for Rainy morning")
    page.wait_for_function(
        "() => { const i = document.querySelector('img.cover');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert cover.is_visible()
    assert page.locator(".chips li").count() >= 1  # categories
    assert page.locator(".lyrics-section").inner_text().strip()
    downloads = {a.get_attribute("data-format") for a in page.locator(".downloads a").all()}
    assert downloads == {"wav", "flac"}
    # Two takes, each with its own seed, player and downloads.
    takes = page.locator(".takes > ol > li")
    assert takes.count() == 2
    assert "seed 7" in takes.nth(0).inner_text() and "seed 8" in takes.nth(1).inner_text()
    assert takes.nth(1).get_by_role("link", name="FLAC").get_attribute("href")
    assert takes.nth(1).get_by_label("Play take 2").is_visible()
    # Each take shows what was measured and scored; the best one (the main player's) is marked.
    token = id_token(stack, email)
    song_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    song = requests.get(
        f"{stack['api_url']}/songs/{song_id}", headers={"Authorization": token}, timeout=10
    ).json()
    best = song["best_take"]
    assert (
        page.locator(f'.takes li[data-take="{best}"][data-rank="1"] h3').inner_text() == f"Take {best} (best)"
    )
    for take in song["takes"]:
        shown = takes.nth(take["take"] - 1).locator(".analysis").inner_text()
        assert f"{take['analysis']['duration_s']}" not in shown  # rounded for people, not raw
        assert "LUFS" in shown or take["analysis"]["loudness_lufs"] is None
        assert "BPM" in shown or take["analysis"]["bpm"] is None
    assert "words understood" in takes.nth(best - 1).locator(".scores").inner_text()
    _lyrics_follow_the_player(page)
    screenshot(page, "song-desktop")
    assert accessibility_violations(page) == []
    page.set_viewport_size(PHONE)
    screenshot(page, "song-phone")
    page.set_viewport_size(DESKTOP)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("heading", name="Your songs").wait_for()
    page.get_by_text("No songs yet").wait_for()
    gone = requests.get(f"{stack['api_url']}/songs/{song_id}", headers={"Authorization": token}, timeout=10)
    assert gone.status_code == 404

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page_errors == []


def _lyrics_follow_the_player(page: Any) -> None:
    """The best take's timed lyrics (its LRC file, read from the media bucket) replace the plain
    lyrics, and the line marked current is the one whose time the player is at, as it moves."""
    page.locator("ol.lyrics.timed li:not([hidden])").first.wait_for()
    starts = [float(s) for s in page.eval_on_selector_all(
        "ol.lyrics.timed li", "els => els.map(e => e.hidden ? -1 : e.dataset.start)")]  # fmt: skip
    every = page.eval_on_selector_all("ol.lyrics.timed li", "els => els.map(e => e.dataset.start)")
    sung = [i for i, start in enumerate(starts) if start >= 0]
    assert len(sung) >= 2, starts
    duration = page.evaluate("document.querySelector('audio.main-player').duration")
    # Two different lines in turn, forwards then back: seeking fires timeupdate, as playing does.
    for index in (sung[-1], sung[0]):
        at = float(every[index])
        if at >= duration:
            continue
        page.evaluate(f"document.querySelector('audio.main-player').currentTime = {at + 0.01}")
        expected = max(i for i, s in enumerate(every) if float(s) <= at + 0.01)
        current = page.locator("ol.lyrics.timed li.current")
        if starts[expected] < 0:  # a pause: no line is current
            page.wait_for_function("() => !document.querySelector('ol.lyrics.timed li.current')")
            continue
        marked = "document.querySelector('ol.lyrics.timed li.current')?.dataset.start"
        page.wait_for_function(f"() => {marked} === '{every[expected]}'")
        assert current.count() == 1 and current.get_attribute("aria-current") == "true"


def test_invalid_input_shows_the_apis_field_errors(new_page: Any, page_errors: list[str]) -> None:
    page = new_page(PHONE)
    sign_up_and_in(page, f"web-{uuid.uuid4().hex[:8]}@example.com", shots="phone")
    screenshot(page, "create-phone")
    page.get_by_label("Description", exact=True).fill("ab")  # the API wants at least 3 characters
    open_advanced(page)
    page.get_by_label("Length (seconds)").fill("5")  # the API wants at least 10
    page.get_by_role("button", name="Create song").click()
    alert = page.locator(".create [role=alert]")
    alert.wait_for()
    text = alert.inner_text()
    assert "(HTTP 422)" in text
    fields = set(alert.locator(".problems code").all_inner_texts())
    assert {"description", "duration_s"} <= {f.rsplit(".", 1)[-1] for f in fields}, text
    screenshot(page, "validation-error-phone")
    assert accessibility_violations(page) == []
    assert page_errors == []


def test_no_credits_shows_the_apis_402_message(new_page: Any, stack: dict[str, Any]) -> None:
    page, email = new_user(new_page, "web")
    aws_client(stack, "dynamodb").update_item(
        TableName=stack["tables"]["users"],
        Key={"user_id": {"S": user_sub(stack, email)}},
        UpdateExpression="SET credits = :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
    body = {"mode": "description", "description": "a short calm piano piece", "duration_s": 10}
    expected = requests.post(
        f"{stack['api_url']}/songs", json=body, headers={"Authorization": id_token(stack, email)}, timeout=10
    )
    assert expected.status_code == 402
    message = expected.json()["error"]["message"]

    page.reload()
    page.get_by_text(re.compile(r"^0 credits available")).wait_for()
    page.get_by_label("Description", exact=True).fill(body["description"])
    open_advanced(page)
    page.get_by_label("Length (seconds)").fill("10")
    page.get_by_role("button", name="Create song").click()
    alert = page.locator(".create [role=alert]")
    alert.wait_for()
    assert message in alert.inner_text()
    assert "(HTTP 402)" in alert.inner_text()
    screenshot(page, "no-credits-desktop")


def wav_file(path: Path, seconds: float, rate: int = 22_050) -> Path:
    """A real WAV: a 220 Hz tone, mono, 16-bit."""
    samples = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def api_alert(page: Any, text: str) -> Any:
    alert = page.locator(".create [role=alert]", has_text=text)
    alert.wait_for()
    return alert


def wait_until_processed(page: Any, title: str) -> None:
    item = page.locator(".songs li.song", has_text=title)
    item.locator('.badge[data-status="processed"]').wait_for(timeout=RENDER_TIMEOUT_MS)
    item.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).wait_for()


def test_an_uploaded_track_is_checked_covered_and_split_into_stems(
    new_page: Any, stack: dict[str, Any], page_errors: list[str], tmp_path: Path
) -> None:
    page, email = new_user(new_page, "web")
    page.get_by_label("Cover a track").check()
    page.get_by_label("Upload a file").check()

    # A type the API does not take (text/plain, .txt): refused here, before any request.
    upload_posts: list[str] = []

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.rstrip("/").endswith("/uploads"):
            upload_posts.append(request.url)

    page.on("request", record)
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes, not a song\n")
    page.get_by_label("Audio file").set_input_files(str(notes))
    page.get_by_role("alert").filter(has_text="notes.txt is not a WAV, MP3, FLAC or Ogg file").wait_for()
    assert upload_posts == []

    # Not audio: S3 takes it, the API's check rejects it, the page says why in the API's words.
    bogus = tmp_path / "notes.wav"
    bogus.write_bytes(b"these are my notes, not a song\n" * 100)
    page.get_by_label("Audio file").set_input_files(str(bogus))
    page.locator('[data-upload-status="rejected"]').wait_for(timeout=60_000)
    assert len(upload_posts) == 1  # the form for notes.wav
    page.remove_listener("request", record)
    status = page.locator(".upload-status")
    assert "NotAudio" in status.inner_text() and "not audio" in status.inner_text()
    # A cover without a ready track is stopped here, before any request.
    page.get_by_label("Style", exact=True).fill("jazz trio, brushed drums")
    page.get_by_role("button", name="Create song").click()
    page.get_by_role("alert").filter(has_text="Choose your track first").wait_for()

    track = wav_file(tmp_path / "my-take.wav", seconds=12)
    page.get_by_label("Audio file").set_input_files(str(track))
    page.locator('[data-upload-status="ready"]').wait_for(timeout=60_000)
    assert "my-take.wav · 0:12 · 22.05 kHz · mono" in status.inner_text()
    # The upload's analysis (a 0.3 sine: a -10.5 dBTP true peak), what a cover renders in by default.
    assert "LUFS · -10.5 dBTP peak" in status.inner_text()
    assert not page.get_by_role("alert").filter(has_text="Choose your track first").count()
    # Each audio-in mode sends its own fields: the API's refusals name them (nothing is charged).
    page.get_by_label("Repaint part of a track").check()
    page.get_by_label("From (seconds)").fill("4")
    page.get_by_label("To (seconds)").fill("30")  # past the end of the 12 s track
    page.get_by_role("button", name="Create song").click()
    assert "end_s" in api_alert(page, "HTTP 422").inner_text()
    page.get_by_label("Extend a track").check()
    page.get_by_label("Seconds to add").fill("3")  # the API wants at least 5
    page.get_by_role("button", name="Create song").click()
    assert "add_s" in api_alert(page, "HTTP 422").locator(".problems").inner_text()
    page.get_by_label("Cover a track").check()
    assert not page.locator(".create [role=alert]").count()  # that answer was about extend
    assert "my-take.wav" in status.inner_text()  # the same track in every mode
    page.get_by_label("Title (optional)").fill("Jazz cover")
    page.get_by_label("Strength").fill("0.7")
    open_advanced(page)
    assert not page.get_by_label("Length (seconds)").is_visible()  # the track sets the length
    page.get_by_label("Inference steps").fill("4")
    page.get_by_label("Tempo (BPM)").fill("96")  # over the track's measured tempo
    screenshot(page, "upload-desktop")
    assert accessibility_violations(page) == []
    page.get_by_role("button", name="Create song").click()

    wait_until_processed(page, "Jazz cover")
    assert "A cover of your upload (12 s)" in page.locator(".source-line").inner_text()
    page.wait_for_function(
        "() => { const a = document.querySelector('audio.main-player');"
        " return a && a.readyState >= 1 && Math.abs(a.duration - 12) < 0.5; }"
    )
    cover_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    token = id_token(stack, email)
    cover = requests.get(
        f"{stack['api_url']}/songs/{cover_id}", headers={"Authorization": token}, timeout=10
    ).json()
    assert cover["mode"] == "cover" and cover["request"]["strength"] == 0.7, cover["request"]
    assert cover["request"]["bpm"] == 96, cover["request"]

    # The finished cover becomes the source of a stems song, from its own page.
    page.get_by_role("link", name="Use as a source").click()
    page.get_by_label("One of my songs").wait_for()
    assert page.get_by_label("One of my songs").is_checked()
    song_choice = page.get_by_label("Song", exact=True)
    page.wait_for_function("() => document.querySelector('select[name=source_song]').value !== ''")
    assert song_choice.input_value() == cover_id
    page.get_by_label("Split into stems").check()
    assert not page.get_by_label("Tempo (BPM)").is_visible()  # stems keep the song's own
    page.get_by_label("Drums").check()  # vocals is ticked already
    page.get_by_label("Title (optional)").fill("Jazz stems")
    page.get_by_role("button", name="Create song").click()

    wait_until_processed(page, "Jazz stems")
    assert page.locator(".source-line").get_by_role("link", name="your song").get_attribute("href") == (
        f"/songs/{cover_id}"
    )
    stems = page.locator(".stems > ul > li")
    assert [stems.nth(i).get_attribute("data-track") for i in range(stems.count())] == ["vocals", "drums"]
    assert stems.nth(1).get_by_label("Play Drums").is_visible()
    assert stems.nth(1).get_by_role("link", name="WAV").get_attribute("href")
    page.evaluate(
        "() => { const a = document.querySelector('.stems audio'); a.preload = 'metadata'; a.load(); }"
    )
    page.wait_for_function("() => document.querySelector('.stems audio').duration > 11")
    screenshot(page, "stems-desktop")
    assert accessibility_violations(page) == []
    assert not page.get_by_role("link", name="Use as a source").is_visible()  # stems are no source

    # "Get MIDI": a transcription of the stems song, one MIDI file per track, on its own page.
    stems_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.get_by_role("button", name="Get MIDI").click()
    page.wait_for_url(lambda url: stems_id not in url)
    page.locator('.status-line .badge[data-status="processed"]').wait_for(timeout=RENDER_TIMEOUT_MS)
    page.get_by_role("heading", name="transcribe song").wait_for()
    source_link = page.locator(".source-line").get_by_role("link", name="your song")
    assert source_link.get_attribute("href") == f"/songs/{stems_id}"
    midi = page.locator(".stems > ul > li")
    assert [midi.nth(i).get_attribute("data-track") for i in range(midi.count())] == ["vocals", "drums"]
    for i in range(midi.count()):
        link = midi.nth(i).get_by_role("link", name="MID")
        assert link.get_attribute("href") and not midi.nth(i).locator("audio").count()  # MIDI is no audio
    assert "MIDI of your song" in page.locator(".source-line").inner_text()
    assert not page.get_by_role("button", name="Get MIDI").count()  # a transcription has no audio
    assert accessibility_violations(page) == []
    assert page_errors == []


def test_the_account_shows_credits_and_the_webhook_secret_and_rotates_it(
    new_page: Any, stack: dict[str, Any], page_errors: list[str]
) -> None:
    page = new_page(PHONE)
    email = f"web-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_in(page, email)
    page.get_by_role("link", name=email).click()
    page.get_by_role("heading", name="Account").wait_for()
    page.locator('[data-credits="balance"]', has_text="10").wait_for()

    def api_secret() -> str:
        headers = {"Authorization": id_token(stack, email)}
        response = requests.get(f"{stack['api_url']}/me/webhook-secret", headers=headers, timeout=10)
        return response.json()["secret"]

    page.get_by_role("button", name="Show the secret").click()
    shown = page.locator("code.secret")
    shown.wait_for()
    first = shown.inner_text()
    assert first.startswith("whsec_") and first == api_secret()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate the secret").click()
    page.wait_for_function(f"() => document.querySelector('code.secret').textContent !== {first!r}")
    rotated = shown.inner_text()
    assert rotated.startswith("whsec_") and rotated == api_secret() != first
    screenshot(page, "account-phone")
    assert accessibility_violations(page) == []

    # A song's webhook URL is the API's to judge: a refused one is named in its 422.
    page.get_by_role("link", name="← Your songs").click()
    page.get_by_label("Description", exact=True).fill("a short calm piano piece")
    open_advanced(page)
    page.get_by_label("Webhook URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Create song").click()
    assert "webhook_url" in api_alert(page, "HTTP 422").locator(".problems").inner_text()
    assert page_errors == []


def test_the_account_makes_copies_and_revokes_an_api_key(
    new_page: Any, stack: dict[str, Any], page_errors: list[str]
) -> None:
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack["web_url"])
    email = f"keys-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_in(page, email)
    page.get_by_role("link", name=email).click()
    page.get_by_role("heading", name="API keys").wait_for()
    page.get_by_text("No API keys yet.").wait_for()

    page.get_by_label("Key name").fill("laptop script")
    page.get_by_label("Expires after").select_option(label="90 days")
    page.get_by_role("button", name="Create a key").click()
    shown = page.locator(".new-key code.secret")
    shown.wait_for()
    secret = shown.inner_text()
    assert secret.startswith("sng_")
    assert "shown only this once" in page.locator(".new-key").inner_text()
    page.get_by_role("button", name="Copy the key").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    listed = page.locator(".keys li", has_text="laptop script")
    listed.wait_for()
    assert "expires" in listed.inner_text() and "never" not in listed.inner_text().split("expires")[1][:8]
    assert secret not in page.locator(".keys").inner_text()  # the list shows the prefix only
    screenshot(page, "api-keys-desktop")
    assert accessibility_violations(page) == []

    with_key = {"Authorization": f"Bearer {secret}"}
    me = requests.get(f"{stack['api_url']}/me", headers=with_key, timeout=10)
    assert me.status_code == 200 and me.json()["user_id"] == user_sub(stack, email)

    page.once("dialog", lambda dialog: dialog.dismiss())  # thought better of it: nothing happens
    listed.get_by_role("button", name="Revoke laptop script").click()
    assert requests.get(f"{stack['api_url']}/me", headers=with_key, timeout=10).status_code == 200
    warnings: list[str] = []

    def accept(dialog: Any) -> None:
        warnings.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    listed.get_by_role("button", name="Revoke laptop script").click()
    page.get_by_text("No API keys yet.").wait_for()
    assert "stop working" in warnings[0]
    assert requests.get(f"{stack['api_url']}/me", headers=with_key, timeout=10).status_code == 401
    assert page_errors == []
