"""A URL read as a browser reads it, under a ``Policy``, and its host resolved once: what
``check`` hands the client is every address the request may go to, all of them allowed."""

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from apps.kernel.egress.addresses import IPAddress, IPNetwork, address_allowed
from apps.kernel.egress.errors import EgressRefused


@dataclass(frozen=True)
class Policy:
    """What a caller may reach: ``https`` only unless ``require_https`` is off, public
    addresses plus ``allowed_networks``."""

    require_https: bool = True
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, *, require_https: bool, allowed_networks: Iterable[str]) -> "Policy":
        """A policy from settings: CIDRs as text (``ValueError`` names a bad one)."""
        networks = []
        for cidr in allowed_networks:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as error:
                raise ValueError(f"Not a network: {cidr!r} ({error}).") from error
        return cls(require_https=require_https, allowed_networks=tuple(networks))


@dataclass(frozen=True)
class Target:
    """A parsed URL: ``host`` is the normalized name (IDNA, lower case) or address text;
    ``address`` is set when the URL named an address rather than a name."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    address: IPAddress | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Destination:
    """A checked URL and every address it may be reached at (all of them allowed)."""

    target: Target
    addresses: tuple[IPAddress, ...]


_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)
_NUMBER = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
# Printable ASCII stays as written; anything else in a path is percent-encoded.
_PATH_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))

_NOT_A_HOST = "The URL's host is not a valid host name or address."
NAME_REFUSED = "The URL's host must resolve, and only to public addresses."


def _ipv4_number(text: str) -> int | None:
    """One part of an IPv4 address as browsers read it: ``0x`` hex, leading-zero octal, or
    decimal. None if it is none of these."""
    if text[:2].lower() == "0x":
        digits, base = text[2:], 16
        if not digits:
            return 0
    elif len(text) > 1 and text.startswith("0"):
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    try:
        return int(digits, base)
    except ValueError:
        return None


def _ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host that ends in a number denotes (WHATWG URL's IPv4 parser);
    None if the host is a name. ``EgressRefused`` if it ends in a number but is no address."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _NUMBER.match(labels[-1]):
        return None
    numbers = [_ipv4_number(label) if _NUMBER.match(label) else None for label in labels]
    if len(labels) > 4 or any(number is None for number in numbers):
        raise EgressRefused(_NOT_A_HOST)
    parts = [number for number in numbers if number is not None]
    *leading, last = parts
    if any(part > 255 for part in leading) or last >= 256 ** (5 - len(parts)):
        raise EgressRefused(_NOT_A_HOST)
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _normalized_host(raw: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:
        if "%" in raw:
            raise EgressRefused(_NOT_A_HOST)  # no zone ids: a receiver is not on our link
        try:
            literal = ipaddress.IPv6Address(raw)
        except ValueError:
            raise EgressRefused(_NOT_A_HOST) from None
        return str(literal), literal
    try:
        ascii_host = raw.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise EgressRefused(_NOT_A_HOST) from None
    number = _ipv4_host(ascii_host)
    if number is not None:
        return str(number), number
    name = ascii_host[:-1] if ascii_host.endswith(".") else ascii_host
    if not _HOST_NAME.match(name):
        raise EgressRefused(_NOT_A_HOST)
    return name, None


def parse(url: str, *, policy: Policy) -> Target:
    """The URL's parts, or ``EgressRefused`` saying what is wrong with it."""
    if _FORBIDDEN_CHARACTERS.search(url):
        raise EgressRefused("The URL must not contain whitespace, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise EgressRefused(f"Not a valid URL: {error}.") from None
    allowed_schemes = ("https",) if policy.require_https else ("http", "https")
    if parts.scheme not in allowed_schemes:
        raise EgressRefused(
            "The URL must start with https://."
            if policy.require_https
            else "The URL must start with http:// or https://."
        )
    if parts.username is not None or parts.password is not None:
        raise EgressRefused("The URL must not contain a user name or password.")
    raw_host = parts.netloc.rpartition(":")[0] if parts.port is not None else parts.netloc
    if not parts.hostname or not raw_host:
        raise EgressRefused("The URL must name a host.")
    if port == 0:
        raise EgressRefused("The URL's port must be between 1 and 65535.")
    bracketed = raw_host.startswith("[")
    # urlsplit lower-cases the host; brackets are kept off an IPv6 literal.
    host, address = _normalized_host(parts.hostname, bracketed=bracketed)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE)
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
        address=address,
    )


# --- Resolving --------------------------------------------------------------------------


Resolver = Callable[[str, int], Iterable[str]]


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


_resolver: Resolver = _system_resolver


def set_resolver(resolver: Resolver | None) -> None:
    """Replace name resolution (``None`` restores the system's): tests answer from a table."""
    global _resolver
    _resolver = resolver or _system_resolver


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to, once each, in the resolver's order. ``EgressRefused``
    if it resolves to nothing (the same answer as for a private address)."""
    try:
        answers = list(_resolver(host, port))
    except (OSError, UnicodeError) as error:
        raise EgressRefused(NAME_REFUSED, detail=f"{host} does not resolve: {error}") from None
    addresses: dict[IPAddress, None] = {}
    for answer in answers:
        try:
            addresses[ipaddress.ip_address(answer.split("%", 1)[0])] = None
        except ValueError:
            raise EgressRefused(NAME_REFUSED, detail=f"{host} resolved to {answer!r}") from None
    if not addresses:
        raise EgressRefused(NAME_REFUSED, detail=f"{host} resolves to no address")
    return tuple(addresses)


def check(url: str, *, policy: Policy) -> Destination:
    """The URL parsed and resolved, every address allowed; else ``EgressRefused``."""
    target = parse(url, policy=policy)
    if target.address is not None:
        if not address_allowed(target.address, allowed_networks=policy.allowed_networks):
            raise EgressRefused(
                f"The URL's address {target.address} is not public: only public addresses may be reached."
            )
        return Destination(target=target, addresses=(target.address,))
    addresses = resolve(target.host, target.port)
    refused = [a for a in addresses if not address_allowed(a, allowed_networks=policy.allowed_networks)]
    if refused:
        raise EgressRefused(NAME_REFUSED, detail=f"{target.host} resolves to {', '.join(map(str, refused))}")
    return Destination(target=target, addresses=addresses)


def url_problem(url: str, *, policy: Policy) -> str | None:
    """Why ``url`` may not be reached (a message for whoever gave it), or None if it may."""
    try:
        check(url, policy=policy)
    except EgressRefused as refused:
        return refused.message
    return None
