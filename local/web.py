"""The web app on a local port: web/dist as CloudFront would serve it, plus a config.json for this stack.

Like the deployed distribution: files from the build, every other path answers index.html (the
app routes on the client), the same security headers and CSP (stacks/web_headers.py) with the
local API and moto's Cognito and S3 (media and uploads) as the allowed origins.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from local.http_server import BackgroundHttpServer, QuietHandler
from local.paths import REPO_ROOT
from stacks.web_headers import REFERRER_POLICY, content_security_policy

log = logging.getLogger(__name__)

DIST_DIR = REPO_ROOT / "web" / "dist"
# moto's Cognito accepts any confirmation code and sends no e-mail; the real pool e-mails one.
CONFIRMATION_HINT = "Local stack: no e-mail is sent and any code is accepted (Cognito runs in moto)."


@dataclass(frozen=True)
class WebSettings:
    api_url: str
    region: str
    user_pool_id: str
    client_id: str
    cognito_endpoint: str  # moto's URL: Cognito, presigned media URLs and upload forms point there

    def config_json(self) -> dict[str, Any]:
        """What stacks/web.py writes to config.json on AWS, pointed at this stack."""
        return {
            "apiUrl": self.api_url.rstrip("/") + "/",
            "region": self.region,
            "userPoolId": self.user_pool_id,
            "userPoolClientId": self.client_id,
            "userPoolEndpoint": self.cognito_endpoint,
            # moto's SRP challenge does not verify the password proof; USER_PASSWORD_AUTH does.
            "authFlow": "USER_PASSWORD_AUTH",
            "confirmationHint": CONFIRMATION_HINT,
        }

    def headers(self) -> dict[str, str]:
        csp = content_security_policy(
            api_origins=[_origin(self.api_url)],
            auth_origins=[self.cognito_endpoint],
            media_origins=[self.cognito_endpoint],
            upload_origins=[self.cognito_endpoint],
        )
        return {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": REFERRER_POLICY,
        }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _WebHandler(QuietHandler):
    settings: WebSettings
    dist: Path
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == "/config.json":
            body = json.dumps(self.settings.config_json()).encode()
            return self._send(200, body, "application/json", "no-store", send_body)
        index = self.dist / "index.html"
        if not index.is_file():
            body = b"The web app is not built: run `make web` (npm ci + vite build in web/).\n"
            return self._send(503, body, "text/plain; charset=utf-8", "no-store", send_body)
        file = self._file(path)
        if file is None:  # client-side route: the app decides (as CloudFront's 403/404 -> index.html)
            return self._send(200, index.read_bytes(), "text/html; charset=utf-8", "no-cache", send_body)
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        # Vite names assets by content hash: cache forever; anything else revalidates.
        cache = "public, max-age=31536000, immutable" if "/assets/" in path else "no-cache"
        self._send(200, file.read_bytes(), content_type, cache, send_body)

    def _file(self, path: str) -> Path | None:
        candidate = (self.dist / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.dist.resolve()) or not candidate.is_file():
            return None
        return candidate

    def _send(self, status: int, body: bytes, content_type: str, cache: str, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", cache)
        for name, value in self.settings.headers().items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class WebServer(BackgroundHttpServer):
    def __init__(self, settings: WebSettings, port: int = 0, host: str = "127.0.0.1", dist: Path = DIST_DIR):
        super().__init__(_WebHandler, {"settings": settings, "dist": dist}, port=port, host=host, name="web")

    @property
    def url(self) -> str:
        return f"{self.base_url}/"
