"""A client's webhook endpoint for the tests (the sender's unit tests, the local stack's e2e tests):
an HTTP server on 127.0.0.1 that records every POST and answers as scripted. It checks signatures
as a client would, with the Standard Webhooks library's own `Webhook.verify`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what the receiver answered
    arrived_at: float  # time.monotonic()

    def verifies(self, secret: str) -> bool:
        """Whether the library accepts this delivery (signature and timestamp) for `secret`."""
        try:
            Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return False
        return True


class WebhookReceiver:
    """Records deliveries. `script(path, *statuses)` sets the answers to the next requests to
    `path`, in order; after them (and on other paths) it answers `default_status`. `delay_s`
    holds every answer back that long."""

    def __init__(self, default_status: int = 204) -> None:
        self.default_status = default_status
        self.delay_s = 0.0
        self._deliveries: list[Delivery] = []
        self._scripts: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived_at = time.monotonic()
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver._record(self.path, dict(self.headers.items()), body, arrived_at)
                time.sleep(receiver.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def script(self, path: str, *statuses: int) -> None:
        with self._lock:
            self._scripts[path] = list(statuses)

    def received(self, path: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if path is None or d.path == path]

    def wait_for(self, path: str, count: int, timeout_s: float = 60) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.2)
        raise TimeoutError(f"{path}: {len(got)} deliveries, expected {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _record(self, path: str, headers: dict[str, str], body: bytes, arrived_at: float) -> int:
        with self._lock:
            script = self._scripts.get(path)
            status = script.pop(0) if script else self.default_status
            lowered = {name.lower(): value for name, value in headers.items()}
            self._deliveries.append(Delivery(path, lowered, body, status, arrived_at))
        return status


@contextmanager
def running_receiver(default_status: int = 204) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(default_status)
    try:
        yield receiver
    finally:
        receiver.close()
