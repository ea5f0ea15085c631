"""One webhook POST to an already checked address (see lambdas/common/url_safety.py).

The connection goes to `target.address`, never to a second DNS answer; TLS still checks the
certificate against the URL's host name (SNI + hostname verification). No redirects, no retries
here (the queue schedules retries), and the response body is never read: the status line and the
headers are the answer.

A total deadline, not per-read timeouts: a socket timeout restarts with every byte, so a receiver
that trickles one byte every 2 s held a delivery for 78 s (issue 22). A watchdog timer shuts the
socket down when the delivery's deadline passes, which ends whatever is blocked on it (TCP
connect is bounded by its own timeout; the TLS handshake, sending the request and reading the
answer by the watchdog).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from lambdas.common.url_safety import Target

from .schedule import DELIVERY_DEADLINE_S

CONNECT_TIMEOUT_S = 3.0
USER_AGENT = "song-service-webhooks/1"
# What a failed exchange raises (besides DeadlineExceeded, itself an OSError).
DeliveryErrors = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class DeadlineExceeded(TimeoutError):
    """The receiver did not answer within the delivery's deadline."""


def post(target: Target, body: bytes, headers: dict[str, str], deadline: float | None = None) -> int:
    """POST `body`; returns the HTTP status. `deadline` is a time.monotonic() value (default: now +
    DELIVERY_DEADLINE_S). Raises DeadlineExceeded once it passes, or one of DeliveryErrors."""
    deadline = time.monotonic() + DELIVERY_DEADLINE_S if deadline is None else deadline
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded("the delivery's deadline passed before it could start")
    conn = _connection(target, min(CONNECT_TIMEOUT_S, remaining))
    watchdog = threading.Timer(remaining, _abort, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.connect()
        if conn.sock is not None:  # per read and write; the watchdog bounds the whole
            conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        status = int(conn.getresponse().status)
    except DeliveryErrors:
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"no answer within {DELIVERY_DEADLINE_S} s") from None
        raise
    finally:
        watchdog.cancel()
        conn.close()
    if time.monotonic() > deadline:  # the answer came as the watchdog fired
        raise DeadlineExceeded(f"no answer within {DELIVERY_DEADLINE_S} s")
    return status


def resolver_until(deadline: float) -> Callable[..., list[tuple[Any, ...]]]:
    """socket.getaddrinfo that gives up at `deadline` (DeadlineExceeded). The lookup itself cannot
    be interrupted: it goes on in a daemon thread and its answer is dropped."""

    def resolve(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        answer: dict[str, Any] = {}

        def lookup() -> None:
            try:
                answer["infos"] = socket.getaddrinfo(host, port, **kwargs)
            except (OSError, UnicodeError) as exc:
                answer["error"] = exc

        thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise DeadlineExceeded(f"{host} did not resolve within the delivery's deadline")
        if "error" in answer:
            raise answer["error"]
        return answer["infos"]

    return resolve


def _connection(target: Target, connect_timeout_s: float) -> HTTPConnection:
    if target.scheme == "https":
        return HTTPSConnection(
            target.address,
            target.port,
            timeout=connect_timeout_s,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    # http: local development only, to the loopback interface (checked by the caller)
    return HTTPConnection(target.address, target.port, timeout=connect_timeout_s)


def _abort(conn: HTTPConnection) -> None:
    """Shut the connection's socket down from the watchdog's thread: a blocked connect (TLS),
    send or receive returns at once. The plain socket call, also for a TLS socket: it acts on the
    descriptor and leaves the TLS object to the thread that is using it."""
    sock = conn.sock
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
