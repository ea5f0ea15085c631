"""The SageMaker inference HTTP contract: GET /ping and POST /invocations.

Standard-library ThreadingHTTPServer: /ping must answer while a song is generating (SageMaker
health-checks during long invocations), and one lock serialises the GPU work, which is also what
an async endpoint sends by default (one request at a time per instance).
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from .errors import BadRequest, NotFound, NotReady, PayloadTooLarge, ServiceError, ValidationFailed
from .models import Models
from .pipeline import SongPipeline
from .schemas import parse_request

log = logging.getLogger(__name__)


class App:
    """Server state: the models once loaded, and the lock around generation."""

    def __init__(self, max_body_bytes: int = 1_000_000) -> None:
        self.max_body_bytes = max_body_bytes
        self._pipeline: SongPipeline | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._pipeline is not None

    def set_models(self, models: Models) -> None:
        self._pipeline = SongPipeline(models)

    def invoke(self, body: bytes) -> dict[str, Any]:
        data = _decode_json(body)
        try:
            request = parse_request(data)
        except ValidationError as exc:
            raise ValidationFailed("the request is not valid", _details(exc)) from None
        if self._pipeline is None:
            raise NotReady("models are still loading")
        with self._lock:
            log.info("job %s: mode=%s duration=%.1fs", request.job_id, request.mode, request.duration_s)
            manifest = self._pipeline.run(request)
        log.info("job %s: done in %.1fs", request.job_id, manifest.timings.total_s)
        return manifest.model_dump(mode="json")


def _details(exc: ValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        if not field and error["type"].startswith("union_tag"):
            field = "mode"  # the discriminator itself is missing or unknown
        details.append({"field": field, "message": error["msg"], "type": error["type"]})
    return details


def _decode_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


class Handler(BaseHTTPRequestHandler):
    server: AppServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/ping":
            self._error(NotFound(f"no route GET {self.path}"))
        elif self.server.app.ready:
            self._send(HTTPStatus.OK, {"status": "ok"})
        else:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "loading"})

    def do_POST(self) -> None:
        try:
            if self.path.split("?")[0] != "/invocations":
                raise NotFound(f"no route POST {self.path}")
            self._send(HTTPStatus.OK, self.server.app.invoke(self._body()))
        except ServiceError as exc:
            self._error(exc)
        except Exception:
            # Last resort: a bug in our code still answers (and keeps the server up).
            log.exception("unexpected error")
            self._error(ServiceError("unexpected server error"))

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise BadRequest("invalid Content-Length") from None
        if length < 0:
            # rfile.read(-1) would wait for the client to close: a stuck handler, not an answer.
            self.close_connection = True
            raise BadRequest("invalid Content-Length")
        if length > self.server.app.max_body_bytes:
            # The body is left unread, so the connection cannot carry another request: close it.
            self.close_connection = True
            raise PayloadTooLarge(f"the body is larger than {self.server.app.max_body_bytes} bytes")
        return self.rfile.read(length)

    def _error(self, exc: ServiceError) -> None:
        if exc.status >= 500:
            log.error("request failed: %s: %s", exc.code, exc.message)
        self._send(HTTPStatus(exc.status), exc.body())

    def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, Handler)
