"""Webhook delivery records, kept on the job row: one per event type (`webhook_song.processed`:
status, attempts, detail), so a duplicate event for a delivery that succeeded is dropped."""

from __future__ import annotations

from typing import Any

from ..clock import utc_now
from .dynamo import TableStore, conditional, to_dynamo


def delivery_attribute(event_type: str) -> str:
    return f"webhook_{event_type}"


class WebhookDeliveries(TableStore):
    """On the jobs table."""

    def song_row(self, job_id: str) -> dict[str, Any] | None:
        """The whole job row (the webhook URL in its request, the delivery records), or None."""
        return self._get({"job_id": job_id})

    def last(self, row: dict[str, Any], event_type: str) -> dict[str, Any]:
        """The delivery record of `event_type` on a row ({} when none)."""
        return row.get(delivery_attribute(event_type)) or {}

    def record(self, job_id: str, event_type: str, record: dict[str, Any]) -> None:
        """Replace the record of `event_type`; nothing when the song was deleted meanwhile."""
        conditional(
            lambda: self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #d = :record",
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeNames={"#d": delivery_attribute(event_type)},
                ExpressionAttributeValues={":record": to_dynamo({**record, "updated_at": utc_now()})},
            )
        )
