"""Where a queued song stands: `queue_position` (songs ahead of it for the GPU) and `eta_s`.

- queue_position = songs being processed now (on or waiting at the GPU endpoint) + songs queued
  before this one (every user's; they reach the GPU first). Only songs younger than the workflow
  timeout count (older ones have no live execution). Counted up to MAX_COUNTED each.
- eta_s = seconds until this song is likely done: rounds of renders ahead of it and its own,
  `ceil((queue_position + 1) / renderers) * typical render time`, the typical render time being
  the median processing -> processed time of the RECENT_RENDERS most recent songs (null until a
  song was rendered). `renderers` is the endpoint's largest instance count: each instance's
  container renders one request at a time (song_model/server.py), so that many songs render at
  once at the most. A rough guide: it assumes the endpoint has scaled out, and ignores the
  per-user limit, which can hold a user's later songs back.

Cost per GET of a queued song: three Queries of the jobs table's by_status index, each reading at
most MAX_COUNTED (or RECENT_RENDERS) index items of ~100 bytes, eventually consistent: about
1.5 read units in all (~0.5 each), whatever the length of the queue. Other statuses cost nothing.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

from lambdas.common.clock import utc_timestamp
from lambdas.common.models import Job, JobStatus
from lambdas.common.store.jobs import JobStore

MAX_COUNTED = 100
RECENT_RENDERS = 20


def estimate(job: Job, jobs: JobStore, *, workflow_timeout_s: int, renderers: int) -> dict[str, int | None]:
    now = datetime.now(UTC)
    horizon = utc_timestamp(now - timedelta(seconds=workflow_timeout_s))
    # The queue up to this job first, then the processing set, counted as one set of ids: a song
    # that starts between the two reads is then seen once (in both), never in neither, so the
    # position cannot dip and rise again. If this job is no longer queued, it started: it is next.
    queued = jobs.ids_by_status(JobStatus.QUEUED, horizon, job.created_at, MAX_COUNTED + 1)
    processing = jobs.ids_by_status(JobStatus.PROCESSING, horizon, utc_timestamp(now), MAX_COUNTED)
    if job.job_id in queued:
        ahead = (set(queued) | set(processing)) - {job.job_id}
        position = min(len(ahead), MAX_COUNTED)
    elif len(queued) > MAX_COUNTED:
        position = MAX_COUNTED  # too far back to see itself within the bound
    else:
        position = 0
    renders = jobs.recent_render_seconds(RECENT_RENDERS)
    if not renders:
        return {"queue_position": position, "eta_s": None}
    rounds = math.ceil((position + 1) / max(renderers, 1))
    return {"queue_position": position, "eta_s": round(rounds * statistics.median(renders))}
