"""The personas table: a user's personas (the clip's location and checksum, the style text)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from ..contract import PERSONAS_BY_USER
from ..personas import Persona
from .dynamo import TableStore, owned, query_pages, to_dynamo


class PersonaStore(TableStore):
    def create(self, persona: Persona) -> Persona:
        item = persona.model_dump(mode="json", exclude_none=True)
        self._table.put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(persona_id)")
        return persona

    def get_for_user(self, persona_id: str, user_id: str) -> Persona:
        """Another user's persona is indistinguishable from a missing one."""
        item = self._get({"persona_id": persona_id})
        return owned(Persona.model_validate(item) if item else None, user_id, "persona")

    def list_for_user(
        self, user_id: str, limit: int, next_token: str | None = None
    ) -> tuple[list[Persona], str | None]:
        """Newest first, paginated with an opaque token (as GET /songs)."""
        items, token = self._newest_for_user(PERSONAS_BY_USER, "persona_id", user_id, limit, next_token)
        return [Persona.model_validate(item) for item in items], token

    def count_for_user(self, user_id: str) -> int:
        """How many personas the user keeps (the cap): a COUNT query, page by page."""
        pages = query_pages(
            self._table,
            IndexName=PERSONAS_BY_USER.name,
            KeyConditionExpression=Key(PERSONAS_BY_USER.partition_key).eq(user_id),
            Select="COUNT",
        )
        return sum(int(page.get("Count", 0)) for page in pages)

    def delete(self, persona_id: str, user_id: str) -> bool:
        """Delete the user's persona row; False when it is already gone."""
        return self._delete_owned({"persona_id": persona_id}, user_id)
