"""What the workflow's functions work with, built from their settings at their first invocation."""

from __future__ import annotations

from lambdas.common.business_metrics import BusinessMetrics
from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.settings import FinalizeJobSettings, ReaperSettings, UserQueueSettings
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.objects import MediaBucket, ScratchBucket, UploadsBucket
from lambdas.common.store.slots import SlotStore
from lambdas.common.store.uploads import UploadStore
from lambdas.common.store.users import UserStore

from .outcome import Outcomes
from .slots import UserQueue


def user_queue(settings: UserQueueSettings) -> UserQueue:
    jobs = JobStore(settings.jobs_table_name)
    slots = SlotStore(settings.users_table_name, settings.jobs_table_name)
    return UserQueue(
        jobs,
        slots,
        limit=settings.max_concurrent_jobs_per_user,
        workflow_timeout_s=settings.workflow_timeout_seconds,
    )


def outcomes(settings: FinalizeJobSettings | ReaperSettings) -> Outcomes:
    queue = user_queue(settings)
    uploads = None
    if isinstance(settings, FinalizeJobSettings):
        uploads = (UploadStore(settings.uploads_table_name), UploadsBucket(settings.uploads_bucket_name))
    return Outcomes(
        CreditLedger(queue.jobs, UserStore(settings.users_table_name)),
        queue,
        MediaBucket(settings.media_bucket_name),
        ScratchBucket(settings.inference_bucket_name),
        LifecycleEvents(settings.event_bus_name),
        BusinessMetrics(settings.stage_name),
        uploads,
    )
