"""Payloads the state machine sends to its Lambda tasks (see statemachines/song_generation.asl.json)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdas.common.observability import logger
from lambdas.common.request_fields import require_exactly_one


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)

    @classmethod
    def received(cls, event: dict[str, Any]) -> Self:
        """The task's payload, validated; its job and user go on every log line of the invocation."""
        task = cls.model_validate(event)
        logger.append_keys(job_id=task.job_id, user_id=task.user_id)
        return task


class TokenTask(_Payload):
    """AcquireSlot and Generate: the task waits until `task_token` is completed."""

    task_token: str = Field(min_length=1)


class PublishTask(_Payload):
    """Publish (`manifest`: the GPU's output) or PublishMidi (`midi`: the transcriber's files, and
    `result`: the song published before them, null for a transcription)."""

    manifest: dict[str, Any] | None = None
    midi: list[dict[str, Any]] | None = None
    result: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PublishTask:
        require_exactly_one(self, "manifest", "midi")
        return self


class FinalizeTask(_Payload):
    """ChargeAndComplete (outcome processed, with the published result) and HandleFailure."""

    outcome: Literal["processed", "failed"]
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class ExecutionStatusDetail(BaseModel):
    """`detail` of EventBridge's "Step Functions Execution Status Change" event."""

    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    input: str | None = None
