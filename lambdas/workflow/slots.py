"""Per-user concurrency: at most N running jobs per user, the rest start in submission order.

A job waits in the AcquireSlot state on a task token. It takes a slot itself when it is next in
line and a slot is free; otherwise a finishing job (or the reaper) hands its slot over by
acquiring it on the waiting job's behalf and completing that job's token (`wake_next`).
Both paths run the same check (`try_acquire`), so whichever runs first wins and the other sees
the slot already held. A wake-up lost to a race is caught by the AcquireSlot timeout, which
re-runs the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lambdas.common.clock import utc_now, utc_timestamp
from lambdas.common.models import UNFINISHED, Job, JobStatus
from lambdas.common.observability import logger
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.slots import SlotStore

from . import tokens
from .errors import JobNotFound, JobNotRunnable


@dataclass(frozen=True)
class UserQueue:
    jobs: JobStore
    slots: SlotStore
    limit: int  # slots per user
    workflow_timeout_s: int

    def horizon(self) -> str:
        """Queued jobs created before this have outlived the state machine's timeout: no live
        execution is behind them, so they no longer hold a place in the user's queue."""
        return utc_timestamp(datetime.now(UTC) - timedelta(seconds=self.workflow_timeout_s))

    def acquire_or_wait(self, job_id: str, task_token: str) -> bool:
        """AcquireSlot task: True if the job holds a slot now (its token is completed)."""
        job = self.jobs.find(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} does not exist")
        if job.status not in UNFINISHED:
            raise JobNotRunnable(f"job {job_id} is {job.status.value}")
        if job_id in self.slots.holders(job.user_id):
            # A retried or re-polled acquire of a job that already got its slot.
            tokens.send_success(task_token, {"acquired_at": utc_now()})
            return True
        if job.status != JobStatus.QUEUED or not self.jobs.save_slot_token(job_id, task_token):
            raise JobNotRunnable(f"job {job_id} is no longer queued")
        job.slot_token = task_token
        if self.try_acquire(job):
            tokens.send_success(task_token, {"acquired_at": utc_now()})
            return True
        logger.info("job waits for a slot", extra={"job_id": job_id, "user_id": job.user_id})
        return False

    def try_acquire(self, job: Job) -> bool:
        """Take a slot for `job` if one is free and no older queued job of the user is still waiting."""
        holders = self.slots.holders(job.user_id)
        if job.job_id in holders:
            return True
        free = self.limit - len(holders)
        if free <= 0:
            return False
        waiting = self.jobs.queued_jobs(job.user_id, self.horizon())
        ahead = [
            other
            for other in waiting
            if other.job_id not in holders and (other.created_at, other.job_id) < (job.created_at, job.job_id)
        ]
        if len(ahead) >= free:
            return False
        return self.slots.acquire(job.user_id, job.job_id, self.limit)

    def release(self, user_id: str, job_id: str) -> tuple[bool, list[str]]:
        """Free the job's slot and hand free slots on: (whether this call freed it, the jobs woken)."""
        released = self.slots.release(user_id, job_id)
        return released, self.wake_next(user_id)

    def wake_next(self, user_id: str) -> list[str]:
        """Hand free slots to the user's oldest waiting jobs; returns the job ids woken."""
        woken: list[str] = []
        for candidate in self.jobs.queued_jobs(user_id, self.horizon()):
            job = self.jobs.find(candidate.job_id)  # the index may lag; the row does not
            if job is None or job.status != JobStatus.QUEUED:
                continue
            if not job.slot_token:
                break  # its execution has not reached AcquireSlot yet; it will check by itself
            if not self.try_acquire(job):
                break  # no free slot left (or not this job's turn): later jobs must not pass it
            if tokens.send_success(job.slot_token, {"acquired_at": utc_now()}):
                woken.append(job.job_id)
        return woken
