"""The personas table: a user's personas (the clip's location and checksum, the style text)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from .. import aws
from ..contract import PERSONAS_BY_USER
from ..errors import InvalidRequest, NotFound
from ..personas import Persona
from .dynamo import conditional, decode_page_token, encode_page_token, from_dynamo, to_dynamo


class PersonaStore:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def create(self, persona: Persona) -> Persona:
        item = persona.model_dump(mode="json", exclude_none=True)
        self._table.put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(persona_id)")
        return persona

    def get_for_user(self, persona_id: str, user_id: str) -> Persona:
        """Another user's persona is indistinguishable from a missing one."""
        item = self._table.get_item(Key={"persona_id": persona_id}, ConsistentRead=True).get("Item")
        if item is None or item.get("user_id") != user_id:
            raise NotFound("persona not found")
        return Persona.model_validate(from_dynamo(item))

    def list_for_user(
        self, user_id: str, limit: int, next_token: str | None = None
    ) -> tuple[list[Persona], str | None]:
        """Newest first, paginated with an opaque token (as GET /songs)."""
        query: dict[str, Any] = {
            "IndexName": PERSONAS_BY_USER.name,
            "KeyConditionExpression": Key("user_id").eq(user_id),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_page_token(next_token, {"persona_id", "user_id", "created_at"})
        if start is not None:
            if start["user_id"] != user_id:
                raise InvalidRequest("next_token is not valid")
            query["ExclusiveStartKey"] = start
        page = self._table.query(**query)
        personas = [Persona.model_validate(from_dynamo(item)) for item in page.get("Items", [])]
        return personas, encode_page_token(page.get("LastEvaluatedKey"))

    def count_for_user(self, user_id: str) -> int:
        """How many personas the user keeps (the cap): a COUNT query, page by page."""
        query: dict[str, Any] = {
            "IndexName": PERSONAS_BY_USER.name,
            "KeyConditionExpression": Key("user_id").eq(user_id),
            "Select": "COUNT",
        }
        total = 0
        while True:
            page = self._table.query(**query)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, persona_id: str, user_id: str) -> bool:
        """Delete the user's persona row; False when it is already gone."""
        return conditional(
            lambda: self._table.delete_item(
                Key={"persona_id": persona_id},
                ConditionExpression="user_id = :uid",
                ExpressionAttributeValues={":uid": user_id},
            )
        )
