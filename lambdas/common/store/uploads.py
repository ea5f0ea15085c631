"""The uploads table: a source track's row, its check result, the songs that keep it, its expiry.

Retention: an upload is kept only while a processed song made from it exists (`songs`). Songs in
flight are listed in `active_jobs` (DELETE /uploads refuses then, 409) but do not stop its expiry:
a song canceled or failed leaves it to expire as if it had never been used. When the last song
made from it is deleted, it expires `upload_expiry_days` after it was uploaded again (at once if
that is past): S3's lifecycle rule counts from the object's creation, and the row says the same.
The object's retention tag follows the row (`sync_retention_tag`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from ..clock import utc_now
from ..contract import UNUSED_TAG, UPLOADS_BY_USER, USED_TAG
from ..measurements import TakeAnalysis
from ..uploads import Upload, UploadStatus, expiry
from .dynamo import TableStore, conditional, owned, query_all, set_clause, to_dynamo
from .objects import UploadsBucket


class UploadStore(TableStore):
    def create(self, upload: Upload) -> Upload:
        # DynamoDB holds no empty sets: the two reference sets appear with their first member.
        item = upload.model_dump(mode="json", exclude_none=True, exclude={"active_jobs", "songs"})
        self._table.put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(upload_id)")
        return upload

    def find(self, upload_id: str) -> Upload | None:
        item = self._get({"upload_id": upload_id})
        return Upload.model_validate(item) if item else None

    def get_for_user(self, upload_id: str, user_id: str) -> Upload:
        """Another user's upload is indistinguishable from a missing one."""
        return owned(self.find(upload_id), user_id, "upload")

    # --- the check's result ------------------------------------------------------------------

    def mark_ready(
        self,
        upload_id: str,
        *,
        fmt: str,
        duration_s: float,
        sample_rate: int,
        channels: int,
        etag: str,
        analysis: TakeAnalysis | None = None,
    ) -> bool:
        """pending -> ready with the measurements (and the analysis, when there is one); False when
        it was no longer pending."""
        values: dict[str, Any] = {
            "format": fmt,
            "duration_s": duration_s,
            "sample_rate": sample_rate,
            "channels": channels,
            "etag": etag,
        }
        if analysis is not None:
            values["analysis"] = analysis.model_dump(mode="json")
        return self._finish(upload_id, UploadStatus.READY, values)

    def mark_rejected(self, upload_id: str, code: str, message: str) -> bool:
        """pending -> rejected with a reason; False when it was no longer pending."""
        return self._finish(upload_id, UploadStatus.REJECTED, {"error": {"code": code, "message": message}})

    def reject_replaced(self, upload_id: str, checked_etag: str) -> bool:
        """ready -> rejected when the checked object was overwritten; False if already handled."""
        message = "the file was replaced after it was checked; upload it again with a new form"
        return self._finish(
            upload_id,
            UploadStatus.REJECTED,
            {"error": {"code": "Replaced", "message": message}},
            required=UploadStatus.READY,
            etag=checked_etag,
        )

    # --- songs made from it ------------------------------------------------------------------

    def start_job(self, upload_id: str, user_id: str, job_id: str) -> bool:
        """A song is being made from the upload (DELETE /uploads refuses while it is in flight).
        Only a ready upload of the user: False otherwise (deleted or replaced meanwhile)."""
        return conditional(
            lambda: self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression="ADD active_jobs :job SET updated_at = :now",
                ConditionExpression="user_id = :uid AND #s = :ready",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":job": {job_id},
                    ":now": utc_now(),
                    ":uid": user_id,
                    ":ready": UploadStatus.READY.value,
                },
            )
        )

    def forget_jobs(self, upload_id: str, job_ids: set[str]) -> None:
        """Songs no longer in flight (they ended unprocessed, or never started): off `active_jobs`."""
        self._update_existing(upload_id, "DELETE active_jobs :jobs", {":jobs": job_ids})

    def keep_for_song(self, upload_id: str, job_id: str) -> bool:
        """A processed song was made from the upload: no expiry while it exists. Idempotent;
        False when the upload is gone (deleted by its owner meanwhile)."""
        return self._update_existing(
            upload_id,
            "ADD songs :job DELETE active_jobs :job SET used = :true, updated_at = :now "
            "REMOVE expires_at, expires_at_epoch",
            {":job": {job_id}, ":true": True, ":now": utc_now()},
        )

    def release_song(self, upload_id: str, job_id: str, expiry_days: int) -> bool:
        """The song made from the upload was deleted. With no processed song left, the upload
        expires `expiry_days` after it was made, as S3's rule counts (at once if that is past).
        Returns whether it expires now (False: still kept, or gone)."""
        if not self._update_existing(
            upload_id,
            "DELETE songs :job, active_jobs :job SET updated_at = :now",
            {":job": {job_id}, ":now": utc_now()},
        ):
            return False
        upload = self.find(upload_id)
        if upload is None or upload.songs:
            return False
        expires_at, epoch = expiry(
            datetime.fromisoformat(upload.created_at.replace("Z", "+00:00")), expiry_days
        )
        return conditional(
            lambda: self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression="SET used = :false, expires_at = :at, expires_at_epoch = :epoch",
                # A song processed meanwhile keeps it after all.
                ConditionExpression="attribute_exists(upload_id) AND attribute_not_exists(songs)",
                ExpressionAttributeValues={":false": False, ":at": expires_at, ":epoch": epoch},
            )
        )

    def delete(self, upload_id: str, user_id: str) -> bool:
        """Delete the row unless a song is (again) in flight from it; False if one is."""
        return self._delete_owned({"upload_id": upload_id}, user_id, also="attribute_not_exists(active_jobs)")

    def live_for_user(self, user_id: str, now_epoch: int) -> list[tuple[UploadStatus, str]]:
        """(status, created_at) of the user's uploads that have not expired (rows TTL has not
        removed yet do not count). Reads only the small index items, page by page."""
        items = query_all(
            self._table,
            IndexName=UPLOADS_BY_USER.name,
            KeyConditionExpression=Key("user_id").eq(user_id),
            FilterExpression=Attr("expires_at_epoch").not_exists() | Attr("expires_at_epoch").gt(now_epoch),
            ProjectionExpression="#s, created_at",
            ExpressionAttributeNames={"#s": "status"},
        )
        return [(UploadStatus(i["status"]), str(i["created_at"])) for i in items]

    # --- helpers --------------------------------------------------------------------------------

    def _update_existing(self, upload_id: str, expression: str, values: dict[str, Any]) -> bool:
        return conditional(
            lambda: self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(upload_id)",
                ExpressionAttributeValues=values,
            )
        )

    def _finish(
        self,
        upload_id: str,
        status: UploadStatus,
        values: dict[str, Any],
        required: UploadStatus = UploadStatus.PENDING,
        etag: str | None = None,
    ) -> bool:
        """SET status and `values` if the row is in status `required` (and has `etag`, if given)."""
        assignments, names, attr_values = set_clause(to_dynamo(values))
        condition = "attribute_exists(upload_id) AND #s = :required"
        if etag is not None:
            condition += " AND etag = :etag"
            attr_values[":etag"] = etag
        return conditional(
            lambda: self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression=f"SET #s = :status, updated_at = :now, {assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names | {"#s": "status"},
                ExpressionAttributeValues=attr_values
                | {":status": status.value, ":now": utc_now(), ":required": required.value},
            )
        )


def sync_retention_tag(uploads: UploadStore, objects: UploadsBucket, upload_id: str) -> None:
    """Make the object's retention tag say what the row says: USED_TAG while a processed song
    keeps the upload, UNUSED_TAG otherwise. Every writer of `songs` calls this after its own row
    change, and re-reads after each tag it writes until the two agree, so with writers racing
    the last tag written is the last row state's."""
    written = None
    for _ in range(4):
        upload = uploads.find(upload_id)
        if upload is None:
            return  # deleted: its object goes with it
        wanted = USED_TAG if upload.songs else UNUSED_TAG
        if wanted == written or not objects.tag(upload.key, wanted):
            return  # agreed, or the object is gone
        written = wanted
