"""A threaded HTTP server on a local port, run in a background thread (the local stack's fronts)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
