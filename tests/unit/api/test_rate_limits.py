"""The per-user token buckets (lambdas/common/store/rate_limits.py) and the API's 429."""

from __future__ import annotations

import pytest

from lambdas.common import runtime
from lambdas.common.errors import RateLimited
from lambdas.common.store.rate_limits import RateLimit, RateLimiter

PER_MINUTE = RateLimit("requests", rate=60, period_s=60, burst=3)  # one token a second, 3 at once
T0 = 1_800_000_000_000


@pytest.fixture
def limiter(aws_env) -> RateLimiter:
    return RateLimiter(aws_env.rate_limits_table)


def test_a_burst_passes_then_the_next_waits_for_a_token(limiter) -> None:
    for _ in range(3):
        limiter.consume("alice", PER_MINUTE, now_ms=T0)
    with pytest.raises(RateLimited) as refused:
        limiter.consume("alice", PER_MINUTE, now_ms=T0)
    assert refused.value.retry_after_s == 1
    assert refused.value.details == {"limit": "requests", "retry_after_s": 1}
    limiter.consume("alice", PER_MINUTE, now_ms=T0 + 1000)  # one token came back
    with pytest.raises(RateLimited):
        limiter.consume("alice", PER_MINUTE, now_ms=T0 + 1000)


def test_retry_after_counts_the_wait_for_slow_limits(limiter) -> None:
    hourly = RateLimit("submissions", rate=6, period_s=3600, burst=1)  # one each 10 minutes
    limiter.consume("alice", hourly, now_ms=T0)
    with pytest.raises(RateLimited) as refused:
        limiter.consume("alice", hourly, now_ms=T0 + 60_000)
    assert refused.value.retry_after_s == 540
    limiter.consume("alice", hourly, now_ms=T0 + 600_000)


def test_a_refused_request_spends_nothing(limiter) -> None:
    for _ in range(3):
        limiter.consume("alice", PER_MINUTE, now_ms=T0)
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.consume("alice", PER_MINUTE, now_ms=T0 + 500)
    limiter.consume("alice", PER_MINUTE, now_ms=T0 + 1000)


def test_a_quiet_spell_refills_the_bucket_but_not_beyond_its_burst(limiter) -> None:
    limiter.consume("alice", PER_MINUTE, now_ms=T0)
    later = T0 + 3_600_000
    for _ in range(3):
        limiter.consume("alice", PER_MINUTE, now_ms=later)
    with pytest.raises(RateLimited):
        limiter.consume("alice", PER_MINUTE, now_ms=later)


def test_users_and_limits_have_their_own_buckets(limiter) -> None:
    other_limit = RateLimit("submissions", rate=60, period_s=60, burst=1)
    for _ in range(3):
        limiter.consume("alice", PER_MINUTE, now_ms=T0)
    limiter.consume("bob", PER_MINUTE, now_ms=T0)
    limiter.consume("alice", other_limit, now_ms=T0)


def test_rows_expire_once_their_bucket_is_full_again(limiter, aws_env) -> None:
    import boto3

    limiter.consume("alice", PER_MINUTE, now_ms=T0)
    (row,) = boto3.resource("dynamodb").Table(aws_env.rate_limits_table).scan()["Items"]
    assert T0 / 1000 < int(row["expires_at_epoch"]) <= T0 / 1000 + 3 + 61


@pytest.fixture
def limited_api(api, monkeypatch):
    monkeypatch.setenv("USER_REQUEST_BURST", "3")
    monkeypatch.setenv("USER_REQUESTS_PER_MINUTE", "1")
    monkeypatch.setenv("USER_SUBMISSION_BURST", "1")
    monkeypatch.setenv("USER_SUBMISSIONS_PER_HOUR", "1")
    runtime.reset_all()
    return api


def test_the_api_answers_429_with_retry_after_past_the_request_rate(limited_api) -> None:
    for _ in range(3):
        assert limited_api.call("GET", "/me").status == 200
    refused = limited_api.call("GET", "/songs")
    assert (refused.status, refused.error_code) == (429, "RateLimited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert limited_api.call("GET", "/me", user="bob").status == 200  # per user
    assert limited_api.call("GET", "/health", user=None).status == 200  # public: no user, no limit


def test_submissions_have_their_own_rate(limited_api, song_body) -> None:
    assert limited_api.call("POST", "/songs", body=song_body).status == 202
    refused = limited_api.call("POST", "/songs", body=song_body)
    assert (refused.status, refused.error_code) == (429, "RateLimited")
    assert int(refused.headers["Retry-After"]) > 60  # one an hour
    assert refused.body["error"]["details"]["limit"] == "submissions"
    assert limited_api.call("GET", "/me").status == 200  # other requests still pass


def test_bad_bodies_count_against_the_rate_too(limited_api) -> None:
    assert limited_api.call("POST", "/songs", raw_body="{not json").status == 400
    assert limited_api.call("POST", "/songs", raw_body="{not json").error_code == "RateLimited"
