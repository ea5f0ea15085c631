"""The one data layer for the jobs and users tables: the API, the workflow tasks, the reaper and the
ops CLI all read and write rows here, so each status rule and each credit rule lives in one place.

Every write that guards an invariant is conditional, so a retried call is harmless:
- a job's status moves only forward (`UNFINISHED` -> processed | failed | canceled);
- the price is reserved at submission in the same transaction that writes the job row
  (`create_reserved`), and leaves the user's `reserved_credits` exactly once: captured with the
  `processed` update (`capture`) or released when the job ends otherwise (`release_reservation`).
  The job's `reservation` attribute (held -> captured | released) is the condition that makes
  each of them happen at most once;
- a user's running jobs are the string set `active_jobs` on the user row (ADD/DELETE are
  idempotent, unlike a counter: a retried acquire or release cannot leak or double-free a slot);
- a job calls InvokeEndpointAsync at most once: `claim_invocation` records the attempt first.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from . import aws
from .errors import (
    ConcurrentRequests,
    InsufficientCredits,
    InvalidRequest,
    JobStateConflict,
    NotFound,
)
from .media_keys import is_valid_job_id
from .models import (
    ENDED_UNCHARGED,
    UNFINISHED,
    Job,
    JobError,
    JobResult,
    JobStatus,
    Reservation,
    User,
    utc_now,
)
from .observability import logger
from .settings import get_settings

BY_USER_INDEX = "by_user"
BY_STATUS_INDEX = "by_status"
# Optimistic reservation: a concurrent change of the user's reserved credits makes the transaction
# re-read and try again; more than this many in a row means the user is hammering the API.
MAX_RESERVE_ATTEMPTS = 6
# Full jitter between attempts, growing: at most 0.01 + 0.02 + ... + 0.16 = 0.31 s in all.
RESERVE_BACKOFF_S = 0.01
MAX_TOKEN_VALUE_CHARS = 64  # a job id is 36 characters, a timestamp 27; a sort key may be 1024 bytes
_serializer = TypeSerializer()


def to_dynamo(value: Any) -> Any:
    """Plain JSON values -> DynamoDB-safe values (floats become Decimals)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo(value: Any) -> Any:
    """DynamoDB values -> plain JSON values (Decimals become int or float)."""
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _parse_time(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def typed(value: Any) -> dict[str, Any]:
    """A plain value as a low-level DynamoDB attribute value ({"S": ...}, {"M": ...})."""
    return _serializer.serialize(to_dynamo(value))


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def is_cancelled_transaction(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "TransactionCanceledException"


def encode_page_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(from_dynamo(key)).encode()).decode()


def decode_page_token(token: str | None, expected_keys: set[str]) -> dict[str, Any] | None:
    """Opaque pagination token -> ExclusiveStartKey; anything malformed is a client error."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError, RecursionError):  # "[[[..." recurses past the limit
        raise InvalidRequest("next_token is not valid") from None
    # The token is client-supplied: a forged key must not reach DynamoDB as ExclusiveStartKey
    # (an invalid key there is a ValidationException, i.e. a 500).
    if (
        not isinstance(key, dict)
        or set(key) != expected_keys
        # Our keys are ids and timestamps; a longer value could pass DynamoDB's key-size limits.
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_TOKEN_VALUE_CHARS for v in key.values())
        or ("job_id" in key and not is_valid_job_id(key["job_id"]))
    ):
        raise InvalidRequest("next_token is not valid")
    return key


def _transact(items: list[dict[str, Any]], token: str | None = None) -> None:
    """TransactWriteItems; with a `token` (ClientRequestToken), botocore's retry of a call whose
    reply was lost is answered from the first commit instead of running again."""
    extra = {"ClientRequestToken": token} if token else {}
    aws.client("dynamodb").transact_write_items(TransactItems=items, **extra)


class UserRepository:
    SLOTS = "active_jobs"

    def __init__(self, table_name: str | None = None, jobs_table_name: str | None = None) -> None:
        settings = get_settings()
        self.table_name = table_name or settings.users_table_name
        self._jobs_table_name = jobs_table_name or settings.jobs_table_name
        self._table = aws.table(self.table_name)

    def find(self, user_id: str) -> User | None:
        item = self._table.get_item(Key={"user_id": user_id}, ConsistentRead=True).get("Item")
        return User.model_validate(from_dynamo(item)) if item else None

    def get_or_create(self, user_id: str, signup_credits: int | None = None) -> User:
        """First use creates the user with the sign-up credits; a concurrent first use cannot double it."""
        user = self.find(user_id)
        if user is not None:
            return user
        credits = get_settings().signup_credits if signup_credits is None else signup_credits
        new_user = User(user_id=user_id, credits=credits, created_at=utc_now())
        try:
            self._table.put_item(
                Item=to_dynamo(new_user.model_dump()),
                ConditionExpression="attribute_not_exists(user_id)",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            # Lost the race: someone else created the user first; theirs is the row.
            existing = self.find(user_id)
            if existing is None:  # pragma: no cover - deleted between the two calls
                raise
            return existing
        return new_user

    def add_credits(self, user_id: str, amount: int) -> int:
        """Grant (or, with a negative amount, revoke) credits; returns the new balance.

        A revocation may not take the balance below what songs in flight have reserved (the
        condition fails, ConditionalCheckFailedException, if the reservations grew meanwhile).
        """
        user = self.find(user_id)
        reserved = user.reserved_credits if user else 0
        response = self._table.update_item(
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

    # --- the per-user slots (at most N running jobs) -------------------------------------

    def webhook_secret(self, user_id: str, new_secret: Callable[[], str]) -> str:
        """The user's webhook signing secret; the first call stores `new_secret()` (two concurrent
        first calls agree on one). It lives on the user row: the table is encrypted at rest (KMS),
        and the secret is never logged. Once it exists this is a read (every webhook delivery asks).
        """
        item = self._table.get_item(
            Key={"user_id": user_id}, ProjectionExpression="webhook_secret", ConsistentRead=True
        ).get("Item")
        if item and item.get("webhook_secret"):
            return str(item["webhook_secret"])
        response = self._table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="SET webhook_secret = if_not_exists(webhook_secret, :secret)",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":secret": new_secret()},
            ReturnValues="ALL_NEW",
        )
        return str(response["Attributes"]["webhook_secret"])

    def rotate_webhook_secret(self, user_id: str, new_secret: str) -> str:
        """Replace the secret; deliveries signed from now on use the new one."""
        self._table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="SET webhook_secret = :secret, webhook_secret_rotated_at = :now",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":secret": new_secret, ":now": utc_now()},
        )
        return new_secret

    def slot_holders(self, user_id: str) -> set[str]:
        item = self._table.get_item(
            Key={"user_id": user_id}, ProjectionExpression=self.SLOTS, ConsistentRead=True
        ).get("Item")
        return set(item.get(self.SLOTS, set())) if item else set()

    def acquire_slot(self, user_id: str, job_id: str, limit: int) -> bool:
        """Take a slot for a queued job if fewer than `limit` are held. True if held afterwards.

        The check that the job is still queued runs in the same transaction, so a job that the
        reaper failed meanwhile can never be handed a slot after its release.
        """
        try:
            _transact(
                [
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"user_id": {"S": user_id}},
                            "UpdateExpression": "ADD active_jobs :job",
                            "ConditionExpression": "attribute_exists(user_id) AND ("
                            "attribute_not_exists(active_jobs) OR size(active_jobs) < :limit "
                            "OR contains(active_jobs, :job_id))",
                            "ExpressionAttributeValues": {
                                ":job": {"SS": [job_id]},
                                ":job_id": {"S": job_id},
                                ":limit": {"N": str(limit)},
                            },
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._jobs_table_name,
                            "Key": {"job_id": {"S": job_id}},
                            "ConditionExpression": "#s = :queued",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":queued": {"S": JobStatus.QUEUED.value}},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if is_cancelled_transaction(exc):
                return False
            raise
        return True

    def release_slot(self, user_id: str, job_id: str) -> bool:
        """Free the job's slot. True if this call freed it, False if it was not held (idempotent)."""
        try:
            self._table.update_item(
                Key={"user_id": user_id},
                UpdateExpression="DELETE active_jobs :job",
                ConditionExpression="contains(active_jobs, :job_id)",
                ExpressionAttributeValues={":job": {job_id}, ":job_id": job_id},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True


class JobRepository:
    def __init__(self, table_name: str | None = None, users_table_name: str | None = None) -> None:
        settings = get_settings()
        self.table_name = table_name or settings.jobs_table_name
        self.users = UserRepository(users_table_name or settings.users_table_name, self.table_name)
        self._table = aws.table(self.table_name)

    # --- reading ---------------------------------------------------------------------------

    def find(self, job_id: str) -> Job | None:
        """The job's row (a strongly consistent read), or None."""
        row = self.read_row(job_id)
        return Job.model_validate(row) if row else None

    def read_row(self, job_id: str) -> dict[str, Any] | None:
        """The whole row, attributes outside the Job model included (e.g. webhook delivery records)."""
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def record_webhook_delivery(self, job_id: str, attribute: str, record: dict[str, Any]) -> None:
        """The delivery record of one event type (`webhook_song.processed`: status, attempts, detail)."""
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #d = :record",
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeNames={"#d": attribute},
                ExpressionAttributeValues={":record": to_dynamo({**record, "updated_at": utc_now()})},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):  # the song was deleted meanwhile: nothing to record
                raise

    def get(self, job_id: str) -> Job:
        job = self.find(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def get_for_user(self, job_id: str, user_id: str) -> Job:
        """Another user's job is indistinguishable from a missing one."""
        job = self.find(job_id)
        if job is None or job.user_id != user_id:
            raise NotFound("song not found")
        return job

    def list_for_user(
        self, user_id: str, limit: int, next_token: str | None = None
    ) -> tuple[list[Job], str | None]:
        """Newest first, paginated with an opaque token."""
        query: dict[str, Any] = {
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": Key("user_id").eq(user_id),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_page_token(next_token, {"job_id", "user_id", "created_at"})
        if start is not None:
            if start["user_id"] != user_id:
                raise InvalidRequest("next_token is not valid")
            query["ExclusiveStartKey"] = start
        page = self._table.query(**query)
        jobs = [Job.model_validate(from_dynamo(item)) for item in page.get("Items", [])]
        return jobs, encode_page_token(page.get("LastEvaluatedKey"))

    def ids_by_status(self, status: JobStatus, created_from: str, created_to: str, limit: int) -> list[str]:
        """Ids of jobs in `status` created in [created_from, created_to] (inclusive), oldest first.

        One Query of the by_status index (eventually consistent), at most `limit` small index
        items, so its cost stays bounded however long the queue is.
        """
        page = self._table.query(
            IndexName=BY_STATUS_INDEX,
            KeyConditionExpression=Key("status").eq(status.value)
            & Key("created_at").between(created_from, created_to),
            ProjectionExpression="job_id",
            Limit=limit,
        )
        return [str(item["job_id"]) for item in page.get("Items", [])]

    def recent_render_seconds(self, limit: int) -> list[float]:
        """processing -> processed seconds of the `limit` most recently created processed jobs."""
        page = self._table.query(
            IndexName=BY_STATUS_INDEX,
            KeyConditionExpression=Key("status").eq(JobStatus.PROCESSED.value),
            ProjectionExpression="started_at, finished_at",
            ScanIndexForward=False,
            Limit=limit,
        )
        seconds = []
        for item in page.get("Items", []):
            start, end = item.get("started_at"), item.get("finished_at")
            if start and end:
                seconds.append((_parse_time(end) - _parse_time(start)).total_seconds())
        return [s for s in seconds if s >= 0]

    def queued_jobs(self, user_id: str, created_since: str) -> list[Job]:
        """The user's queued jobs created at or after `created_since`, oldest first (submission order).

        Reads the by_user index, which is eventually consistent: callers re-read a row before
        acting on it. Jobs older than `created_since` cannot have a live execution any more.
        """
        query: dict[str, Any] = {
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": Key("user_id").eq(user_id) & Key("created_at").gte(created_since),
            "FilterExpression": Attr("status").eq(JobStatus.QUEUED.value),
            "ScanIndexForward": True,
        }
        jobs: list[Job] = []
        while True:
            page = self._table.query(**query)
            jobs.extend(Job.model_validate(from_dynamo(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return jobs
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- creating and deleting ---------------------------------------------------------------

    def create(self, job: Job) -> Job:
        """A job row with no reservation (a job without one never runs: the workflow fails it)."""
        self._table.put_item(Item=self._item(job), ConditionExpression="attribute_not_exists(job_id)")
        return job

    def create_reserved(self, job: Job, signup_credits: int | None = None) -> Job:
        """Reserve the job's price on its user and write the row, in one transaction.

        The user's `reserved_credits` grows by the price only if `credits - reserved_credits`
        covers it; the check is optimistic (the transaction requires the reserved amount it read),
        so concurrent submissions of one user can never reserve more than the user has.
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
            reserved_now = (
                "(attribute_not_exists(reserved_credits) OR reserved_credits = :reserved)"
                if user.reserved_credits == 0
                else "reserved_credits = :reserved"
            )
            try:
                _transact(
                    [
                        {
                            "Update": {
                                "TableName": self.users.table_name,
                                "Key": {"user_id": {"S": job.user_id}},
                                "UpdateExpression": "SET reserved_credits = :after",
                                "ConditionExpression": f"credits >= :after AND {reserved_now}",
                                "ExpressionAttributeValues": {
                                    ":reserved": {"N": str(user.reserved_credits)},
                                    ":after": {"N": str(user.reserved_credits + price)},
                                },
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": {k: _serializer.serialize(v) for k, v in self._item(job).items()},
                                "ConditionExpression": "attribute_not_exists(job_id)",
                            }
                        },
                    ],
                    # One token per attempt: each attempt's items differ (the amounts read), and a
                    # token reused with other items is refused (IdempotentParameterMismatch).
                    token=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job.job_id}/{attempt}")),
                )
            except ClientError as exc:
                if not is_cancelled_transaction(exc):
                    raise
                # A retry of a call that had committed (its reply lost) fails on the job's own row:
                # the reservation is made, and another round would only end in a 503.
                existing = self.find(job.job_id)
                if (
                    existing is not None
                    and existing.user_id == job.user_id
                    and existing.reservation == Reservation.HELD
                ):
                    return existing
                # The user's balance or reservations changed meanwhile (another request of the
                # same user): back off a random while, so the racing requests spread out, and read again.
                if attempt < MAX_RESERVE_ATTEMPTS - 1:
                    time.sleep(random.uniform(0, RESERVE_BACKOFF_S * 2**attempt))
                continue
            return job
        raise ConcurrentRequests(
            "too many requests of this user changed its credits at once; retry after a second",
            details={"retry_after_s": ConcurrentRequests.retry_after_s},
        )

    def delete(self, job_id: str, user_id: str) -> None:
        try:
            self._table.delete_item(
                Key={"job_id": job_id},
                ConditionExpression="user_id = :uid",
                ExpressionAttributeValues={":uid": user_id},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFound("song not found") from None
            raise

    # --- the job's life in the workflow -------------------------------------------------------

    def save_slot_token(self, job_id: str, token: str) -> bool:
        """Park the AcquireSlot token on a queued job; False when the job is no longer queued."""
        return self._conditional_set(job_id, {"slot_token": token}, JobStatus.QUEUED)

    def set_stage(self, job_id: str, stage: str) -> bool:
        """False when the job is no longer processing (canceled meanwhile): nothing written."""
        return self._conditional_set(job_id, {"stage": stage}, JobStatus.PROCESSING)

    def claim_invocation(self, job_id: str, token: str, input_location: str) -> str | None:
        """Store the Generate task's token on a processing job before SageMaker is called.

        Returns the claim (a timestamp) when this call is the job's first attempt, which must
        then call InvokeEndpointAsync; None when an earlier attempt already did (a retried task):
        only the token changes then, and the invocation already running completes it.
        Raises JobStateConflict when the job is not processing.
        """
        now = utc_now()
        try:
            response = self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET task_token = :token, inference_input = :input, stage = :stage, "
                "invocation_started_at = if_not_exists(invocation_started_at, :now), updated_at = :now",
                ConditionExpression="#s = :processing",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":token": token,
                    ":input": input_location,
                    ":stage": "generating",
                    ":now": now,
                    ":processing": JobStatus.PROCESSING.value,
                },
                # The row as it was: whether an earlier attempt had claimed the invocation.
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise JobStateConflict(f"job {job_id} is not processing") from None
            raise
        return None if "invocation_started_at" in response.get("Attributes", {}) else now

    def withdraw_invocation(self, job_id: str, claim: str) -> None:
        """SageMaker refused the invocation (nothing runs): let a retried task invoke again."""
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="REMOVE invocation_started_at",
                ConditionExpression="invocation_started_at = :claim",
                ExpressionAttributeValues={":claim": claim},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def clear_task_token(self, job_id: str, token: str) -> None:
        """The Generate task was completed with `token`: later notifications find nothing waiting."""
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="REMOVE task_token",
                ConditionExpression="task_token = :token",
                ExpressionAttributeValues={":token": token},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def mark_failed(self, job_id: str, code: str, message: str) -> bool:
        """Fail a job unless it already finished. Returns False when it had already finished."""
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #s = :failed, stage = :stage, #e = :error, updated_at = :now",
                ConditionExpression="attribute_exists(job_id) AND #s IN (:queued, :processing)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={
                    ":failed": JobStatus.FAILED.value,
                    ":stage": "failed",
                    ":error": {"code": code, "message": message},
                    ":queued": JobStatus.QUEUED.value,
                    ":processing": JobStatus.PROCESSING.value,
                    ":now": utc_now(),
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def fail_and_release(self, job_id: str, code: str, message: str) -> bool:
        """Fail a queued job and give its reserved price back, in one transaction (the API, when no
        workflow could be started: two separate writes could leave a failed job holding credits).
        True if this call did; False if the job had already ended or holds no reservation."""
        job = self.find(job_id)
        if job is None or job.reservation != Reservation.HELD or not job.price_credits:
            return False
        return self._release_with(
            job,
            "SET #s = :failed, stage = :stage, #e = :error, reservation = :released, updated_at = :now",
            "#s IN (:queued, :processing)",
            {"#e": "error"},
            {
                ":failed": {"S": JobStatus.FAILED.value},
                ":stage": {"S": "failed"},
                ":error": typed({"code": code, "message": message}),
                ":queued": {"S": JobStatus.QUEUED.value},
                ":processing": {"S": JobStatus.PROCESSING.value},
            },
            token=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job_id}/fail")),
        )

    def mark_canceled(self, job_id: str, user_id: str, error: JobError) -> Job | None:
        """The owner's queued or processing job becomes canceled; returns it, or None when the job
        was not active any more (finished or already canceled: the caller re-reads it).

        The status condition is what keeps a canceled job from being charged: the workflow's
        charge transaction requires `processing`, and every later step requires its own status.
        """
        try:
            response = self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #s = :canceled, stage = :stage, #e = :error, updated_at = :now",
                ConditionExpression="user_id = :uid AND #s IN (:queued, :processing)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={
                    ":canceled": JobStatus.CANCELED.value,
                    ":stage": "canceled",
                    ":error": error.model_dump(),
                    ":uid": user_id,
                    ":queued": JobStatus.QUEUED.value,
                    ":processing": JobStatus.PROCESSING.value,
                    ":now": utc_now(),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return Job.model_validate(from_dynamo(response["Attributes"]))

    # --- the reservation: captured on success, released otherwise, each at most once ----------

    def capture(self, job_id: str, result: JobResult) -> bool:
        """Charge the reserved price and complete the job, atomically: the job becomes
        `processed` with its result and `charged = true`, the user's credits and reserved credits
        both drop by the price. True if this call charged; False if an earlier call already did
        (a retry after a lost response). Raises JobStateConflict when the job can no longer be
        completed (failed, canceled or never reserved)."""
        job = self.get(job_id)
        if job.reservation == Reservation.CAPTURED:
            return False
        if job.status != JobStatus.PROCESSING or job.reservation != Reservation.HELD or not job.price_credits:
            raise JobStateConflict(f"job {job_id} is {job.status.value}, reservation {job.reservation}")
        price = {"N": str(job.price_credits)}
        now = {"S": utc_now()}
        try:
            _transact(
                [
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"job_id": {"S": job_id}},
                            "UpdateExpression": "SET #s = :processed, stage = :stage, #r = :result, "
                            "charged = :true, reservation = :captured, finished_at = :now, updated_at = :now "
                            "REMOVE task_token",
                            "ConditionExpression": "#s = :processing AND reservation = :held "
                            "AND price_credits = :price",
                            "ExpressionAttributeNames": {"#s": "status", "#r": "result"},
                            "ExpressionAttributeValues": {
                                ":processed": {"S": JobStatus.PROCESSED.value},
                                ":processing": {"S": JobStatus.PROCESSING.value},
                                ":stage": {"S": "completed"},
                                ":result": typed(result.model_dump(mode="json", exclude_none=True)),
                                ":true": {"BOOL": True},
                                ":held": {"S": Reservation.HELD.value},
                                ":captured": {"S": Reservation.CAPTURED.value},
                                ":price": price,
                                ":now": now,
                            },
                        }
                    },
                    self._unreserve(job.user_id, price, charge=True),
                ]
            )
        except ClientError as exc:
            if not is_cancelled_transaction(exc):
                raise
            after = self.get(job_id)
            if after.reservation == Reservation.CAPTURED:
                return False
            if after.status != JobStatus.PROCESSING or after.reservation != Reservation.HELD:
                raise JobStateConflict(f"job {job_id} is {after.status.value}") from None
            raise  # a conflict with another write: the caller retries
        return True

    def release_reservation(self, job_id: str) -> bool:
        """Give a failed or canceled job's reserved price back to its user. True if this call did;
        False if there is nothing to release (released already, captured, never reserved, or the
        job has not ended uncharged). Every path that ends a job without a song calls this."""
        job = self.find(job_id)
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
        try:
            _transact(
                [
                    {
                        "Update": {
                            "TableName": self.table_name,
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
                    },
                    self._unreserve(job.user_id, price, charge=False),
                ],
                token=token,
            )
        except ClientError as exc:
            if not is_cancelled_transaction(exc):
                raise
            after = self.find(job.job_id)
            if after is None or after.reservation != Reservation.HELD:
                return False  # someone else released it first
            if after.status != job.status and after.status not in UNFINISHED:
                return False  # it ended meanwhile (e.g. canceled), by a path that releases
            raise  # a conflict with another write: the caller retries
        return True

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

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _item(job: Job) -> dict[str, Any]:
        return to_dynamo(job.model_dump(mode="json", exclude_none=True))

    def _conditional_set(self, job_id: str, values: dict[str, Any], required: JobStatus) -> bool:
        """SET `values` if the job is in status `required`; False (nothing written) otherwise."""
        names = {f"#a{i}": name for i, name in enumerate(values)} | {"#s": "status"}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(values)))
        attr_values = {f":v{i}": value for i, value in enumerate(values.values())}
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=f"SET {assignments}, updated_at = :now",
                ConditionExpression="#s = :required",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values | {":now": utc_now(), ":required": required.value},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True


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
