"""What the REST API does, independent of HTTP: the routes (lambdas/api/routes.py) call these, the
errors they raise are lambdas/common/errors.py classes (lambdas/api/http_errors.py maps them)."""

from __future__ import annotations

from dataclasses import dataclass

from .api_keys import ApiKeyService
from .songs import SongService
from .uploads import UploadService
from .users import UserService


@dataclass(frozen=True)
class Services:
    songs: SongService
    users: UserService
    uploads: UploadService
    api_keys: ApiKeyService

    @property
    def upload_max_bytes(self) -> int:
        """The largest upload this deployment takes (the OpenAPI document it serves states it)."""
        return self.uploads.settings.upload_max_bytes
