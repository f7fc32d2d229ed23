"""Where our notifications may go: a Subscription's ``channel.endpoint`` checked against server-side request
forgery, when it is written and again when each notification is sent.

A subscriber chooses the URL the worker will call from inside the clinic's network, so an endpoint on a
loopback, private (RFC 1918, ULA), link-local (the cloud metadata address 169.254.169.254 included), CGNAT,
multicast, reserved or unspecified address is refused, whether written as an address or as a name that resolves
to one: in short, every address that is not globally routable. In production the URL must be https.

The operator lets chosen receivers through with ``FHIRCRM_SUBSCRIPTIONS_ALLOWED_ENDPOINTS`` (host names, CIDRs
or URL prefixes): docker service names, a listener on the same host. A host name or URL prefix on the list is
trusted whatever it resolves to; a CIDR admits the addresses inside it.

Names are resolved again before every delivery (a name that pointed outside when the Subscription was written
may point inside later: DNS rebinding), and the request then goes to the address that was checked (``Target``),
with the name kept in the Host header and the TLS server name, so a second lookup cannot swap it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from fhircrm.config import Settings
from fhircrm.errors import Unprocessable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: (host, port) -> the addresses it resolves to; raises OSError when it does not resolve.
Resolver = Callable[[str, int], Awaitable[list[str]]]
EXPRESSION = "Subscription.channel.endpoint"
#: A slow resolver must not hold a write transaction (or a delivery) for long: after this, the name does not resolve.
RESOLVE_TIMEOUT_SECONDS = 5.0
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: an IPv4 address in the last 32 bits


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), off the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


#: The resolver in use. A seam: tests put a resolver of their own here to play DNS answers that change.
resolver: Resolver = system_resolver


class EndpointRefused(Exception):
    """The endpoint may not be called; ``reason`` is PHI-free (it names the address class, not the URL)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[Network, ...]
    prefixes: tuple[str, ...]

    @classmethod
    def of(cls, settings: Settings) -> Allowlist:
        hosts: set[str] = set()
        networks: list[Network] = []
        prefixes: list[str] = []
        for entry in (e.strip() for e in settings.subscriptions_allowed_endpoints):
            if not entry:
                continue
            if "://" in entry:
                prefixes.append(entry)
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks), tuple(prefixes))

    def trusts(self, url: str, host: str) -> bool:
        """The operator named this host or a prefix of this URL: no address check."""
        return host in self.hosts or any(_has_prefix(url, prefix) for prefix in self.prefixes)

    def admits(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: ``url`` (the checked address in place of a resolved name), with the ``host`` header and
    TLS server name of the original URL when they differ."""

    url: str
    host_header: str | None = None
    sni_hostname: str | None = None


def _has_prefix(url: str, prefix: str) -> bool:
    """``http://listener:8080`` covers ``http://listener:8080/hooks`` but not ``http://listener:80801``."""
    if not url.startswith(prefix):
        return False
    return len(url) == len(prefix) or prefix.endswith("/") or url[len(prefix)] in "/?#"


def disallowed(address: Address) -> str | None:
    """Why the address may not be called (None: a globally routable unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):  # an IPv4 address inside (mapped, 6to4, NAT64) counts as itself
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return disallowed(inner)
    for what, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared (CGNAT)", address in CGNAT),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return what
    if not address.is_global:  # documentation, benchmarking and other special-purpose ranges
        return "non-global"
    return None


def _parts(endpoint: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise EndpointRefused("the endpoint is not a valid URL") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise EndpointRefused("the endpoint must be an http(s) URL with a host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check(addresses: list[Address], allow: Allowlist) -> None:
    for address in addresses:
        why = disallowed(address)
        if why and not allow.admits(address):
            raise EndpointRefused(
                f"the endpoint's host is or resolves to a {why} address, which notifications may not be sent to"
                " (an operator may allow it with FHIRCRM_SUBSCRIPTIONS_ALLOWED_ENDPOINTS)"
            )


async def _addresses(host: str, port: int) -> list[Address]:
    try:
        found = await asyncio.wait_for(resolver(host, port), RESOLVE_TIMEOUT_SECONDS)
    except (OSError, TimeoutError):
        return []
    return [a for a in (_literal(text.split("%", 1)[0]) for text in found) if a is not None]


async def check_written(endpoint: str, settings: Settings) -> None:
    """At create and update: 422 naming ``Subscription.channel.endpoint`` when the endpoint is refused.

    A name that does not resolve now is accepted (the receiver may not be up yet): every delivery resolves it
    again and refuses it then."""
    try:
        scheme, host, port = _parts(endpoint)
        if settings.environment == "production" and scheme != "https":
            raise EndpointRefused("the endpoint must be an https URL in production")
        allow = Allowlist.of(settings)
        if allow.trusts(endpoint, host):
            return
        literal = _literal(host)
        _check([literal] if literal else await _addresses(host, port), allow)
    except EndpointRefused as refused:
        raise Unprocessable(refused.reason, expression=EXPRESSION) from None


async def target(url: str, settings: Settings) -> Target:
    """At delivery: where to send ``url`` (the full request URL), or ``EndpointRefused``; ``OSError`` when the
    name does not resolve (a transient failure, retried like a refused connection)."""
    scheme, host, port = _parts(url)
    if settings.environment == "production" and scheme != "https":
        raise EndpointRefused("the endpoint must be an https URL in production")
    allow = Allowlist.of(settings)
    if allow.trusts(url, host):
        return Target(url)
    literal = _literal(host)
    if literal is not None:
        _check([literal], allow)
        return Target(url)
    addresses = await _addresses(host, port)
    if not addresses:
        raise OSError("the endpoint's host name does not resolve")
    _check(addresses, allow)
    return _pinned(url, host, addresses[0])


def _pinned(url: str, host: str, address: Address) -> Target:
    parts = urlsplit(url)
    shown = f"[{address}]" if address.version == 6 else str(address)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    netloc = f"{userinfo}@{netloc}" if userinfo else netloc
    host_header = f"{host}:{parts.port}" if parts.port else host
    sni = host if parts.scheme == "https" else None
    return Target(urlunsplit(parts._replace(netloc=netloc)), host_header=host_header, sni_hostname=sni)
