"""The song as clients see it, without download URLs: one definition for GET /songs/{id} (which adds
the URLs) and the lifecycle events and webhooks (which carry no URLs: they are per request and expire).
"""

from __future__ import annotations

from typing import Any

from .models import Job, JobResult, JobStatus


def summary_fields(job: Job) -> dict[str, Any]:
    """What every listing shows of a job."""
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "stage": job.step.value,
        "mode": str(job.request.get("mode", "")),
        "title": job.request.get("title"),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "error": job.error.model_dump() if job.error else None,
        "price_credits": job.price_credits,
    }


def song_fields(job: Job) -> dict[str, Any]:
    """The summary, the accepted request and, once processed, what was made (JSON values only)."""
    fields = {
        **summary_fields(job),
        "request": job.request,
        "source": _source_fields(job),
        "persona_id": job.persona.persona_id if job.persona else None,
    }
    result = job.result
    if job.status is JobStatus.PROCESSED and result is not None:
        fields.update(
            lyrics=result.lyrics,
            prompt=result.prompt,
            categories=result.categories,
            seed=result.seed,
            takes=take_fields(result) or None,
            best_take=result.best_take,
            duration_s=result.duration_s,
            persona_reference=result.persona.model_dump() if result.persona else None,
        )
    return fields


def take_fields(result: JobResult) -> list[dict[str, Any]]:
    """`[{"take": k, "seed", "rank", "analysis", "scores"}]` in take order: each take of the song's
    audio and each measured one (a stems song has one measured take, the analysis of its stems'
    mix); rank, analysis and scores are null on rows from before measuring."""
    seeds = result.seeds or [result.seed]
    measured = {m.take: m for m in result.takes}
    takes = sorted({a.take for a in result.audio if a.track is None} | set(measured))
    fields = []
    for k in takes:
        m = measured.get(k)
        fields.append(
            {
                "take": k,
                "seed": seeds[k - 1] if k <= len(seeds) else None,
                "rank": m.rank if m else None,
                "analysis": m.analysis.model_dump() if m else None,
                "scores": m.scores.model_dump() if m else None,
            }
        )
    return fields


def _source_fields(job: Job) -> dict[str, Any] | None:
    """Audio-in songs: the source's ids and length only; where it lies in S3 is the service's business."""
    source = job.source
    if source is None:
        return None
    return {"upload_id": source.upload_id, "song_id": source.song_id, "duration_s": source.duration_s}
