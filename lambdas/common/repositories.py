"""Data access for the jobs and users tables. Every write that guards an invariant is conditional."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from . import aws
from .errors import InvalidRequest, NotFound
from .models import Job, JobError, JobStatus, User, utc_now
from .settings import get_settings

BY_USER_INDEX = "by_user"
BY_STATUS_INDEX = "by_status"


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


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


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
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("next_token is not valid") from None
    if (
        not isinstance(key, dict)
        or set(key) != expected_keys
        or not all(isinstance(v, str) for v in key.values())
    ):
        raise InvalidRequest("next_token is not valid")
    return key


class JobRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or get_settings().jobs_table_name)

    def create(self, job: Job) -> Job:
        self._table.put_item(
            Item=to_dynamo(job.model_dump(exclude_none=True)),
            ConditionExpression="attribute_not_exists(job_id)",
        )
        return job

    def find(self, job_id: str) -> Job | None:
        row = self._read(job_id)
        return Job.model_validate(row) if row else None

    def _read(self, job_id: str) -> dict[str, Any] | None:
        """The job's row as plain JSON values (a strongly consistent read), or None."""
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def read_row(self, job_id: str) -> dict[str, Any] | None:
        """The whole row, attributes outside the Job model included (e.g. webhook delivery records)."""
        return self._read(job_id)

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

    def count_by_status(self, status: JobStatus, created_from: str, created_to: str, limit: int) -> int:
        """Jobs in `status` created in [created_from, created_to], counted up to `limit`."""
        return len(self.ids_by_status(status, created_from, created_to, limit))

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


class UserRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or get_settings().users_table_name)

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

    def webhook_secret(self, user_id: str, new_secret: str) -> str:
        """The user's webhook signing secret; the first call stores `new_secret` (two concurrent first
        calls agree on one). It lives on the user row: the table is encrypted at rest (KMS), and the
        secret is never logged.
        """
        response = self._table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="SET webhook_secret = if_not_exists(webhook_secret, :secret)",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":secret": new_secret},
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

    def add_credits(self, user_id: str, amount: int) -> int:
        """Grant (or, with a negative amount, revoke) credits; returns the new balance."""
        # A revocation may not take the balance below zero.
        response = self._table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="ADD credits :amount",
            ConditionExpression="attribute_exists(user_id) AND credits >= :floor",
            ExpressionAttributeValues={":amount": amount, ":floor": max(0, -amount)},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["credits"])
