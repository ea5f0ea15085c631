"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Every song the fuzzer gets accepted is really rendered by the local stack's container. A valid
request keeps all its generated values except length and steps, which become the cheapest valid
ones, so an accepted song costs a tiny render instead of up to minutes of CPU. Invalid requests
are sent untouched (they never render), so the range rules are still fuzzed at their limits.

One rule no JSON Schema can state is met by substitution in otherwise valid requests (the
field's description in the document says it): `webhook_url` must resolve to a public address
(checked at submission and again at delivery), so a generated URL becomes the local stack's allowed
loopback receiver on the discard port; deliveries to it fail at once and are retried in the
background, never leaving this machine. (The upload size limit, a deploy-time setting, is declared
in the document itself: `maximum` of `size_bytes`.)
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from pydantic import TypeAdapter, ValidationError

# The local stack's setting: http to 127.0.0.1 is a valid webhook there (never on AWS).
os.environ["WEBHOOK_ALLOW_HTTP_LOOPBACK"] = "true"

from lambdas.common.models import SongRequest  # validation reads the setting above

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
    if case.path != "/songs":
        return
    body = dict(case.body)
    if isinstance(body.get("webhook_url"), str):
        # Always: an invalid body must fail on its own fields, not on an address the schema allows.
        body["webhook_url"] = LOOPBACK_RECEIVER
        case.body = body
    if not _valid(body):
        return
    # Audio-in modes take no `duration_s` (their length follows the source): keep what applies.
    cheaper = {**body, **CHEAP}
    case.body = cheaper if _valid(cheaper) else body  # Schemathesis re-checks the edited case
