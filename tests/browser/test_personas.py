"""Personas in a real browser against the local stack: make one from an upload (the API's refusal
shown in its words first), listen to it, sing a song with it from the song form, make another from
that song's page, delete one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import accessibility_violations, id_token, screenshot
from tests.browser.test_web_app import new_user, open_advanced, wait_until_processed, wav_file

pytestmark = pytest.mark.slow


def _api(stack: dict[str, Any], email: str, path: str) -> Any:
    response = requests.get(
        f"{stack['api_url']}{path}", headers={"Authorization": id_token(stack, email)}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def test_a_persona_is_made_from_an_upload_sung_with_and_made_from_a_song(
    new_page: Any, stack: dict[str, Any], page_errors: list[str], tmp_path: Path
) -> None:
    page, email = new_user(new_page, "persona")
    page.get_by_role("link", name="Personas").click()
    page.get_by_role("heading", name="Personas", exact=True).wait_for()
    page.get_by_text("No personas yet").wait_for()

    page.get_by_label("Name", exact=True).fill("Alto")
    page.get_by_label("Audio file").set_input_files(str(wav_file(tmp_path / "voice.wav", seconds=12)))
    page.locator('[data-upload-status="ready"]').wait_for(timeout=60_000)
    # Past the end of the 12 s track: the API's refusal, in its words; nothing is made.
    page.get_by_label("Start at (seconds)").fill("9")
    page.get_by_role("button", name="Make persona").click()
    alert = page.locator(".create [role=alert]", has_text="start_s")
    alert.wait_for()
    assert "at most 7.00" in alert.inner_text()
    assert _api(stack, email, "/personas")["personas"] == []

    page.get_by_label("Start at (seconds)").fill("2")
    page.get_by_label("Style (optional)").fill("warm alto")
    page.get_by_role("button", name="Make persona").click()
    page.locator("[data-persona-created]").wait_for(timeout=30_000)
    item = page.locator(".personas li.persona", has_text="Alto")
    item.wait_for()
    assert "10 s from an upload, starting at 2 s" in item.inner_text()
    assert "Style: warm alto" in item.inner_text()
    item.get_by_role("button", name="Listen to Alto").click()
    page.wait_for_function(
        "() => { const a = document.querySelector('.personas audio'); return a && a.src; }"
    )
    page.evaluate("() => document.querySelector('.personas audio').load()")
    page.wait_for_function("() => Math.abs(document.querySelector('.personas audio').duration - 10) < 0.1")
    screenshot(page, "personas-desktop")
    assert accessibility_violations(page) == []
    (persona,) = _api(stack, email, "/personas")["personas"]

    # The song form's picker offers it; the song is sung with it.
    page.get_by_role("link", name="← Your songs").click()
    page.get_by_label("Instrumental").check()
    picker = page.get_by_label("Persona (optional)")
    page.wait_for_function("() => document.querySelectorAll('select[name=persona_id] option').length > 1")
    picker.select_option(label="Alto")
    page.get_by_role("textbox", name="Describe the music").fill("a slow warm ballad")
    page.get_by_label("Title (optional)").fill("Alto song")
    open_advanced(page)
    page.get_by_label("Length (seconds)").fill("10")
    page.get_by_label("Inference steps").fill("2")
    # Repaint cannot take a persona: the picker goes away there, and comes back for cover.
    page.get_by_label("Repaint part of a track").check()
    assert not picker.is_visible()
    page.get_by_label("Cover a track").check()
    assert picker.is_visible()
    page.get_by_label("Instrumental").check()
    page.get_by_role("button", name="Create song").click()
    wait_until_processed(page, "Alto song")
    assert page.locator(".persona-line").is_visible()
    song_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    song = _api(stack, email, f"/songs/{song_id}")
    assert song["persona_id"] == persona["persona_id"]
    assert song["persona_reference"]["sha256"] == persona["reference_sha256"]

    # A persona from this song, from its own page: the song is the preselected track.
    page.get_by_role("link", name="Make a persona from this song").click()
    page.get_by_role("heading", name="Personas", exact=True).wait_for()
    assert page.get_by_label("One of my songs").is_checked()
    page.wait_for_function(f"() => document.querySelector('select[name=source_song]').value === '{song_id}'")
    page.get_by_label("Name", exact=True).fill("My song's voice")
    page.get_by_role("button", name="Make persona").click()
    page.locator(".personas li.persona", has_text="My song's voice").wait_for(timeout=30_000)
    mine = page.locator(".personas li.persona", has_text="My song's voice")
    assert "10 s from a song of yours" in mine.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".personas li.persona", has_text="Alto").get_by_role("button", name="Delete Alto").click()
    page.locator(".personas li.persona", has_text="Alto").wait_for(state="detached")
    assert [p["name"] for p in _api(stack, email, "/personas")["personas"]] == ["My song's voice"]
    assert _api(stack, email, f"/songs/{song_id}")["persona_id"] == persona["persona_id"]
    assert page_errors == []
