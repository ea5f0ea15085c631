"""One webhook receiver for the tests: a real HTTP server on 127.0.0.1 that records each delivery
and answers as scripted."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records each delivery (`requests` in order, `deliveries` per path: lower-cased headers, the
    body, the status answered). Answers 200, or: the next of `statuses` (any path), 500 to the n-th
    request of a path with `fail_nth[path] = n` (1-based), after `delay_s` seconds."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.deliveries: dict[str, list[dict[str, Any]]] = {}
        self.statuses: list[int] = []
        self.fail_nth: dict[str, int] = {}
        self.delay_s = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = {
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "path": self.path,
                }
                with receiver._lock:
                    receiver.requests.append(delivery)
                    got = receiver.deliveries.setdefault(self.path, [])
                    got.append(delivery)
                    scripted = receiver.statuses.pop(0) if receiver.statuses else 200
                    delivery["status"] = 500 if receiver.fail_nth.get(self.path) == len(got) else scripted
                time.sleep(receiver.delay_s)
                self.send_response(delivery["status"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, path: str, count: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        """The deliveries to `path`, once there are `count`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                got = list(self.deliveries.get(path, []))
            if len(got) >= count:
                return got
            time.sleep(0.2)
        raise TimeoutError(f"{path}: {len(got)} deliveries, expected {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
