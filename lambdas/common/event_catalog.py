"""Names of the song lifecycle events (plain data: the CDK app builds the bus rule from them)."""

from __future__ import annotations

from .contract import SERVICE
from .models import JobStatus

SOURCE = SERVICE
EVENT_TYPES: dict[JobStatus, str] = {
    JobStatus.PROCESSING: "song.processing",
    JobStatus.PROCESSED: "song.processed",
    JobStatus.FAILED: "song.failed",
    JobStatus.CANCELED: "song.canceled",
}

# The rule that feeds the webhook sender: events of songs that asked for a webhook. The deployed
# rule (stacks/webhooks.py) and the local stack's (local/resources.py) are built from this.
# Matched by scheme, not {"exists": true}: stored requests carry "webhook_url": null, and a null
# leaf exists for EventBridge. Any case, as the URL check accepts it; http:// passes that check
# only in the local stack.
WEBHOOK_RULE_PATTERN = {
    "source": [SOURCE],
    "detail-type": sorted(EVENT_TYPES.values()),
    "detail": {
        "data": {
            "request": {
                "webhook_url": [
                    {"prefix": {"equals-ignore-case": "https://"}},
                    {"prefix": {"equals-ignore-case": "http://"}},
                ]
            }
        }
    },
}
