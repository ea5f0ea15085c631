"""The per-user rate limits, applied to every request before anything else runs (handler.py): the
user's request bucket, and for a song submission the submission bucket too. Buckets:
lambdas/common/store/rate_limits.py; why DynamoDB and not usage plans: docs/api.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.common.errors import ServiceError
from lambdas.common.settings import ApiSettings
from lambdas.common.store.rate_limits import RateLimit, RateLimiter

from .routes import caller_of

SUBMISSION = ("POST", "/songs")


@dataclass(frozen=True)
class RateLimits:
    limiter: RateLimiter
    requests: RateLimit
    submissions: RateLimit

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> RateLimits:
        return cls(
            RateLimiter(settings.rate_limits_table_name),
            RateLimit("requests", settings.user_requests_per_minute, 60, settings.user_request_burst),
            RateLimit(
                "submissions", settings.user_submissions_per_hour, 3600, settings.user_submission_burst
            ),
        )

    def check(self, event: dict[str, Any]) -> ServiceError | None:
        """RateLimited when the caller is over a rate; None for public routes (no caller)."""
        user_id = caller_of(event)
        if user_id is None:
            return None
        try:
            self.limiter.consume(user_id, self.requests)
            if (str(event.get("httpMethod", "")).upper(), event.get("resource")) == SUBMISSION:
                self.limiter.consume(user_id, self.submissions)
        except ServiceError as exc:
            return exc
        return None
