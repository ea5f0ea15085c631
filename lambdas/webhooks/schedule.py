"""When a failed webhook delivery is tried again (plain data: the CDK app sizes the queue from it)."""

from __future__ import annotations

import random

# Seconds to wait after failed attempt n (1-based) before attempt n+1, per the Standard Webhooks
# recommendation: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h -> 8 attempts over about 27.6 hours.
RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
SQS_MAX_VISIBILITY_S = 43200  # ChangeMessageVisibility's limit (12 h)
# One delivery, all of it (DNS, connect, TLS, the request, the status line and headers), ends
# within this many seconds (lambdas/webhooks/http.py enforces it with a watchdog).
DELIVERY_DEADLINE_S = 10
# The sender stops waiting for a batch this long before its function timeout, so the batch never
# times out as a whole: a delivery still running then is retried on its own.
SENDER_RESERVE_S = 5
# The sender delivers a batch's records in parallel: a batch takes one delivery's deadline plus a
# few DynamoDB calls. Twice the deadline plus the reserve leaves room for slow DynamoDB retries.
WEBHOOK_SENDER_TIMEOUT_S = 2 * DELIVERY_DEADLINE_S + SENDER_RESERVE_S + 5
JITTER = 0.1  # +-10 %, so receivers that came back are not hit by every retry at once


def retry_delay_s(attempt: int, jitter: float = JITTER, rng: random.Random | None = None) -> int | None:
    """Seconds before the next attempt after failed attempt `attempt`; None when it was the last."""
    if attempt < 1 or attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE_S[attempt - 1]
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    return max(1, min(SQS_MAX_VISIBILITY_S, round(base * (1 + spread))))
