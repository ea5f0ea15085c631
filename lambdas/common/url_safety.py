"""Webhook URLs that cannot be turned against us (SSRF).

Rules: https only, on port 443 (the default) or 8443; a host name that can resolve (IDNA, no
percent-encoding) or a public IP address; no user info; only printable characters. The port rule
keeps webhooks off every other service a public host runs (SSH on 22, SMTP on 25, databases,
admin consoles): a webhook is an HTTPS endpoint, and 8443 is the one alternative HTTPS port in
common use. The authoritative check runs at delivery time on every
address the host resolves to (`resolve_target`): each must be a global unicast address (not
private, loopback, link-local (the 169.254.169.254 metadata service), shared/CGNAT, multicast,
reserved, unspecified, documentation, ...), IPv4 addresses embedded in IPv6 (mapped, 6to4, NAT64,
Teredo) are checked as IPv4, and the request then goes to exactly the checked address (no second
lookup, so DNS rebinding cannot swap it), without following redirects.

Numeric host spellings that resolvers accept (`2130706433`, `0177.0.0.1`, `0x7f.1`) resolve to
the address they mean, so they are judged by it; at submission they are parsed the same way.

Local development (the local stack) may allow http to the loopback interface with the
`webhook_allow_http_loopback` setting; the deployed stack never sets it. The API applies its
setting to the requests it validates with `http_loopback_allowed` (request models cannot be
handed settings).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_URL_CHARS = 2048
HTTPS_PORTS = (443, 8443)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_submitted_http_loopback: ContextVar[bool] = ContextVar("webhook_http_loopback", default=False)


class UnsafeUrl(ValueError):
    """The URL (or what it resolves to) is not a place webhooks may go."""


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the checked address, and the names the request carries."""

    scheme: str
    host: str  # the host name from the URL (TLS SNI, certificate check, Host header)
    port: int
    path: str  # path and query
    address: str  # the resolved, checked IP address the connection goes to

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, Teredo client), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """A global unicast address, also when it is an IPv4 address inside an IPv6 one."""
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host spelling means (dotted, decimal, octal, hex, IPv6), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # inet_aton accepts what C resolvers accept: 2130706433, 0177.0.0.1, 0x7f.1, 127.1.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True)
class _Parts:
    scheme: str
    host: str
    port: int
    path: str


def _split(url: str, allow_http_loopback: bool) -> _Parts:
    if len(url) > MAX_URL_CHARS:
        raise UnsafeUrl(f"must be at most {MAX_URL_CHARS} characters")
    # isprintable() is False for control, format and separator characters (U+00A0, U+2028, ...),
    # but True for the ASCII space.
    if " " in url or not url.isprintable():
        raise UnsafeUrl("must not contain spaces, control or other non-printable characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http_loopback):
        raise UnsafeUrl("must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not contain user info")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("must name a host")
    if "%" in host:  # resolvers do not decode it; IPv6 zone ids (%eth0) are not public either
        raise UnsafeUrl("must not percent-encode the host")
    try:
        # The name the resolver is asked for: empty or over-long labels can never resolve.
        host.encode("idna")
    except UnicodeError:
        raise UnsafeUrl("must name a valid host (no empty labels or labels over 63 characters)") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    port = port or (443 if scheme == "https" else 80)
    if scheme == "https" and port not in HTTPS_PORTS:
        raise UnsafeUrl(f"must use port 443 (the default) or 8443, not {port}")
    return _Parts(scheme, host, port, path)


def _allowed(address: IPAddress, scheme: str, allow_http_loopback: bool) -> bool:
    if allow_http_loopback and address.is_loopback:
        return True
    return scheme == "https" and is_public(address)


@contextmanager
def http_loopback_allowed(allowed: bool) -> Iterator[None]:
    """While active, `check_submitted_url` without an explicit allowance uses `allowed`."""
    token = _submitted_http_loopback.set(allowed)
    try:
        yield
    finally:
        _submitted_http_loopback.reset(token)


def check_submitted_url(url: str, allow_http_loopback: bool | None = None) -> str:
    """What can be checked without DNS when a song is submitted (the delivery checks again)."""
    if allow_http_loopback is None:
        allow_http_loopback = _submitted_http_loopback.get()
    parts = _split(url, allow_http_loopback)
    literal = numeric_host(parts.host)
    if literal is not None:
        if not _allowed(literal, parts.scheme, allow_http_loopback):
            raise UnsafeUrl("must not point at a private, loopback, link-local or reserved address")
    elif parts.host.lower() == "localhost" or parts.host.lower().endswith((".localhost", ".internal")):
        raise UnsafeUrl("must name a public host")
    elif parts.scheme == "http":
        raise UnsafeUrl("http is only allowed to 127.0.0.1 in local development")
    return url


def resolve_target(
    url: str, allow_http_loopback: bool = False, resolver: Resolver = socket.getaddrinfo
) -> Target:
    """Resolve the URL's host now and check every address; the delivery connects to the first.

    Raises UnsafeUrl for a URL that must never be called, OSError (socket.gaierror) when the name
    does not resolve right now (worth a retry).
    """
    check_submitted_url(url, allow_http_loopback)
    parts = _split(url, allow_http_loopback)
    infos = resolver(parts.host, parts.port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise socket.gaierror(f"{parts.host} has no addresses")
    # Every address must pass: a name with one public and one private address is refused.
    for address in addresses:
        if not _allowed(address, parts.scheme, allow_http_loopback):
            raise UnsafeUrl(f"{parts.host} resolves to a non-public address")
    return Target(parts.scheme, parts.host, parts.port, parts.path, str(addresses[0]))
