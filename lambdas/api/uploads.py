"""`POST /uploads` and `GET /uploads/{id}`: hand out a presigned POST form, report the check's result.

The browser sends the file straight to S3 with the form (the API never carries audio); the upload
check (lambdas/upload_check) decodes and measures it when it lands and moves the row from
`pending` to `ready` or `rejected`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lambdas.common.errors import InvalidBody
from lambdas.common.models import new_job_id, utc_timestamp
from lambdas.common.observability import logger
from lambdas.common.settings import Settings, get_settings
from lambdas.common.uploads import UploadObjects, UploadRepository, UploadRequest, new_upload

from .schemas import UploadCreated, UploadDetail


class UploadService:
    def __init__(
        self,
        *,
        settings: Settings | None = None,
        uploads: UploadRepository | None = None,
        objects: UploadObjects | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.uploads = uploads or UploadRepository(self.settings.uploads_table_name)
        self.objects = objects or UploadObjects(self.settings.uploads_bucket_name)

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
        ttl = self.settings.upload_form_ttl_s
        form = self.objects.presigned_post(upload, ttl)
        logger.info("upload form issued", extra={"upload_id": upload.upload_id, "size": request.size_bytes})
        return UploadCreated(
            upload_id=upload.upload_id,
            url=form["url"],
            fields=form["fields"],
            expires_at=utc_timestamp(datetime.now(UTC) + timedelta(seconds=ttl)),
            max_duration_s=self.settings.upload_max_duration_s,
        )

    def get(self, user_id: str, upload_id: str) -> UploadDetail:
        return UploadDetail.from_upload(self.uploads.get_for_user(upload_id, user_id))
