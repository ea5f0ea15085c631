"""Strict reading of request bodies: the media type is exactly JSON, the bytes are UTF-8, the JSON is
RFC 8259 without Python's extensions.

Python's `json` accepts NaN/Infinity, silently keeps the last of duplicate keys, turns 1e999 into
infinity (and 1e-400 into 0.0), raises ValueError (not JSONDecodeError) past 4300 digits and
RecursionError on deep nesting; `json.loads(bytes)` even guesses UTF-16/32. Each of those either
reached the handler as a 500 or accepted a body the OpenAPI document does not allow. Every
rejection here is a `lambdas.common.errors` class; lambdas/api/http_errors.py gives it its status
(400 or 415).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from decimal import Decimal
from typing import Any

from lambdas.common import errors

# The request models are two levels deep; 32 leaves room for any schema without risking recursion.
MAX_DEPTH = 32
# The largest number the API takes is a 32-bit seed (10 digits); longer literals are not numbers
# any field accepts, and int() refuses more than 4300 digits with a ValueError.
MAX_NUMBER_CHARS = 40
# Non-zero numbers smaller than this are read as 0: no field means anything that small.
MIN_MAGNITUDE = Decimal("1e-100")
UTF8_BOM = b"\xef\xbb\xbf"
JSON_MEDIA_TYPE = "application/json"


class _Rejected(ValueError):
    """Raised from json's hooks; `json.loads` lets it through unchanged."""


def check_media_type(content_type: str | None) -> None:
    """`application/json`, optionally with `charset=utf-8` (RFC 8259 defines no other parameter)."""
    media_type, *params = (content_type or "").split(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise errors.UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise errors.UnsupportedMediaType("JSON is UTF-8: the only parameter allowed is charset=utf-8")


def decode(body: str | bytes, is_base64: bool = False) -> str:
    """The body as text: UTF-8 only, without a byte order mark (RFC 8259 section 8.1)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if is_base64:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise errors.MalformedJson("the request body is not valid JSON") from None
    if raw.startswith(UTF8_BOM) or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise errors.MalformedJson("the request body must be UTF-8 JSON without a byte order mark")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.MalformedJson("the request body is not valid UTF-8") from None


def loads(text: str) -> Any:
    """Parse strict JSON; also the resolver's `json_body_deserializer`, so both paths agree."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except _Rejected as exc:
        raise errors.MalformedJson(f"the request body is not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise errors.MalformedJson(
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise errors.MalformedJson(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    _check_tree(value)
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Which value wins differs between parsers; a body that means two things is refused.
        raise _Rejected("an object repeats a key")
    return result


def _no_constant(name: str) -> Any:
    raise _Rejected(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float | int:
    number = float(literal)
    if len(literal) > MAX_NUMBER_CHARS or not math.isfinite(number):
        raise _Rejected("a number is out of range")
    # DynamoDB stores no magnitude below 1E-130 (boto3 raises decimal.Underflow). Such a number is
    # read as 0, as float() already reads 1e-400: the value is schema-valid, so refusing it would
    # contradict the published schema, and no field of the API tells 1e-300 from 0.
    if number and abs(Decimal(literal)) < MIN_MAGNITUDE:
        return 0
    # JSON has one number type: 30.0 and 3e1 are the integer 30 (JSON Schema's "integer" agrees),
    # so they reach the strict models as int. Strings and booleans stay what they are.
    return int(number) if number.is_integer() else number


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Rejected("a number is out of range")
    return int(literal)


def _check_tree(value: Any) -> None:
    """Depth limit, and no lone surrogates (`"\\ud800"` parses but cannot be stored or logged)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise errors.MalformedJson(f"the request body nests deeper than {MAX_DEPTH} levels")
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise errors.MalformedJson(f"the request body nests deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.MalformedJson("the request body has an unpaired UTF-16 surrogate escape") from None
