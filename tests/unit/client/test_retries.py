"""Retries with backoff on 429 and 5xx, honouring Retry-After; what is never retried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from song_client import (
    ApiConnectionError,
    Client,
    ConflictError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from song_client._http import parse_retry_after

from .fake_api import API, FakeApi, error

BODY = {"mode": "description", "description": "a calm lofi song", "duration_s": 10}


def test_429_waits_the_retry_after_seconds_then_succeeds(client: Client, api: FakeApi, sleeps) -> None:
    api.then("GET", "/me", error(429, "TooManyRequests", "slow down", **{"Retry-After": "7"}))
    assert client.me().user_id == "u-1"
    assert sleeps == [7.0]
    assert len(api.api_requests("GET", "/me")) == 2


def test_retry_after_as_an_http_date(client: Client, api: FakeApi, sleeps) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    api.then("GET", "/me", error(503, "ServiceUnavailable", "retry", **{"Retry-After": when}))
    client.me()
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


def test_5xx_backs_off_exponentially_with_jitter(client: Client, api: FakeApi, sleeps) -> None:
    api.then("GET", "/me", *(error(status, "InternalError", "boom") for status in (500, 502, 504)))
    client.me()
    # base 1 s: retry n waits between half and all of 2**n seconds.
    assert len(sleeps) == 3
    for n, waited in enumerate(sleeps):
        assert 2**n / 2 <= waited <= 2**n


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, backoff_base_s=1.0, backoff_max_s=8.0)
    assert all(4.0 <= policy.backoff_s(n) <= 8.0 for n in range(3, 10))


def test_gives_up_after_max_retries_with_the_last_error(client: Client, api: FakeApi, sleeps) -> None:
    api.then("GET", "/me", *[error(503, "ServiceUnavailable", "still down")] * 4)
    with pytest.raises(ServerError) as raised:
        client.me()
    assert raised.value.code == "ServiceUnavailable" and raised.value.message == "still down"
    assert len(api.api_requests("GET", "/me")) == 4  # the first attempt + max_retries (3)
    assert len(sleeps) == 3


def test_a_retry_after_beyond_the_limit_is_raised_not_slept(client: Client, api: FakeApi, sleeps) -> None:
    api.then("GET", "/me", error(429, "TooManyPendingUploads", "wait", **{"Retry-After": "3600"}))
    with pytest.raises(RateLimitError) as raised:
        client.me()
    assert raised.value.retry_after_s == 3600
    assert sleeps == []


def test_non_idempotent_posts_are_not_retried_on_5xx(client: Client, api: FakeApi, sleeps) -> None:
    # A 500 on POST /uploads may have created a form: a retry could make a second one.
    api.then("POST", "/uploads", error(500, "InternalError", "boom", details={"correlation_id": "c-1"}))
    with pytest.raises(ServerError) as raised:
        client.create_upload("a.wav", "audio/wav", 100)
    assert raised.value.request_id == "c-1"
    assert len(api.api_requests("POST", "/uploads")) == 1 and sleeps == []


def test_non_idempotent_posts_are_retried_on_429(client: Client, api: FakeApi, sleeps) -> None:
    api.then("POST", "/uploads", error(429, "TooManyPendingUploads", "wait", **{"Retry-After": "2"}))
    form = client.create_upload("a.wav", "audio/wav", 100)
    assert form.upload_id and sleeps == [2.0]


def test_4xx_other_than_429_is_never_retried(client: Client, api: FakeApi, sleeps) -> None:
    api.then("POST", "/songs", error(409, "IdempotencyConflict", "other body"))
    with pytest.raises(ConflictError):
        client.create_song(BODY)
    assert len(api.api_requests("POST", "/songs")) == 1 and sleeps == []


def test_connection_failures_are_retried_for_idempotent_requests(api: FakeApi, sleeps) -> None:
    failures = iter([httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")])

    def flaky(request: httpx.Request) -> httpx.Response:
        failure = next(failures, None)
        if failure:
            raise failure
        return api.handle(request)

    with Client("k", API, transport=httpx.MockTransport(flaky), sleep=sleeps) as c:
        assert c.me().credits == 10
    assert len(sleeps) == 2


def test_a_lost_answer_to_a_non_idempotent_post_is_raised(api: FakeApi, sleeps) -> None:
    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("the form may have been created")

    transport = httpx.MockTransport(lost)
    with Client("k", API, transport=transport, sleep=sleeps) as c, pytest.raises(ApiConnectionError):
        c.create_upload("a.wav", "audio/wav", 100)
    assert sleeps == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [("5", 5.0), (" 12 ", 12.0), ("0", 0.0), ("soon", None), ("", None), (None, None), ("-3", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_date_in_the_past_is_zero() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now=now) == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0


# --- over real sockets ---------------------------------------------------------------------------


@pytest.fixture
def throttling_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server: 429 with Retry-After: 1 on the first GET /v1/me, then 200."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            if len(seen) == 1:
                body = b'{"error": {"code": "TooManyRequests", "message": "Too Many Requests"}}'
                self.send_response(429)
                self.send_header("Retry-After", "1")
            else:
                body = b'{"user_id": "u-9", "credits": 3, "reserved_credits": 0, "available_credits": 3}'
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()


def test_retry_after_over_a_real_connection(throttling_server, sleeps) -> None:
    url, seen = throttling_server
    with Client("secret-key", url, sleep=sleeps) as client:
        assert client.me().user_id == "u-9"
    assert sleeps == [1.0]
    assert seen == ["Bearer secret-key", "Bearer secret-key"]


def test_a_refused_connection_is_retried_then_raised(sleeps) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    client = Client("k", f"http://127.0.0.1:{port}/v1", retry=RetryPolicy(max_retries=2), sleep=sleeps)
    with client as c, pytest.raises(ApiConnectionError):
        c.create_upload("a.wav", "audio/wav", 1)  # never sent, so safe to retry even a POST
    assert len(sleeps) == 2
