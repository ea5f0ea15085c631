"""When a failed webhook delivery is tried again (plain data: the CDK app sizes the queue from it)."""

from __future__ import annotations

import random

# Seconds to wait after failed attempt n (1-based) before attempt n+1, per the Standard Webhooks
# recommendation: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h -> 8 attempts over about 27.6 hours.
RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
SQS_MAX_VISIBILITY_S = 43200  # ChangeMessageVisibility's limit (12 h)
# The sender delivers a batch in parallel; one request takes at most ~8 s (lambdas/webhooks/http.py).
WEBHOOK_SENDER_TIMEOUT_S = 30
# Lambda's guidance for SQS event sources: visibility timeout >= 6 x the function timeout.
WEBHOOK_QUEUE_VISIBILITY_S = 6 * WEBHOOK_SENDER_TIMEOUT_S
JITTER = 0.1  # +-10 %, so receivers that came back are not hit by every retry at once


def retry_delay_s(attempt: int, jitter: float = JITTER, rng: random.Random | None = None) -> int | None:
    """Seconds before the next attempt after failed attempt `attempt`; None when it was the last."""
    if attempt < 1 or attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE_S[attempt - 1]
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    return max(1, min(SQS_MAX_VISIBILITY_S, round(base * (1 + spread))))
