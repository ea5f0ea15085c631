"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Every song the fuzzer gets accepted is really rendered by the local stack's container. A valid
request keeps all its generated values except length and steps, which become the cheapest valid
ones, so an accepted song costs a tiny render instead of up to minutes of CPU. Invalid requests
are sent untouched (they never render), so the range rules are still fuzzed at their limits.

Two rules no JSON Schema can state are met by substitution in otherwise valid requests (what the
document says about them is in each field's description):
- `webhook_url` must resolve to a public address (checked at submission and again at delivery), so a
  generated URL becomes the local stack's allowed loopback receiver on the discard port; deliveries
  to it fail at once and are retried in the background, never leaving this machine.
- `size_bytes` of an upload is capped by a deploy-time setting (`upload_max_mb`), so a larger
  generated size becomes the configured maximum.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from pydantic import TypeAdapter, ValidationError

# The local stack's setting: http to 127.0.0.1 is a valid webhook there (never on AWS).
os.environ["WEBHOOK_ALLOW_HTTP_LOOPBACK"] = "true"

from lambdas.common.models import SongRequest  # validation reads the setting above
from lambdas.common.settings import get_settings

CHEAP = {"duration_s": 10, "inference_steps": 10}
LOOPBACK_RECEIVER = "http://127.0.0.1:9/webhook"
_songs = TypeAdapter(SongRequest)


def _valid(body: Any) -> bool:
    try:
        _songs.validate_python(body)
    except ValidationError:
        return False
    return True


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if not isinstance(case.body, dict) or case.method.upper() != "POST":
        return
    if case.path == "/uploads":
        size, limit = case.body.get("size_bytes"), get_settings().upload_max_bytes
        if isinstance(size, int) and not isinstance(size, bool) and size > limit:
            case.body = {**case.body, "size_bytes": limit}
        return
    if case.path != "/songs":
        return
    body = dict(case.body)
    if isinstance(body.get("webhook_url"), str):
        body["webhook_url"] = LOOPBACK_RECEIVER
    cheaper = {**body, **CHEAP}
    if _valid(body) and _valid(cheaper):
        case.body = cheaper  # Schemathesis re-checks the edited case against the schema
