"""`songs batch`: line identity, resuming, idempotency keys that never pay twice, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from song_client.cli.batch import STATE_FILE, exit_code, plan, read_prompts
from song_client.cli.output import ExitCode

from .fake_api import FakeApi, error

PROMPTS = "# tonight's batch\na calm lofi song\n\nan upbeat ska tune\n"


def state(out: Path) -> dict[str, dict]:
    return json.loads((out / STATE_FILE).read_text())["lines"]


def posted_keys(api: FakeApi) -> list[str]:
    return [r.headers["Idempotency-Key"] for r in api.api_requests("POST", "/songs")]


# --- line identity -------------------------------------------------------------------------------


def test_comments_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(PROMPTS)
    assert read_prompts(tmp_path / "p.txt") == [(2, "a calm lofi song"), (4, "an upbeat ska tune")]


def test_a_lines_key_survives_other_lines_moving() -> None:
    before = plan([(1, "a"), (2, "b")], {"duration_s": 10})
    after = plan([(1, "new"), (2, "b"), (3, "a")], {"duration_s": 10})
    assert {line.prompt: line.key for line in before}.items() <= {
        line.prompt: line.key for line in after
    }.items()


def test_repeated_prompts_are_distinct_songs_and_settings_change_the_key() -> None:
    twice = plan([(1, "a"), (2, "a")], {})
    assert twice[0].key != twice[1].key
    assert plan([(1, "a")], {"duration_s": 10})[0].key != plan([(1, "a")], {"duration_s": 20})[0].key
    assert twice[0].body == {"mode": "description", "description": "a"}


# --- runs ----------------------------------------------------------------------------------------


def test_a_batch_makes_every_line_and_a_rerun_skips_them(songs, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(PROMPTS)
    first = songs("batch", "p.txt", "-o", "out", "--duration", "10", "--parallel", "2")
    assert first.exit_code == 0, first.output
    assert "2 lines: 2 done (out)" in first.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        STATE_FILE,
        "002-a-calm-lofi-song",
        "004-an-upbeat-ska-tune",
    ]
    assert (tmp_path / "out" / "004-an-upbeat-ska-tune" / "song.wav").exists()
    assert {json.loads(r.content)["duration_s"] for r in api.api_requests("POST", "/songs")} == {10}
    assert all(key.startswith("songs-batch-") and key.endswith("-1") for key in posted_keys(api))

    requests = len(api.requests)
    again = songs("batch", "p.txt", "-o", "out", "--duration", "10", "--json")
    assert again.exit_code == 0
    assert [line["outcome"] for line in json.loads(again.stdout)["lines"]] == ["skipped", "skipped"]
    assert len(api.requests) == requests  # nothing asked of the API


def test_a_submitted_song_is_followed_not_submitted_again(songs, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a calm lofi song\n")
    interrupted = songs("batch", "p.txt", "-o", "out", "--timeout", "0")
    assert interrupted.exit_code == ExitCode.TIMEOUT
    (line,) = state(tmp_path / "out").values()
    assert line["song_id"] and not line["saved"]

    resumed = songs("batch", "p.txt", "-o", "out")
    assert resumed.exit_code == 0, resumed.output
    assert len(api.api_requests("POST", "/songs")) == 1 and len(api.songs) == 1
    assert state(tmp_path / "out")[next(iter(state(tmp_path / "out")))]["saved"]


def test_a_lost_answer_is_retried_with_the_same_key_and_pays_once(
    songs, api: FakeApi, tmp_path: Path
) -> None:
    (tmp_path / "p.txt").write_text("a calm lofi song\n")
    api.lose_answers = 1  # the API made the song; its 202 never arrived
    assert songs("batch", "p.txt", "-o", "out").exit_code == 0
    first, retry = posted_keys(api)
    assert first == retry and len(api.songs) == 1


def test_a_run_killed_before_recording_its_song_gets_that_song_back(
    songs, api: FakeApi, tmp_path: Path
) -> None:
    (tmp_path / "p.txt").write_text("a calm lofi song\n")
    (line,) = plan(read_prompts(tmp_path / "p.txt"), {})
    # What a run killed mid-request leaves: attempt 1 recorded, its song created but not recorded.
    out = tmp_path / "out"
    out.mkdir()
    entry = {"attempt": 1, "song_id": None, "saved": False, "dir": "001-a-calm-lofi-song"}
    (out / STATE_FILE).write_text(json.dumps({"version": 1, "lines": {line.key: entry}}))
    orphan = api._create(_request(line.body, line.idempotency_key(1))).json()["job_id"]

    assert songs("batch", "p.txt", "-o", "out").exit_code == 0
    assert posted_keys(api) == [line.idempotency_key(1)]
    assert list(api.songs) == [orphan] and state(out)[line.key]["song_id"] == orphan


def _request(body: dict, key: str):
    import httpx

    return httpx.Request(
        "POST", "https://api.example.test/v1/songs", json=body, headers={"Idempotency-Key": key}
    )


def test_a_failed_line_is_retried_as_a_new_attempt(songs, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a calm lofi song\n")
    api.lifecycle = ["queued", "failed"]
    failed = songs("batch", "p.txt", "-o", "out", "--json")
    assert failed.exit_code == ExitCode.SONG_FAILED
    assert json.loads(failed.stdout)["lines"][0]["error"]["code"] == "GenerationFailed"

    api.lifecycle = ["queued", "processed"]
    assert songs("batch", "p.txt", "-o", "out").exit_code == 0
    first, second = posted_keys(api)
    assert first.endswith("-1") and second.endswith("-2") and first[:-2] == second[:-2]


def test_no_credits_stops_new_submissions(songs, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("one song\nanother song\nand a third\n")
    api.then("POST", "/songs", error(402, "InsufficientCredits", "not enough credits"))
    result = songs("batch", "p.txt", "-o", "out", "--parallel", "1", "--json")
    assert result.exit_code == ExitCode.NO_CREDITS
    outcomes = [line["outcome"] for line in json.loads(result.stdout)["lines"]]
    assert outcomes == ["error", "not_submitted", "not_submitted"]
    assert len(api.api_requests("POST", "/songs")) == 1


def test_an_auth_error_stops_the_batch(songs, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("one song\nanother song\n")
    api.then("POST", "/songs", *[error(401, "Unauthorized", "Unauthorized")] * 2)
    result = songs("batch", "p.txt", "-o", "out", "--parallel", "1")
    assert result.exit_code == ExitCode.AUTH
    assert len(api.api_requests("POST", "/songs")) == 1


def test_an_empty_prompts_file_is_a_usage_error(songs, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("# nothing yet\n\n")
    assert songs("batch", "p.txt").exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("outcomes", "codes", "expected"),
    [
        (["done", "skipped"], [None, None], ExitCode.OK),
        (["done", "failed"], [None, "GenerationFailed"], ExitCode.SONG_FAILED),
        (["canceled"], ["Canceled"], ExitCode.SONG_FAILED),
        (["error", "failed"], ["ValidationError", "GenerationFailed"], ExitCode.API_ERROR),
        (["error", "not_submitted"], ["InsufficientCredits", "InsufficientCredits"], ExitCode.NO_CREDITS),
        (["timeout", "failed"], ["Timeout", "GenerationFailed"], ExitCode.TIMEOUT),
    ],
)
def test_exit_code_of_a_batch(outcomes: list[str], codes: list[str | None], expected: ExitCode) -> None:
    from song_client.cli.batch import LineResult

    line = plan([(1, "a")], {})[0]
    results = [
        LineResult(line, outcome, error={"error": {"code": code}} if code else None)
        for outcome, code in zip(outcomes, codes, strict=True)
    ]
    assert exit_code(results) == expected
