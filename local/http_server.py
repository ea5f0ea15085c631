"""A threaded HTTP server on a local port, run in a background thread (the local stack's fronts)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class BadContentLength(Exception):
    """The request's Content-Length cannot be honored: answer `status` at once, without reading."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(handler: BaseHTTPRequestHandler, max_bytes: int) -> bytes:
    """The request body, by its Content-Length.

    A negative or non-numeric length is a 400 and one over `max_bytes` a 413, both raised before
    anything is read: `rfile.read(-1)` would wait for the client to close, and a wrong length
    would leave the connection out of step. Either way the connection is closed after the answer.
    """
    raw = (handler.headers.get("Content-Length") or "0").strip()
    if not (raw.isascii() and raw.isdigit()):  # also refuses "-1", "+5" and "1e3"
        handler.close_connection = True
        raise BadContentLength(400, "invalid Content-Length")
    length = int(raw)
    if length > max_bytes:
        handler.close_connection = True
        raise BadContentLength(413, "Request Too Long")
    return handler.rfile.read(length) if length else b""


class BackgroundHttpServer:
    """Serves `handler_class`, bound to `attributes` (e.g. the object it fronts), one thread a request."""

    def __init__(
        self,
        handler_class: type[BaseHTTPRequestHandler],
        attributes: dict[str, Any],
        *,
        port: int,
        host: str,
        name: str,
    ) -> None:
        handler = type("BoundHandler", (handler_class,), attributes)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self.host, self.port = self._server.server_address[:2]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
