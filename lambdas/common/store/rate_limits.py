"""Per-user rate limits in DynamoDB: a token bucket per user and limit, kept as one number.

The bucket is the generic cell rate algorithm: a row holds the bucket's "theoretical arrival time"
(`tat`, epoch milliseconds), the moment it will be full again. A request spends one token: it moves
`tat` one emission interval (period / rate) later, and is refused when that would put `tat` more
than `burst` intervals ahead of now. Each answer is a single conditional UpdateItem (a second one
when the bucket is not full); a refusal reads the row once to say when the next token comes
(Retry-After). Concurrent requests of one user cannot overspend: every write is conditioned on what
it assumes. Rows expire (TTL) after their bucket is full again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .. import aws
from ..errors import RateLimited
from .dynamo import conditional

EXPIRY_MARGIN_S = 60
_ATTEMPTS = 3  # a bucket that changes between our writes each time is, in effect, full of contention


@dataclass(frozen=True)
class RateLimit:
    name: str  # the bucket's kind (`requests`, `submissions`): part of its row id
    rate: int  # tokens per period
    period_s: int
    burst: int  # the bucket's size: requests allowed at once after a quiet spell

    @property
    def interval_ms(self) -> int:
        return max(1, self.period_s * 1000 // self.rate)

    def describe(self) -> str:
        unit = {60: "minute", 3600: "hour"}.get(self.period_s, f"{self.period_s} s")
        return f"{self.rate} {self.name} per {unit} (bursts of {self.burst})"


class RateLimiter:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def consume(self, user_id: str, limit: RateLimit, now_ms: int | None = None) -> None:
        """Spend one of the user's tokens of `limit`; RateLimited (with the seconds until the next
        token) when there is none."""
        bucket = {"bucket_id": f"{user_id}#{limit.name}"}
        for _ in range(_ATTEMPTS):
            now = now_ms if now_ms is not None else int(time.time() * 1000)
            interval = limit.interval_ms
            latest = now + (limit.burst - 1) * interval  # the latest `tat` that still has a token
            expires = math.ceil((latest + interval) / 1000) + EXPIRY_MARGIN_S
            if self._restart(bucket, now, interval, expires) or self._spend(
                bucket, now, interval, latest, expires
            ):
                return
            item = self._table.get_item(Key=bucket, ConsistentRead=True).get("Item")
            tat = int(item["tat"]) if item and "tat" in item else None
            if tat is not None and tat > latest:
                wait_s = max(1, math.ceil((tat - latest) / 1000))
                raise RateLimited(
                    f"too many requests: the limit is {limit.describe()}; retry in {wait_s} s",
                    wait_s,
                    {"limit": limit.name, "retry_after_s": wait_s},
                )
        raise RateLimited(
            f"too many concurrent requests ({limit.name}); retry in 1 s", 1, {"limit": limit.name}
        )

    def _restart(self, bucket: dict[str, str], now: int, interval: int, expires: int) -> bool:
        """A full bucket (no row, or its tat has passed) restarts from now, one token spent."""
        return conditional(
            lambda: self._table.update_item(
                Key=bucket,
                UpdateExpression="SET tat = :next, expires_at_epoch = :expires",
                ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
                ExpressionAttributeValues={":next": now + interval, ":now": now, ":expires": expires},
            )
        )

    def _spend(self, bucket: dict[str, str], now: int, interval: int, latest: int, expires: int) -> bool:
        """A bucket with tokens left: its own tat moves one interval on."""
        return conditional(
            lambda: self._table.update_item(
                Key=bucket,
                UpdateExpression="SET tat = tat + :interval, expires_at_epoch = :expires",
                ConditionExpression="tat > :now AND tat <= :latest",
                ExpressionAttributeValues={
                    ":interval": interval,
                    ":now": now,
                    ":latest": latest,
                    ":expires": expires,
                },
            )
        )
