"""What the workflow's functions work with, built from their settings at their first invocation
(each handler's `ColdStart`)."""

from __future__ import annotations

from lambdas.common.business_metrics import BusinessMetrics
from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.settings import (
    FinalizeJobSettings,
    InferenceCallbackSettings,
    PublishSongSettings,
    ReaperSettings,
    StartInferenceSettings,
    UserQueueSettings,
)
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.objects import MediaBucket, ScratchBucket, UploadsBucket
from lambdas.common.store.slots import SlotStore
from lambdas.common.store.uploads import UploadStore
from lambdas.common.store.users import UserStore

from .generation import Generation, Notifications
from .outcome import Outcomes
from .publish import Publisher
from .slots import UserQueue


def user_queue(settings: UserQueueSettings) -> UserQueue:
    slots = SlotStore(settings.users_table_name, settings.jobs_table_name)
    limit, timeout_s = settings.max_concurrent_jobs_per_user, settings.workflow_timeout_seconds
    return UserQueue(JobStore(settings.jobs_table_name), slots, limit, timeout_s)


def outcomes(settings: FinalizeJobSettings | ReaperSettings) -> Outcomes:
    queue = user_queue(settings)
    uploads = None
    if isinstance(settings, FinalizeJobSettings):
        uploads = (UploadStore(settings.uploads_table_name), UploadsBucket(settings.uploads_bucket_name))
    ledger = CreditLedger(queue.jobs, UserStore(settings.users_table_name))
    buckets = MediaBucket(settings.media_bucket_name), ScratchBucket(settings.inference_bucket_name)
    events, metrics = LifecycleEvents(settings.event_bus_name), BusinessMetrics(settings.stage_name)
    return Outcomes(ledger, queue, *buckets, events, metrics, uploads)


def generation(settings: StartInferenceSettings) -> Generation:
    stores = JobStore(settings.jobs_table_name), ScratchBucket(settings.inference_bucket_name)
    events = LifecycleEvents(settings.event_bus_name)
    return Generation(*stores, events, settings.endpoint_name, settings.inference_timeout_seconds)


def notifications(settings: InferenceCallbackSettings) -> Notifications:
    return Notifications(JobStore(settings.jobs_table_name), ScratchBucket(settings.inference_bucket_name))


def publisher(settings: PublishSongSettings) -> Publisher:
    scratch = ScratchBucket(settings.inference_bucket_name)
    return Publisher(JobStore(settings.jobs_table_name), scratch, MediaBucket(settings.media_bucket_name))
