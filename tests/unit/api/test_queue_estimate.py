"""queue_position and eta_s of a queued song (GET /songs/{id})."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from lambdas.common.clock import utc_timestamp
from lambdas.common.models import JobStatus
from lambdas.common.store.jobs import JobStore
from tests import factories
from tests.factories import put_job

# The test stage's: a day's workflow timeout, one endpoint instance (one song renders at a time).
LIMITS = {"workflow_timeout_s": 86400, "renderers": 1}


def _at(seconds_ago: float) -> str:
    return utc_timestamp(datetime.now(UTC) - timedelta(seconds=seconds_ago))


def _rendered(table: str, seconds: float, created_ago: float) -> None:
    job = put_job("someone", JobStatus.PROCESSED, created_at=_at(created_ago))
    boto3.resource("dynamodb").Table(table).update_item(
        Key={"job_id": job.job_id},
        UpdateExpression="SET started_at = :s, finished_at = :f",
        ExpressionAttributeValues={":s": _at(created_ago - 1), ":f": _at(created_ago - 1 - seconds)},
    )


def test_position_counts_processing_and_older_queued_songs_of_everyone(api, aws_env) -> None:
    put_job("bob", JobStatus.PROCESSING, created_at=_at(50))
    put_job("carol", JobStatus.QUEUED, created_at=_at(40))
    put_job("alice", JobStatus.QUEUED, created_at=_at(30))
    mine = put_job("alice", JobStatus.QUEUED, created_at=_at(20))
    put_job("dave", JobStatus.QUEUED, created_at=_at(10))  # behind me
    put_job("erin", JobStatus.FAILED, created_at=_at(60))
    put_job("old", JobStatus.QUEUED, created_at=_at(3 * 86400))  # no live execution any more

    song = api.call("GET", f"/songs/{mine.job_id}").body
    assert song["queue_position"] == 3
    assert song["eta_s"] is None  # nothing rendered yet

    _rendered(aws_env.jobs_table, 30, created_ago=500)
    _rendered(aws_env.jobs_table, 50, created_ago=400)
    _rendered(aws_env.jobs_table, 40, created_ago=300)
    song = api.call("GET", f"/songs/{mine.job_id}").body
    assert song["eta_s"] == 4 * 40  # three ahead + itself, one at a time, median 40 s


def test_the_eta_divides_by_the_instances_that_can_render(api, aws_env, monkeypatch) -> None:
    """Each instance's container renders one song at a time: two instances render two at once,
    however many invocations SageMaker hands one instance."""
    from lambdas.common import runtime

    mine = put_job("alice", JobStatus.QUEUED, created_at=_at(20))
    for _ in range(3):
        put_job("bob", JobStatus.QUEUED, created_at=_at(30))
    _rendered(aws_env.jobs_table, 40, created_ago=300)
    monkeypatch.setenv("ENDPOINT_MAX_INSTANCES", "2")
    runtime.reset_all()
    assert api.call("GET", f"/songs/{mine.job_id}").body["eta_s"] == 2 * 40  # ceil(4 / 2) rounds


def test_the_first_in_line_and_other_statuses(api, aws_env) -> None:
    first = put_job("alice", JobStatus.QUEUED)
    assert api.call("GET", f"/songs/{first.job_id}").body["queue_position"] == 0
    running = put_job("alice", JobStatus.PROCESSING)
    song = api.call("GET", f"/songs/{running.job_id}").body
    assert song["queue_position"] is None and song["eta_s"] is None


def test_a_song_that_started_between_the_reads_is_next(api, aws_env) -> None:
    """GET read the row while queued; by the time the index is read the song is processing."""
    from lambdas.api.services.queue_estimate import estimate

    put_job("bob", JobStatus.QUEUED, created_at=_at(30))
    stale = put_job("alice", JobStatus.QUEUED, created_at=_at(20))
    boto3.resource("dynamodb").Table(aws_env.jobs_table).update_item(
        Key={"job_id": stale.job_id},
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": "processing"},
    )
    assert estimate(stale, factories.jobs(), **LIMITS)["queue_position"] == 0


def test_a_song_ahead_that_starts_between_the_reads_is_still_counted(api, aws_env) -> None:
    """The position never dips: a song moving queued -> processing mid-estimate counts once."""
    from lambdas.api.services.queue_estimate import estimate

    put_job("bob", JobStatus.PROCESSING, created_at=_at(40))
    ahead = put_job("carol", JobStatus.QUEUED, created_at=_at(30))
    mine = put_job("alice", JobStatus.QUEUED, created_at=_at(20))
    table = boto3.resource("dynamodb").Table(aws_env.jobs_table)

    class StartsMidway(JobStore):
        def ids_by_status(self, status, created_from, created_to, limit):
            ids = super().ids_by_status(status, created_from, created_to, limit)
            table.update_item(  # carol's song starts right after the first read
                Key={"job_id": ahead.job_id},
                UpdateExpression="SET #s = :p",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":p": "processing"},
            )
            return ids

    assert estimate(mine, StartsMidway(aws_env.jobs_table), **LIMITS)["queue_position"] == 2
