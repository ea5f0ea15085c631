"""Idempotency-Key support for POST /songs on Powertools idempotency (DynamoDB persistence).

The record key is a hash of (user id, Idempotency-Key): keys are per user, so two users can never
see each other's answers. The request body's hash is the validation payload: the same key with
another body raises IdempotencyValidationError (mapped to 409), never a second job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from lambdas.common import aws

# How long a key is remembered; a client retrying within a day gets the first answer.
KEY_TTL_S = 24 * 3600


def body_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    create: Callable[[], dict[str, Any]],
    *,
    table_name: str,
    user_id: str,
    key: str,
    payload: dict[str, Any],
    lambda_context: Any = None,
) -> dict[str, Any]:
    """Run `create` once per (user, key); repeats return its stored result."""
    config = IdempotencyConfig(
        event_key_jmespath="[user_id, key]",
        payload_validation_jmespath="body_hash",
        expires_after_seconds=KEY_TTL_S,
        raise_on_no_idempotency_key=True,
    )
    if lambda_context is not None:
        # Lets Powertools expire an in-progress record when this invocation times out.
        config.register_lambda_context(lambda_context)
    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws.client("dynamodb"))

    @idempotent_function(data_keyword_argument="request_key", persistence_store=store, config=config)
    def create_song(request_key: dict[str, str]) -> dict[str, Any]:
        return create()

    return create_song(request_key={"user_id": user_id, "key": key, "body_hash": body_hash(payload)})
