"""Deliver one lifecycle event to the song's webhook: sign, check the address, POST, record.

At least once: an attempt that fails (non-2xx, no answer within DELIVERY_DEADLINE_S, a connection
error, a DNS failure) is retried on the Standard Webhooks schedule (schedule.py, about 28 hours in
all); the SQS message is simply made invisible for that long. After the last attempt the delivery
is recorded as failed on the job row and the message goes to the dead-letter queue. A URL that
must never be called (SSRF rules) is refused at once, without retries.

Each (song, event type) has one `webhook-id` and one delivery record on the job row
(`webhook_song.processed` etc.): a duplicate event for a delivery that already succeeded is
dropped, so retried workflow steps do not reach the receiver twice (except in a race, which the
receiver's dedupe by webhook-id covers).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lambdas.common.event_catalog import EVENT_TYPES
from lambdas.common.settings import WebhookSenderSettings
from lambdas.common.store.users import UserStore
from lambdas.common.store.webhook_deliveries import WebhookDeliveries
from lambdas.common.url_safety import UnsafeUrl, resolve_target

from . import http, signing
from .schedule import DELIVERY_DEADLINE_S, retry_delay_s
from .secret import new_secret

KNOWN_TYPES = frozenset(EVENT_TYPES.values())


class Result(StrEnum):
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # no webhook, job gone, already delivered
    RETRY = "retry"
    FAILED = "failed"  # given up after the last attempt: recorded, message to the DLQ
    REFUSED = "refused"  # the URL must never be called (SSRF rules): recorded, not retried


@dataclass(frozen=True)
class Outcome:
    result: Result
    detail: str
    retry_in_s: int | None = None


@dataclass(frozen=True)
class Webhooks:
    """What a delivery reads and records. The sender makes one before its threads start (boto3
    creates clients and resources unsafely from several threads at once)."""

    deliveries: WebhookDeliveries
    users: UserStore
    allow_http_loopback: bool = False  # the local stack's receivers (never on AWS)

    @classmethod
    def from_settings(cls, settings: WebhookSenderSettings) -> Webhooks:
        deliveries, users = WebhookDeliveries(settings.jobs_table_name), UserStore(settings.users_table_name)
        return cls(deliveries, users, allow_http_loopback=settings.webhook_allow_http_loopback)


def deliver(body: dict[str, Any], attempt: int, webhooks: Webhooks) -> Outcome:
    """Attempt `attempt` (1-based) of delivering one event body `{"type", "timestamp", "data"}`."""
    event_type = str(body.get("type", ""))
    job_id = str((body.get("data") or {}).get("job_id", ""))
    if event_type not in KNOWN_TYPES or not job_id:
        return Outcome(Result.SKIPPED, "not a song lifecycle event")
    row = webhooks.deliveries.song_row(job_id)
    url = (row or {}).get("request", {}).get("webhook_url")
    if row is None or not url:
        return Outcome(Result.SKIPPED, "no webhook for this song")
    if webhooks.deliveries.last(row, event_type).get("status") == Result.DELIVERED:
        return Outcome(Result.SKIPPED, "already delivered")

    outcome = _attempt(webhooks, url, row["user_id"], signing.message_id(job_id, event_type), body, attempt)
    webhooks.deliveries.record(
        job_id, event_type, {"status": outcome.result.value, "attempts": attempt, "detail": outcome.detail}
    )
    return outcome


def _attempt(
    webhooks: Webhooks, url: str, user_id: str, msg_id: str, body: dict[str, Any], attempt: int
) -> Outcome:
    deadline = time.monotonic() + DELIVERY_DEADLINE_S  # for all of it: DNS, connect, TLS, answer
    try:
        target = resolve_target(url, webhooks.allow_http_loopback, http.resolver_until(deadline))
    except UnsafeUrl as exc:
        return Outcome(Result.REFUSED, str(exc))
    except (OSError, UnicodeError) as exc:  # the name does not resolve now; DNS may recover
        return _failed(attempt, f"dns: {type(exc).__name__}")

    secret = webhooks.users.webhook_secret(user_id, new_secret)
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = signing.signed_headers(secret, msg_id, int(time.time()), payload)
    try:
        status = http.post(target, payload, headers, deadline)
    except http.DeliveryErrors as exc:  # the deadline, refused, reset, TLS errors, a garbled answer
        return _failed(attempt, f"error: {type(exc).__name__}")
    if 200 <= status < 300:
        return Outcome(Result.DELIVERED, f"http {status}")
    return _failed(attempt, f"http {status}")


def _failed(attempt: int, detail: str) -> Outcome:
    delay = retry_delay_s(attempt)
    if delay is None:
        return Outcome(Result.FAILED, f"{detail} after {attempt} attempts")
    return Outcome(Result.RETRY, detail, delay)
