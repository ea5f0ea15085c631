"""Time stamps and new ids, as the rows store them."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC timestamp with milliseconds, as the job rows store it; sorts lexicographically."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return utc_timestamp(datetime.now(UTC))


def new_job_id() -> str:
    return str(uuid4())
