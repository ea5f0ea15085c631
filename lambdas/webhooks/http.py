"""One webhook POST to an already checked address (see lambdas/common/url_safety.py).

The connection goes to `target.address`, never to a second DNS answer; TLS still checks the
certificate against the URL's host name (SNI + hostname verification). No redirects, no retries
here (the queue schedules retries), a short timeout, and at most a few KiB of the answer is read.
"""

from __future__ import annotations

import urllib3

from lambdas.common.url_safety import Target

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
MAX_RESPONSE_BYTES = 4096
USER_AGENT = "song-service-webhooks/1"


def post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST `body`; returns the HTTP status. Raises urllib3 errors on timeouts and connection failures."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:  # http: local development only, to the loopback interface (checked by the caller)
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            response.read(MAX_RESPONSE_BYTES)  # a receiver cannot make us read a large answer
        finally:
            response.release_conn()
        return int(response.status)
    finally:
        pool.close()
