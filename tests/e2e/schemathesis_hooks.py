"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Every song the fuzzer gets accepted is really rendered by the local stack's container. A valid
request keeps all its generated values except length and steps, which become the cheapest valid
ones, so an accepted song costs a tiny render instead of up to minutes of CPU. Invalid requests
are sent untouched (they never render), so the range rules are still fuzzed at their limits.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from pydantic import TypeAdapter, ValidationError

from lambdas.common.models import SongRequest

CHEAP = {"duration_s": 10, "inference_steps": 10}
_songs = TypeAdapter(SongRequest)


def _valid(body: Any) -> bool:
    try:
        _songs.validate_python(body)
    except ValidationError:
        return False
    return True


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if (case.method.upper(), case.path) != ("POST", "/songs") or not isinstance(case.body, dict):
        return
    cheaper = {**case.body, **CHEAP}
    if _valid(case.body) and _valid(cheaper):
        case.body = cheaper  # Schemathesis re-checks the edited case against the schema
