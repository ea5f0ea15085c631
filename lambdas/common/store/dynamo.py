"""What every table module shares: value conversion, conditional writes, transactions, paging.

A conditional write that finds its condition false is an expected answer, not an error: the store
methods turn it into False (or None) here, in one place, and let every other error propagate.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from .. import aws
from ..contract import Index
from ..errors import InvalidRequest, NotFound
from ..media_keys import is_valid_job_id

T = TypeVar("T")
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
MAX_TOKEN_VALUE_CHARS = 64  # a job id is 36 characters, a timestamp 27; a sort key may be 1024 bytes
_serializer = TypeSerializer()


def to_dynamo(value: Any) -> Any:
    """Plain JSON values -> DynamoDB-safe values (floats become Decimals)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo(value: Any) -> Any:
    """DynamoDB values -> plain JSON values (Decimals become int or float)."""
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class TableStore:
    """One table of the service: its name and a boto3 Table resource (made once, reused)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._table = aws.table(table_name)

    def _get(self, key: dict[str, str], **options: Any) -> dict[str, Any] | None:
        """The item (plain JSON values) by a strongly consistent read, or None."""
        item = self._table.get_item(Key=key, ConsistentRead=True, **options).get("Item")
        return from_dynamo(item) if item else None

    def _delete_owned(self, key: dict[str, str], user_id: str, also: str | None = None) -> bool:
        """Delete the item if it is `user_id`'s (and the condition `also` holds); False otherwise,
        which includes an item already gone."""
        condition = "user_id = :uid" + (f" AND {also}" if also else "")
        return conditional(
            lambda: self._table.delete_item(
                Key=key, ConditionExpression=condition, ExpressionAttributeValues={":uid": user_id}
            )
        )

    def _newest_for_user(
        self, index: Index, item_key: str, user_id: str, limit: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the user's items (plain JSON) on a by-user index, newest first, and the opaque
        token of the next; a token that is not one of this user's pages is 400. `item_key` is the
        table's partition key (a page's start key names it)."""
        query: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": Key(index.partition_key).eq(user_id),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_page_token(next_token, {item_key, index.partition_key, index.sort_key})
        if start is not None:
            if start[index.partition_key] != user_id:
                raise InvalidRequest("next_token is not valid")
            query["ExclusiveStartKey"] = start
        page = self._table.query(**query)
        return [from_dynamo(item) for item in page.get("Items", [])], encode_page_token(
            page.get("LastEvaluatedKey")
        )


def owned(found: T | None, user_id: str, what: str) -> T:
    """`found` if it belongs to `user_id`; another user's item is indistinguishable from a missing one."""
    if found is None or getattr(found, "user_id", None) != user_id:
        raise NotFound(f"{what} not found")
    return found


def typed(value: Any) -> dict[str, Any]:
    """A plain value as a low-level DynamoDB attribute value ({"S": ...}, {"M": ...})."""
    return _serializer.serialize(to_dynamo(value))


def typed_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB-safe item (`to_dynamo`) as low-level attribute values."""
    return {k: _serializer.serialize(v) for k, v in item.items()}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_conditional_failure(exc: ClientError) -> bool:
    return error_code(exc) == CONDITION_FAILED


def is_cancelled_transaction(exc: ClientError) -> bool:
    return error_code(exc) == TRANSACTION_CANCELED


def unless(code: str, write: Callable[[], T]) -> T | None:
    """`write()`'s result, or None when DynamoDB refuses it with `code` (every other error raises)."""
    try:
        return write()
    except ClientError as exc:
        if error_code(exc) != code:
            raise
        return None


def conditional(write: Callable[[], Any]) -> bool:
    """Run a conditional write: True if it was made, False if its condition did not hold."""
    return unless(CONDITION_FAILED, lambda: write() or True) is not None


def transact(items: list[dict[str, Any]], token: str | None = None) -> ClientError | None:
    """TransactWriteItems: None if committed; the TransactionCanceledException if a condition
    cancelled it (the caller decides why, and may raise it). With a `token` (ClientRequestToken),
    botocore's retry of a call whose reply was lost is answered from the first commit."""
    extra = {"ClientRequestToken": token} if token else {}
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=items, **extra)
    except ClientError as exc:
        if not is_cancelled_transaction(exc):
            raise
        return exc
    return None


def set_clause(values: dict[str, Any], first: int = 0) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`#a0 = :v0, #a1 = :v1, ...` for `values`, with its attribute names and values."""
    names = {f"#a{first + i}": name for i, name in enumerate(values)}
    assignments = ", ".join(f"#a{first + i} = :v{first + i}" for i in range(len(values)))
    attr_values = {f":v{first + i}": value for i, value in enumerate(values.values())}
    return assignments, names, attr_values


def query_pages(table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every page of a Query (its answers, each with `Items` or, with Select COUNT, `Count`)."""
    while True:
        page = table.query(**query)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_all(table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query, page by page."""
    for page in query_pages(table, **query):
        yield from page.get("Items", [])


def encode_page_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(from_dynamo(key)).encode()).decode()


def decode_page_token(token: str | None, expected_keys: set[str]) -> dict[str, Any] | None:
    """Opaque pagination token -> ExclusiveStartKey; anything malformed is a client error."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError, RecursionError):  # "[[[..." recurses past the limit
        raise InvalidRequest("next_token is not valid") from None
    # The token is client-supplied: a forged key must not reach DynamoDB as ExclusiveStartKey
    # (an invalid key there is a ValidationException, i.e. a 500).
    if (
        not isinstance(key, dict)
        or set(key) != expected_keys
        # Our keys are ids and timestamps; a longer value could pass DynamoDB's key-size limits.
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_TOKEN_VALUE_CHARS for v in key.values())
        or any(k in key and not is_valid_job_id(key[k]) for k in ("job_id", "persona_id"))
    ):
        raise InvalidRequest("next_token is not valid")
    return key
