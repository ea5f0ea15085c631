"""What the REST API does, independent of HTTP: the routes (lambdas/api/routes.py) call these, the
errors they raise are lambdas/common/errors.py classes (lambdas/api/http_errors.py maps them)."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.common.business_metrics import BusinessMetrics
from lambdas.common.contract import PRESIGNED_URL_TTL_S
from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.settings import ApiSettings
from lambdas.common.store.api_keys import ApiKeyStore
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.objects import MediaBucket, UploadsBucket
from lambdas.common.store.personas import PersonaStore
from lambdas.common.store.uploads import UploadStore
from lambdas.common.store.users import UserStore

from .api_keys import ApiKeyService
from .executions import Executions
from .personas import PersonaService
from .songs import SongService
from .sources import SourceResolver
from .uploads import UploadService
from .users import UserService


@dataclass(frozen=True)
class Services:
    songs: SongService
    users: UserService
    uploads: UploadService
    personas: PersonaService
    api_keys: ApiKeyService

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Services:
        """Built once, at the API function's cold start."""
        s = settings
        jobs, users, media = (
            JobStore(s.jobs_table_name),
            UserStore(s.users_table_name),
            MediaBucket(s.media_bucket_name, PRESIGNED_URL_TTL_S),
        )
        uploads, upload_objects = UploadStore(s.uploads_table_name), UploadsBucket(s.uploads_bucket_name)
        sources = SourceResolver(jobs, uploads, upload_objects, media, s.stems_enabled, s.upload_expiry_days)
        personas = PersonaService(
            PersonaStore(s.personas_table_name),
            sources,
            media,
            jobs,
            max_per_user=s.persona_max_per_user,
            workflow_timeout_s=s.workflow_timeout_seconds,
        )
        songs = SongService(
            s,
            CreditLedger(jobs, users),
            media,
            Executions(s.state_machine_arn),
            sources,
            personas,
            LifecycleEvents(s.event_bus_name),
            BusinessMetrics(s.stage_name),
        )
        api_keys = ApiKeyService(
            ApiKeyStore(s.api_keys_table_name, s.users_table_name),
            users,
            signup_credits=s.signup_credits,
            max_per_user=s.api_key_max_per_user,
        )
        return cls(
            songs,
            UserService(users, s.signup_credits),
            UploadService(s, uploads, upload_objects, jobs),
            personas,
            api_keys,
        )

    @property
    def upload_max_bytes(self) -> int:
        """The largest upload this deployment takes (the OpenAPI document it serves states it)."""
        return self.uploads.settings.upload_max_bytes
