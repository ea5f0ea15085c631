"""`POST /uploads`, `GET /uploads/{id}`, `DELETE /uploads/{id}`: hand out a presigned POST form,
report the check's result, delete an upload.

The browser sends the file straight to S3 with the form (the API never carries audio); the upload
check (lambdas/upload_check) decodes and measures it when it lands and moves the row from
`pending` to `ready` or `rejected`.

Quota per user (checked per request, so parallel requests can pass it by a few): forms whose
files are not checked yet (`upload_max_pending`, counted while a form could still be used or its
file checked) and checked uploads that have not expired (`upload_max_stored`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lambdas.common.clock import new_job_id, utc_timestamp
from lambdas.common.contract import UPLOAD_FORM_TTL_S
from lambdas.common.errors import InvalidBody, TooManyPendingUploads, UploadInUse, UploadQuotaExceeded
from lambdas.common.models import UNFINISHED
from lambdas.common.observability import logger
from lambdas.common.settings import ApiSettings
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import UploadsBucket
from lambdas.common.store.uploads import UploadStore
from lambdas.common.uploads import UploadRequest, UploadStatus, new_upload

from ..schemas import UploadCreated, UploadDetail

# A pending upload counts against the quota while its form can be used and its file checked.
CHECK_GRACE_S = 15 * 60


@dataclass(frozen=True)
class UploadService:
    settings: ApiSettings
    uploads: UploadStore
    objects: UploadsBucket
    jobs: JobStore

    def create(self, user_id: str, request: UploadRequest) -> UploadCreated:
        limit = self.settings.upload_max_bytes
        if request.size_bytes > limit:
            raise InvalidBody(
                "the file is too large",
                [
                    {
                        "field": "body.size_bytes",
                        "message": f"files up to {limit // (1024 * 1024)} MB ({limit} bytes) are accepted",
                        "type": "less_than_equal",
                    }
                ],
            )
        self._check_quota(user_id)
        upload = new_upload(
            user_id,
            new_job_id(),
            request.filename,
            request.content_type,
            request.size_bytes,
            self.settings.upload_expiry_days,
        )
        # The row first: the check may run as soon as the file lands, and it needs the row.
        self.uploads.create(upload)
        ttl = UPLOAD_FORM_TTL_S
        form = self.objects.presigned_post(upload.key, upload.content_type, upload.size_bytes, ttl)
        logger.info("upload form issued", extra={"upload_id": upload.upload_id, "size": request.size_bytes})
        return UploadCreated(
            upload_id=upload.upload_id,
            url=form["url"],
            fields=form["fields"],
            expires_at=utc_timestamp(datetime.now(UTC) + timedelta(seconds=ttl)),
            max_duration_s=self.settings.upload_max_duration_seconds,
        )

    def get(self, user_id: str, upload_id: str) -> UploadDetail:
        return UploadDetail.from_upload(self.uploads.get_for_user(upload_id, user_id))

    def delete(self, user_id: str, upload_id: str) -> None:
        """Delete an upload: its row, then its object. Songs made from it keep their own audio;
        one still queued or processing needs it, so that is a 409 until it ends."""
        upload = self.uploads.get_for_user(upload_id, user_id)
        if upload.active_jobs:
            in_flight = sorted(j for j in upload.active_jobs if _in_flight(self.jobs, j))
            if in_flight:
                raise _in_use(upload_id, in_flight)
            # Listed songs that ended unprocessed (or never started) do not hold it.
            self.uploads.forget_jobs(upload_id, set(upload.active_jobs))
        if not self.uploads.delete(upload_id, user_id):
            raise _in_use(upload_id, [])  # a song was requested from it just now
        self.objects.delete(upload.key)
        logger.info("upload deleted", extra={"upload_id": upload_id})

    def _check_quota(self, user_id: str) -> None:
        now = datetime.now(UTC)
        live = self.uploads.live_for_user(user_id, calendar.timegm(now.utctimetuple()))
        recent = utc_timestamp(now - timedelta(seconds=UPLOAD_FORM_TTL_S + CHECK_GRACE_S))
        pending = sum(1 for status, created in live if status is UploadStatus.PENDING and created >= recent)
        most = self.settings.upload_max_pending
        if pending >= most:
            raise TooManyPendingUploads(
                f"{pending} of your uploads are not checked yet (at most {most}): upload their files, "
                "or retry once their forms expire",
                details={"pending": pending, "limit": most},
            )
        stored = sum(1 for status, _ in live if status is UploadStatus.READY)
        if stored >= self.settings.upload_max_stored:
            raise UploadQuotaExceeded(
                f"you keep {stored} uploads (at most {self.settings.upload_max_stored}): delete ones you "
                "no longer need with DELETE /uploads/{upload_id}, or wait until unused ones expire",
                details={"stored": stored, "limit": self.settings.upload_max_stored},
            )


def _in_flight(jobs: JobStore, job_id: str) -> bool:
    job = jobs.find(job_id)
    return job is not None and job.status in UNFINISHED


def _in_use(upload_id: str, song_ids: list[str]) -> UploadInUse:
    return UploadInUse(
        "a song is being made from this upload; delete it once the song is processed, failed or canceled",
        details={"upload_id": upload_id, "song_ids": song_ids},
    )
