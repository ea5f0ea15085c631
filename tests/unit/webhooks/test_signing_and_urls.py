"""Standard Webhooks signatures, the SSRF rules for webhook URLs, the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import socket
from itertools import pairwise

import pytest

from lambdas.common.url_safety import (
    UnsafeUrl,
    check_submitted_url,
    is_public,
    numeric_host,
    resolve_target,
)
from lambdas.webhooks import signing
from lambdas.webhooks.schedule import MAX_ATTEMPTS, RETRY_SCHEDULE_S, retry_delay_s
from lambdas.webhooks.secret import new_secret, secret_key

# --- signing -----------------------------------------------------------------------------------


def test_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_key(secret)) == 32
    assert new_secret() != secret


def test_signature_matches_an_independent_hmac() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"type":"song.processed"}'
    headers = signing.signed_headers(secret, "msg_1", 1_700_000_000, body)
    expected = hmac.new(key, b'msg_1.1700000000.{"type":"song.processed"}', hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(expected).decode(),
    }


def test_the_standard_webhooks_reference_vector() -> None:
    # The example of the Standard Webhooks spec (spec/standard-webhooks.md, "Signature scheme").
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    got = signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_message_id_is_stable_per_song_and_type() -> None:
    a = signing.message_id("job-1", "song.processed")
    assert a == signing.message_id("job-1", "song.processed")
    assert a != signing.message_id("job-1", "song.failed")
    assert a.startswith("msg_")


def test_a_secret_without_the_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        secret_key("c2VjcmV0")
    with pytest.raises(ValueError):  # nor is a damaged one signed with a garbled key
        signing.signature("whsec_c2Vj*cmV0", "msg_1", 1_700_000_000, b"{}")


# --- URLs at submission ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/songs",
        "https://hooks.example.com:8443/a?b=c",
        "https://hooks.example.com:443/a",
        "https://8.8.8.8/x",
        "https://[2606:4700:4700::1111]/x",
        "https://b\u00fccher.example/caf\u00e9",  # an IDN host, a non-ASCII path
        "https://hooks.example.com./x",  # the root's trailing dot
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert check_submitted_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",  # not https
        "ftp://hooks.example.com/",
        "https://user:pw@hooks.example.com/",  # user info
        "https:///nohost",
        "https://localhost/",
        "https://metadata.google.internal/",
        "https://127.0.0.1/",
        "https://10.1.2.3/",
        "https://169.254.169.254/latest/meta-data/",  # the metadata service
        "https://[::1]/",
        "https://[fd00:ec2::254]/",  # the metadata service over IPv6
        "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://2130706433/",  # decimal 127.0.0.1
        "https://0177.0.0.1/",  # octal
        "https://0x7f.1/",  # hex, short form
        "https://0xa9fea9fe/",  # 169.254.169.254 in hex
        "https://100.64.0.1/",  # shared address space (CGNAT)
        "https://224.0.0.1/",  # multicast
        "https://240.0.0.1/",  # reserved
        "https://0.0.0.0/",
        "https://hooks.example.com/\nx",
        # Hosts that can never resolve, and characters no client can send as written.
        "https://a..b.com/",  # an empty label
        "https://" + "a" * 64 + ".example.com/",  # a label over 63 characters
        "https://hooks\u2028example.com/",  # a line separator in the host
        "https://%31%32%37.0.0.1/",  # a percent-encoded host
        "https://hooks.example.com/a\u00a0b",  # a no-break space in the path
        "https://hooks.example.com/\u200bx",  # a zero-width space (a format character)
        "https://" + "a" * 2050 + ".com/",
        # Ports other than HTTPS's: a webhook must not reach SSH, mail or a database on a public host.
        "https://hooks.example.com:22/",
        "https://hooks.example.com:25/",
        "https://8.8.8.8:5432/x",
        "https://hooks.example.com:80/",
        "https://hooks.example.com:8080/",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_submitted_url(url)


def test_http_to_loopback_only_with_the_local_setting() -> None:
    assert check_submitted_url("http://127.0.0.1:9000/hook", allow_http_loopback=True)
    with pytest.raises(UnsafeUrl):
        check_submitted_url("http://127.0.0.1:9000/hook")
    with pytest.raises(UnsafeUrl):
        check_submitted_url("http://hooks.example.com/", allow_http_loopback=True)
    with pytest.raises(UnsafeUrl):
        check_submitted_url("http://10.0.0.1/", allow_http_loopback=True)


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("::1", "::1")],
)
def test_numeric_host_spellings(host: str, address: str) -> None:
    assert numeric_host(host) == ipaddress.ip_address(address)
    assert numeric_host("hooks.example.com") is None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::", False),
        ("::ffff:10.0.0.1", False),
        ("192.0.2.1", False),  # documentation
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


# --- URLs at delivery: the resolved address decides --------------------------------------------


def _resolver(*addresses: str):
    def resolve(host: str, port: int, **_: object) -> list[tuple]:
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return resolve


def test_delivery_goes_to_the_checked_address() -> None:
    target = resolve_target("https://hooks.example.com/a?b=1", resolver=_resolver("93.184.216.34"))
    assert (target.address, target.host, target.port, target.path) == (
        "93.184.216.34",
        "hooks.example.com",
        443,
        "/a?b=1",
    )
    assert target.host_header == "hooks.example.com"


@pytest.mark.parametrize(
    "addresses",
    [("127.0.0.1",), ("169.254.169.254",), ("93.184.216.34", "10.0.0.7"), ("::ffff:192.168.0.1",)],
)
def test_a_name_that_resolves_to_a_private_address_is_refused(addresses: tuple[str, ...]) -> None:
    # DNS rebinding: the name looked public at submission and resolves privately now.
    with pytest.raises(UnsafeUrl):
        resolve_target("https://rebind.example.com/", resolver=_resolver(*addresses))


def test_a_decimal_host_is_judged_by_what_the_system_resolver_makes_of_it() -> None:
    with pytest.raises(UnsafeUrl):
        resolve_target("https://2130706433/")  # the real getaddrinfo: 127.0.0.1


def test_local_loopback_delivery() -> None:
    target = resolve_target("http://127.0.0.1:8123/hook", allow_http_loopback=True)
    assert (target.scheme, target.address, target.port, target.host_header) == (
        "http",
        "127.0.0.1",
        8123,
        "127.0.0.1:8123",
    )


# --- retries -----------------------------------------------------------------------------------


def test_retry_schedule_is_exponential_and_lasts_about_a_day() -> None:
    delays = [retry_delay_s(n, jitter=0) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:-1] == list(RETRY_SCHEDULE_S) and delays[-1] is None
    assert all(b >= a for a, b in pairwise(delays[:-1]))
    assert 20 * 3600 < sum(RETRY_SCHEDULE_S) < 30 * 3600
    assert max(RETRY_SCHEDULE_S) <= 43200  # SQS's visibility timeout limit


def test_retry_jitter_stays_within_ten_percent() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(RETRY_SCHEDULE_S, start=1):
        delay = retry_delay_s(attempt, rng=rng)
        assert delay is not None and abs(delay - base) <= base * 0.1 + 1
