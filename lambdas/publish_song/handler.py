"""Workflow task Publish: copy the generated media into the media bucket under the job's keys."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import PublishSongSettings
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import MediaBucket, ScratchBucket
from lambdas.workflow.events import PublishTask
from lambdas.workflow.publish import Publisher


def build(settings: PublishSongSettings) -> Publisher:
    return Publisher(
        JobStore(settings.jobs_table_name),
        ScratchBucket(settings.inference_bucket_name),
        MediaBucket(settings.media_bucket_name),
    )


cold_start = ColdStart(PublishSongSettings, build)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    publisher = cold_start.dependencies()
    task = PublishTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id)
    if task.midi is not None:
        return publisher.publish_midi(task.job_id, task.user_id, task.midi, task.result)
    assert task.manifest is not None
    return publisher.publish(task.job_id, task.user_id, task.manifest)
