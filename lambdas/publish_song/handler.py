"""Workflow task Publish: copy the generated media into the media bucket under the job's keys."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import instrumented
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import PublishSongSettings
from lambdas.workflow.dependencies import publisher
from lambdas.workflow.events import PublishTask

cold_start = ColdStart(PublishSongSettings, publisher)


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = PublishTask.received(event)
    if task.midi is not None:
        return cold_start.dependencies().publish_midi(task.job_id, task.user_id, task.midi, task.result)
    assert task.manifest is not None
    return cold_start.dependencies().publish(task.job_id, task.user_id, task.manifest)
