"""One place that sends API requests: the bearer credential, retries with backoff, error mapping."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from .errors import ApiConnectionError, error_from_response

# 502/503/504 are a gateway's or the service's "try again"; 500 too, as the API's 500s are
# unexpected faults that a later attempt usually does not meet.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# The one 409 that means "later": the first request with this Idempotency-Key is still running.
IDEMPOTENCY_IN_PROGRESS = "IdempotencyInProgress"


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    `max_retries` retries after the first attempt. The wait before retry n (0-based) is the
    API's `Retry-After` when it sent one, else exponential backoff with jitter: a random value
    between half and all of min(`backoff_max_s`, `backoff_base_s` * 2**n). A `Retry-After`
    longer than `max_retry_after_s` is not waited for: the error is raised at once with
    `retry_after_s` set, so the caller decides.
    """

    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0

    def backoff_s(self, retry: int) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2**retry)
        return random.uniform(ceiling / 2, ceiling)

    def wait_s(self, retry: int, retry_after_s: float | None) -> float | None:
        """Seconds to wait before retry `retry`, or None when it should not be retried."""
        if retry >= self.max_retries:
            return None
        if retry_after_s is None:
            return self.backoff_s(retry)
        return retry_after_s if retry_after_s <= self.max_retry_after_s else None


NO_RETRIES = RetryPolicy(max_retries=0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Transport:
    """Sends requests to the API with `Authorization: Bearer <credential>`.

    Every request is retried when nothing was done: a 429, a 409 `IdempotencyInProgress`, a
    connection that could not be opened. `idempotent=True` requests, safe to repeat (GET,
    DELETE, cancel, POST /songs with its Idempotency-Key), also retry 5xx answers and
    connections lost mid-request; others (creating an upload form, rotating the webhook secret)
    raise those at once, since the first attempt may have acted.
    """

    def __init__(
        self,
        base_url: str,
        credential: str,
        *,
        timeout_s: float,
        retry: RetryPolicy,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = retry
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {credential}", "User-Agent": user_agent},
            timeout=timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The successful (2xx) response; an `ApiError` or `ApiConnectionError` otherwise."""
        retry = 0
        while True:
            try:
                response = self._http.request(
                    method, path.lstrip("/"), json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                wait = self.retry.wait_s(retry, None) if idempotent or unsent else None
                if wait is None:
                    url = self._http.base_url.join(path.lstrip("/"))
                    raise ApiConnectionError(f"could not reach the API ({method} {url}): {exc}") from exc
            else:
                if response.is_success:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = error_from_response(response, retry_after)
                wait = (
                    self.retry.wait_s(retry, retry_after)
                    if _retryable(response.status_code, error.code, idempotent)
                    else None
                )
                if wait is None:
                    raise error
            self._sleep(wait)
            retry += 1


def _retryable(status: int, code: str, idempotent: bool) -> bool:
    if status == 429 or (status == 409 and code == IDEMPOTENCY_IN_PROGRESS):
        return True
    return idempotent and status in RETRYABLE_STATUSES
