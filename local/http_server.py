"""A threaded HTTP server on a local port, run in a background thread (the local stack's fronts)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class BadContentLength(Exception):
    """The request's body cannot be honored: answer `status` at once (see `refuse_body`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# A refused body is read and dropped, up to this much and this long, before the connection closes:
# closing a socket with unread data sends a reset, and a client still sending its body may then
# lose the answer instead of reading it (nginx's "lingering close").
DRAIN_MAX_BYTES = 64 * 1024 * 1024
DRAIN_MAX_S = 5.0
_CHUNK_LINE_MAX = 1024


def read_body(handler: BaseHTTPRequestHandler, max_bytes: int) -> bytes:
    """The request body, by its Content-Length or chunked Transfer-Encoding.

    A negative or non-numeric length is a 400 and one over `max_bytes` a 413, both raised before
    the body is read: `rfile.read(-1)` would wait for the client to close, and a wrong length
    would leave the connection out of step. A chunked body is decoded and refused (413) as soon
    as it grows past `max_bytes`. Either way the connection is closed after the answer.
    """
    encoding = handler.headers.get("Transfer-Encoding")
    if encoding is not None:
        handler.close_connection = True  # simpler than resynchronising on a refused or odd body
        if encoding.strip().lower() != "chunked" or handler.headers.get("Content-Length") is not None:
            raise BadContentLength(400, "only Transfer-Encoding: chunked, without Content-Length")
        return _read_chunked(handler, max_bytes)
    raw = (handler.headers.get("Content-Length") or "0").strip()
    if not (raw.isascii() and raw.isdigit()):  # also refuses "-1", "+5" and "1e3"
        handler.close_connection = True
        raise BadContentLength(400, "invalid Content-Length")
    length = int(raw)
    if length > max_bytes:
        handler.close_connection = True
        raise BadContentLength(413, "Request Too Long")
    return handler.rfile.read(length) if length else b""


def _read_chunked(handler: BaseHTTPRequestHandler, max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        line = handler.rfile.readline(_CHUNK_LINE_MAX + 1)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            size = -1
        if not line.endswith(b"\r\n") or size < 0:
            raise BadContentLength(400, "invalid chunked body")
        if size == 0:
            while handler.rfile.readline(_CHUNK_LINE_MAX + 1) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields: ignored
            return bytes(body)
        if len(body) + size > max_bytes:
            raise BadContentLength(413, "Request Too Long")
        chunk = handler.rfile.read(size)
        if len(chunk) != size or handler.rfile.read(2) != b"\r\n":
            raise BadContentLength(400, "invalid chunked body")
        body += chunk


def drain(handler: BaseHTTPRequestHandler) -> None:
    """After the answer to a refused body: read and drop what the client still sends (bounded),
    so closing the connection does not reset it before the client has read the answer."""
    handler.wfile.flush()
    connection = handler.connection
    deadline = time.monotonic() + DRAIN_MAX_S
    drained = 0
    try:
        connection.shutdown(socket.SHUT_WR)  # the answer is complete: the client sees its end
        while drained < DRAIN_MAX_BYTES and (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            data = connection.recv(65536)
            if not data:
                return
            drained += len(data)
    except OSError:
        return  # the client went away or stopped sending: nothing left to protect


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    """A whole JSON response: status line, headers, Content-Length, body."""
    raw = json.dumps(body).encode()
    handler.send_response(status)
    for name, value in {**(headers or {}), "Content-Type": "application/json"}.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


class QuietHandler(BaseHTTPRequestHandler):
    """Access lines go to the debug log (with the server's port), not to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("port %s: %s - %s", self.server.server_address[1], self.address_string(), format % args)


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

    @property
    def url(self) -> str:
        return self.base_url

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
