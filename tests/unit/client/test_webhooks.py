"""The client verifies deliveries signed by the service's own signer (Standard Webhooks)."""

from __future__ import annotations

import json
import time

import pytest
from song_client import WebhookVerificationError, verify_webhook

from lambdas.webhooks.secret import new_secret
from lambdas.webhooks.signing import message_id, signed_headers

EVENT = {"type": "song.processed", "timestamp": "2026-01-01T00:00:00Z", "data": {"job_id": "j-1"}}


def _delivery(secret: str, sent_at: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(EVENT).encode()
    headers = signed_headers(secret, message_id("j-1", "song.processed"), sent_at or int(time.time()), body)
    return body, headers


def test_a_delivery_signed_by_the_service_verifies() -> None:
    secret = new_secret()
    body, headers = _delivery(secret)
    assert verify_webhook(body, headers, secret) == EVENT


def test_header_names_are_case_insensitive() -> None:
    secret = new_secret()
    body, headers = _delivery(secret)
    assert verify_webhook(body, {k.title(): v for k, v in headers.items()}, secret) == EVENT


def test_several_signatures_one_of_them_valid() -> None:
    secret = new_secret()
    body, headers = _delivery(secret)
    headers["webhook-signature"] = "v1,bm90LWl0 " + headers["webhook-signature"]
    assert verify_webhook(body, headers, secret) == EVENT


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers, secret: (body.replace(b"j-1", b"j-2"), headers, secret), id="body"
        ),
        pytest.param(lambda body, headers, secret: (body, headers, new_secret()), id="other-secret"),
        pytest.param(
            lambda body, headers, secret: (body, {**headers, "webhook-id": "msg_other"}, secret),
            id="message-id",
        ),
        pytest.param(
            lambda body, headers, secret: (
                body,
                {k: v for k, v in headers.items() if k != "webhook-id"},
                secret,
            ),
            id="missing-header",
        ),
    ],
)
def test_forged_or_altered_deliveries_are_refused(tamper) -> None:
    secret = new_secret()
    body, headers = _delivery(secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(*tamper(body, headers, secret))


def test_a_stale_delivery_is_refused() -> None:
    secret = new_secret()
    body, headers = _delivery(secret, sent_at=int(time.time()) - 600)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, secret)
