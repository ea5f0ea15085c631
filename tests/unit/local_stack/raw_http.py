"""Raw HTTP for requests a well-behaved client library refuses to send (bad Content-Length, ...)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def raw_request(url: str, request: bytes, timeout_s: float = 5) -> tuple[bytes, bytes]:
    """Send `request` as is to the server of `url`; (status line + headers, body) once it closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body
