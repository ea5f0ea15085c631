"""Per-user concurrency: at most N running jobs per user, the rest start in submission order.

A job waits in the AcquireSlot state on a task token. It takes a slot itself when it is next in
line and a slot is free; otherwise a finishing job (or the reaper) hands its slot over by
acquiring it on the waiting job's behalf and completing that job's token (`wake_next`).
Both paths run the same check (`try_acquire`), so whichever runs first wins and the other sees
the slot already held. A wake-up lost to a race is caught by the AcquireSlot timeout, which
re-runs the check.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lambdas.common.models import UNFINISHED, Job, JobStatus, utc_now, utc_timestamp
from lambdas.common.observability import logger
from lambdas.common.repositories import JobRepository, UserRepository
from lambdas.common.settings import get_settings

from . import tokens
from .errors import JobNotFound, JobNotRunnable


def queue_horizon() -> str:
    """Queued jobs created before this have outlived the state machine's timeout: no live
    execution is behind them, so they no longer hold a place in the user's queue."""
    return utc_timestamp(datetime.now(UTC) - timedelta(seconds=get_settings().max_execution_s))


def acquire_or_wait(job_id: str, task_token: str) -> bool:
    """AcquireSlot task: True if the job holds a slot now (its token is completed)."""
    jobs = JobRepository()
    job = jobs.find(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} does not exist")
    if job.status not in UNFINISHED:
        raise JobNotRunnable(f"job {job_id} is {job.status.value}")
    slots = jobs.users
    if job_id in slots.slot_holders(job.user_id):
        # A retried or re-polled acquire of a job that already got its slot.
        tokens.send_success(task_token, {"acquired_at": utc_now()})
        return True
    if job.status != JobStatus.QUEUED or not jobs.save_slot_token(job_id, task_token):
        raise JobNotRunnable(f"job {job_id} is no longer queued")
    job.slot_token = task_token
    if try_acquire(job, jobs, slots):
        tokens.send_success(task_token, {"acquired_at": utc_now()})
        return True
    logger.info("job waits for a slot", extra={"job_id": job_id, "user_id": job.user_id})
    return False


def try_acquire(job: Job, jobs: JobRepository, slots: UserRepository) -> bool:
    """Take a slot for `job` if one is free and no older queued job of the user is still waiting."""
    limit = get_settings().max_concurrent_jobs_per_user
    holders = slots.slot_holders(job.user_id)
    if job.job_id in holders:
        return True
    free = limit - len(holders)
    if free <= 0:
        return False
    waiting = jobs.queued_jobs(job.user_id, queue_horizon())
    ahead = [
        other
        for other in waiting
        if other.job_id not in holders and (other.created_at, other.job_id) < (job.created_at, job.job_id)
    ]
    if len(ahead) >= free:
        return False
    return slots.acquire_slot(job.user_id, job.job_id, limit)


def wake_next(user_id: str) -> list[str]:
    """Hand free slots to the user's oldest waiting jobs; returns the job ids woken."""
    jobs = JobRepository()
    slots = jobs.users
    woken: list[str] = []
    for candidate in jobs.queued_jobs(user_id, queue_horizon()):
        job = jobs.find(candidate.job_id)  # the index may lag; the row does not
        if job is None or job.status != JobStatus.QUEUED:
            continue
        if not job.slot_token:
            break  # its execution has not reached AcquireSlot yet; it will check by itself
        if not try_acquire(job, jobs, slots):
            break  # no free slot left (or not this job's turn): later jobs must not pass it
        if tokens.send_success(job.slot_token, {"acquired_at": utc_now()}):
            woken.append(job.job_id)
    return woken
