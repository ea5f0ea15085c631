"""The credit ledger: a song's price is reserved at submission and leaves the user's reserved
credits exactly once, captured with the `processed` update or released when the job ends otherwise.

The job's `reservation` (held -> captured | released) is the condition that makes each move happen
at most once; each move is one transaction over the job row and the user row:
- `create_reserved` (the API): the job row, and `reserved_credits + price` on the user if
  `credits - reserved_credits` covers it (optimistic: the amount read is part of the condition);
- `capture` (finalize): the job `processed` with its result and `charged`, credits and reserved
  credits both down by the price;
- `release_reservation` (failure, cancel, reaper) and `fail_and_release` (the API, when no
  workflow could be started): reserved credits down by the price.
Operators' grants (`add_credits`) change the balance, never below what is reserved.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from .. import aws
from ..clock import utc_now
from ..errors import ConcurrentRequests, InsufficientCredits, JobStateConflict
from ..models import (
    ENDED_UNCHARGED,
    UNFINISHED,
    Job,
    JobResult,
    JobStatus,
    JobStep,
    Reservation,
    User,
)
from ..observability import logger
from .dynamo import transact, typed, typed_item
from .jobs import JobStore, item_of
from .users import UserStore

# Optimistic reservation: a concurrent change of the user's reserved credits makes the transaction
# re-read and try again; more than this many in a row means the user is hammering the API.
MAX_RESERVE_ATTEMPTS = 6
# Full jitter between attempts, growing: at most 0.01 + 0.02 + ... + 0.16 = 0.31 s in all.
RESERVE_BACKOFF_S = 0.01


class CreditLedger:
    def __init__(self, jobs: JobStore, users: UserStore) -> None:
        self.jobs = jobs
        self.users = users
        self._users_table = aws.table(users.table_name)

    def create_reserved(self, job: Job, signup_credits: int) -> Job:
        """Reserve the job's price on its user and write the row, in one transaction.

        Raises InsufficientCredits (the API's 402) when the available credits do not cover it.
        """
        price = job.price_credits
        if price is None or price < 1:
            raise ValueError("a reserved job needs a positive price_credits")
        job = job.model_copy(update={"reservation": Reservation.HELD})
        for attempt in range(MAX_RESERVE_ATTEMPTS):
            user = self.users.get_or_create(job.user_id, signup_credits)
            if user.available_credits < price:
                raise _insufficient(user, price)
            # One token per attempt: each attempt's items differ (the amounts read), and a token
            # reused with other items is refused (IdempotentParameterMismatch).
            token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job.job_id}/{attempt}"))
            if transact([self._reserve(user, price), self._put(job)], token=token) is None:
                return job
            # A retry of a call that had committed (its reply lost) fails on the job's own row:
            # the reservation is made, and another round would only end in a 503.
            existing = self.jobs.find(job.job_id)
            if (
                existing is not None
                and existing.user_id == job.user_id
                and existing.reservation == Reservation.HELD
            ):
                return existing
            # The user's balance or reservations changed meanwhile (another request of the same
            # user): back off a random while, so the racing requests spread out, and read again.
            if attempt < MAX_RESERVE_ATTEMPTS - 1:
                time.sleep(random.uniform(0, RESERVE_BACKOFF_S * 2**attempt))
        raise ConcurrentRequests(
            "too many requests of this user changed its credits at once; retry after a second",
            details={"retry_after_s": ConcurrentRequests.retry_after_s},
        )

    def capture(self, job_id: str, result: JobResult) -> bool:
        """Charge the reserved price and complete the job, atomically. True if this call charged;
        False if an earlier call already did (a retry after a lost response). Raises
        JobStateConflict when the job can no longer be completed (failed, canceled, never reserved)."""
        job = self.jobs.get(job_id)
        if job.reservation == Reservation.CAPTURED:
            return False
        if job.status != JobStatus.PROCESSING or job.reservation != Reservation.HELD or not job.price_credits:
            raise JobStateConflict(f"job {job_id} is {job.status.value}, reservation {job.reservation}")
        price = {"N": str(job.price_credits)}
        complete = {
            "Update": {
                "TableName": self.jobs.table_name,
                "Key": {"job_id": {"S": job_id}},
                "UpdateExpression": "SET #s = :processed, stage = :step, #r = :result, charged = :true, "
                "reservation = :captured, finished_at = :now, updated_at = :now REMOVE task_token",
                "ConditionExpression": "#s = :processing AND reservation = :held AND price_credits = :price",
                "ExpressionAttributeNames": {"#s": "status", "#r": "result"},
                "ExpressionAttributeValues": {
                    ":processed": {"S": JobStatus.PROCESSED.value},
                    ":processing": {"S": JobStatus.PROCESSING.value},
                    ":step": {"S": JobStep.COMPLETED.value},
                    ":result": typed(result.model_dump(mode="json", exclude_none=True)),
                    ":true": {"BOOL": True},
                    ":held": {"S": Reservation.HELD.value},
                    ":captured": {"S": Reservation.CAPTURED.value},
                    ":price": price,
                    ":now": {"S": utc_now()},
                },
            }
        }
        cancelled = transact([complete, self._unreserve(job.user_id, price, charge=True)])
        if cancelled is None:
            return True
        after = self.jobs.get(job_id)
        if after.reservation == Reservation.CAPTURED:
            return False
        if after.status != JobStatus.PROCESSING or after.reservation != Reservation.HELD:
            raise JobStateConflict(f"job {job_id} is {after.status.value}") from None
        raise cancelled  # a conflict with another write: the caller retries

    def release_reservation(self, job_id: str) -> bool:
        """Give a failed or canceled job's reserved price back to its user. True if this call did;
        False if there is nothing to release (released already, captured, never reserved, or the
        job has not ended uncharged). Every path that ends a job without a song calls this."""
        job = self.jobs.find(job_id)
        if job is None or job.reservation != Reservation.HELD or not job.price_credits:
            return False
        if job.status not in ENDED_UNCHARGED:
            logger.warning("reservation kept: the job has not ended", extra={"job_id": job_id})
            return False
        return self._release_with(
            job,
            "SET reservation = :released, updated_at = :now",
            "#s IN (:failed, :canceled)",
            {},
            {":failed": {"S": JobStatus.FAILED.value}, ":canceled": {"S": JobStatus.CANCELED.value}},
        )

    def fail_and_release(self, job_id: str, code: str, message: str) -> bool:
        """Fail a queued job and give its reserved price back, in one transaction (the API, when no
        workflow could be started: two separate writes could leave a failed job holding credits).
        True if this call did; False if the job had already ended or holds no reservation."""
        job = self.jobs.find(job_id)
        if job is None or job.reservation != Reservation.HELD or not job.price_credits:
            return False
        return self._release_with(
            job,
            "SET #s = :failed, stage = :step, #e = :error, reservation = :released, updated_at = :now",
            "#s IN (:queued, :processing)",
            {"#e": "error"},
            {
                ":failed": {"S": JobStatus.FAILED.value},
                ":step": {"S": JobStep.FAILED.value},
                ":error": typed({"code": code, "message": message}),
                ":queued": {"S": JobStatus.QUEUED.value},
                ":processing": {"S": JobStatus.PROCESSING.value},
            },
            token=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job_id}/fail")),
        )

    def add_credits(self, user_id: str, amount: int) -> int:
        """Grant (or, with a negative amount, revoke) credits; returns the new balance.

        A revocation may not take the balance below what songs in flight have reserved (the
        condition fails, ConditionalCheckFailedException, if the reservations grew meanwhile).
        """
        user = self.users.find(user_id)
        reserved = user.reserved_credits if user else 0
        response = self._users_table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="ADD credits :amount",
            ConditionExpression="attribute_exists(user_id) AND credits >= :floor AND "
            "(attribute_not_exists(reserved_credits) OR reserved_credits <= :reserved)",
            ExpressionAttributeValues={
                ":amount": amount,
                ":floor": reserved + max(0, -amount),
                ":reserved": reserved,
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["credits"])

    # --- the two halves of each move --------------------------------------------------------------

    def _put(self, job: Job) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.jobs.table_name,
                "Item": typed_item(item_of(job)),
                "ConditionExpression": "attribute_not_exists(job_id)",
            }
        }

    def _reserve(self, user: User, price: int) -> dict[str, Any]:
        """The user's reserved credits up by `price`, if still what was read and covered by credits."""
        reserved_now = (
            "(attribute_not_exists(reserved_credits) OR reserved_credits = :reserved)"
            if user.reserved_credits == 0
            else "reserved_credits = :reserved"
        )
        return {
            "Update": {
                "TableName": self.users.table_name,
                "Key": {"user_id": {"S": user.user_id}},
                "UpdateExpression": "SET reserved_credits = :after",
                "ConditionExpression": f"credits >= :after AND {reserved_now}",
                "ExpressionAttributeValues": {
                    ":reserved": {"N": str(user.reserved_credits)},
                    ":after": {"N": str(user.reserved_credits + price)},
                },
            }
        }

    def _unreserve(self, user_id: str, price: dict[str, str], *, charge: bool) -> dict[str, Any]:
        """The user's half of capture (charge=True: credits drop too) and release."""
        spend = "credits = credits - :price, " if charge else ""
        return {
            "Update": {
                "TableName": self.users.table_name,
                "Key": {"user_id": {"S": user_id}},
                "UpdateExpression": f"SET {spend}reserved_credits = reserved_credits - :price",
                "ConditionExpression": "reserved_credits >= :price"
                + (" AND credits >= :price" if charge else ""),
                "ExpressionAttributeValues": {":price": price},
            }
        }

    def _release_with(
        self,
        job: Job,
        update: str,
        status_condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        token: str | None = None,
    ) -> bool:
        """One transaction: the job's update (which must set reservation = :released) on the
        condition that it still holds exactly its price, and the user's reserved credits down by it.
        True if this call released it; False if another call did first."""
        price = {"N": str(job.price_credits)}
        update_job = {
            "Update": {
                "TableName": self.jobs.table_name,
                "Key": {"job_id": {"S": job.job_id}},
                "UpdateExpression": update,
                "ConditionExpression": f"{status_condition} AND reservation = :held "
                "AND price_credits = :price",
                "ExpressionAttributeNames": {"#s": "status", **names},
                "ExpressionAttributeValues": {
                    **values,
                    ":released": {"S": Reservation.RELEASED.value},
                    ":held": {"S": Reservation.HELD.value},
                    ":price": price,
                    ":now": {"S": utc_now()},
                },
            }
        }
        cancelled = transact([update_job, self._unreserve(job.user_id, price, charge=False)], token=token)
        if cancelled is None:
            return True
        after = self.jobs.find(job.job_id)
        if after is None or after.reservation != Reservation.HELD:
            return False  # someone else released it first
        if after.status != job.status and after.status not in UNFINISHED:
            return False  # it ended meanwhile (e.g. canceled), by a path that releases
        raise cancelled  # a conflict with another write: the caller retries


def _insufficient(user: User, price: int) -> InsufficientCredits:
    message = (
        f"this song costs {price} credits and you have {user.available_credits} available "
        f"({user.credits} credits, {user.reserved_credits} reserved by songs in progress)"
    )
    return InsufficientCredits(
        message,
        details={
            "price_credits": price,
            "credits": user.credits,
            "reserved_credits": user.reserved_credits,
            "available_credits": user.available_credits,
        },
    )
