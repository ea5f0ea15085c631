"""Lifecycle events of songs on the stack's EventBridge bus: the one place that emits them.

Every place where a job changes state calls `LifecycleEvents.announce(job)` with the job as it is now:
`processing` (start_inference), `processed` (finalize, before the slot is freed), `failed`
(finalize/reaper, by the call that failed the job) and `canceled` (the API's cancel).

Event: source `song-service`, detail-type = the event type, detail = the webhook body
`{"type", "timestamp", "data"}` where data is the song as GET /songs/{id} shows it, without
download URLs (they are per request and expire). Delivery is at least once: a retried step may
announce twice; consumers dedupe by (job_id, type), as the webhook sender does.
"""

from __future__ import annotations

import json
from typing import Any

from . import aws
from .clock import utc_now
from .event_catalog import EVENT_TYPES, SOURCE
from .models import Job
from .observability import logger
from .song_view import song_fields


class EventNotSent(Exception):
    """EventBridge refused the entry (the step fails and is retried)."""


def event_body(job: Job, event_type: str) -> dict[str, Any]:
    return {"type": event_type, "timestamp": utc_now(), "data": song_fields(job)}


class LifecycleEvents:
    """The stack's bus of song lifecycle events."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def announce(self, job: Job) -> str | None:
        """Put the event for the job's current status on the bus; returns its type (None: queued
        has no event)."""
        event_type = EVENT_TYPES.get(job.status)
        if event_type is None:
            return None
        _put(self.bus_name, job, event_type)
        logger.info("lifecycle event sent", extra={"job_id": job.job_id, "event_type": event_type})
        return event_type


def _put(bus: str, job: Job, event_type: str) -> None:
    response = aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": SOURCE,
                "DetailType": event_type,
                "Detail": json.dumps(event_body(job, event_type)),
                "Resources": [],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise EventNotSent(
            f"{event_type} for {job.job_id}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        )
