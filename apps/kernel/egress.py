"""Outbound HTTP to URLs that someone else chose (webhook receivers; later, the endpoints
integration steps call), without letting them point Bespoke at itself or its network.

A URL goes through three steps, and the request goes to exactly what was checked:

1. **Parse.** ``http``/``https`` only (``https`` only, when the policy requires it), a host,
   no user name or password, no whitespace, control characters or backslashes. The host is
   read as a browser reads it: IDNA (so full-width digits are digits), lower case, one
   trailing dot dropped, and a host that ends in a number is an IPv4 address in any spelling
   (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) or is refused.
2. **Resolve.** A name is resolved once; it must resolve, and *every* address it resolves to
   must be allowed. A name that does not resolve is refused like one that resolves to a
   private address, so the answer says nothing about names only our network knows.
3. **Connect** to one of the addresses checked (never a second lookup, so a name cannot
   change its answer in between — DNS rebinding), with the URL's ``Host`` header and, for
   ``https``, SNI and certificate verification against the URL's host name. Redirects are
   never followed: a 3xx is the answer.

An address is allowed if it is public: globally routable unicast — not loopback, private
(RFC 1918, ``fc00::/7``), link-local (``169.254.0.0/16``, ``fe80::/10``, the cloud metadata
services), shared (CGNAT, ``100.64.0.0/10``), multicast, reserved, documentation or
unspecified. IPv4 addresses embedded in IPv6 (``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``,
IPv4-compatible ``::a.b.c.d``) are judged as the IPv4 address. An operator may allow
private receivers with ``Policy.allowed_networks``; the metadata services and the
unspecified addresses are never allowed, whatever it says.

Every refusal is an ``EgressRefused`` whose message is safe to show whoever gave the URL: it
never names an address that a name resolved to. Other failures (``EgressTimeout``,
``EgressConnectionFailed``, ``EgressTLSError``) carry the library's words in ``detail``, for
operators and logs only.
"""

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import urllib3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Outcome categories: what a failed request tells whoever configured the URL.
REFUSED_ADDRESS = "refused_address"
TIMEOUT = "timeout"
CONNECTION_FAILED = "connection_failed"
TLS_ERROR = "tls_error"


class EgressError(Exception):
    """The request could not be made. ``str(error)`` is safe to show whoever gave the URL;
    ``detail`` (the underlying error) is for operators and logs only."""

    category = CONNECTION_FAILED

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message


class EgressRefused(EgressError):
    """The policy refuses the URL: its form, its scheme, or where its host points."""

    category = REFUSED_ADDRESS


class EgressTimeout(EgressError):
    category = TIMEOUT


class EgressConnectionFailed(EgressError):
    category = CONNECTION_FAILED


class EgressTLSError(EgressError):
    category = TLS_ERROR


# --- Which addresses may be reached --------------------------------------------------------


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Never reachable, whatever an operator allows: the unspecified addresses (connecting to
# 0.0.0.0 reaches this host) and the cloud metadata services (credentials live there).
NEVER_ALLOWED = _networks(
    "0.0.0.0/8",
    "::/128",
    "169.254.169.254/32",  # EC2, GCP, Azure instance metadata
    "169.254.170.2/32",  # ECS task metadata and credentials
    "169.254.170.23/32",  # EKS Pod Identity
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "fd00:ec2::254/128",  # EC2 instance metadata over IPv6
    "fd00:ec2::23/128",  # EKS Pod Identity over IPv6
)

# Not public. Python's ``is_global`` is consulted too, but it varies between patch releases
# (3.12.1 calls 64:ff9b::7f00:1 and ::127.0.0.1 global): this list is the floor.
NOT_PUBLIC_V4 = _networks(
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # RFC 1918
    "100.64.0.0/10",  # shared address space (CGNAT)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata
    "172.16.0.0/12",  # RFC 1918
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
    "192.168.0.0/16",  # RFC 1918
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and the broadcast address
)
# IPv6: only global unicast (2000::/3) is public, less what the registry sets aside in it.
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
NOT_PUBLIC_V6 = _networks(
    "2001::/23",  # IETF protocol assignments (Teredo among them)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4 (deprecated; embeds an IPv4 address)
    "3ffe::/16",  # the old 6bone
    "3fff::/20",  # documentation
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if any: IPv4-mapped (``::ffff:a.b.c.d``),
    NAT64 (``64:ff9b::a.b.c.d``) or IPv4-compatible (``::a.b.c.d``)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_global and not any(address in network for network in NOT_PUBLIC_V4)
    return address in GLOBAL_UNICAST_V6 and not any(address in network for network in NOT_PUBLIC_V6)


def _in(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def address_allowed(address: IPAddress, *, allowed_networks: Iterable[IPNetwork] = ()) -> bool:
    """May a request go to ``address``? Public addresses may; others only inside
    ``allowed_networks``; the unspecified and metadata addresses never."""
    address = ipaddress.ip_address(str(address).split("%", 1)[0])  # a zone id changes nothing
    candidates: list[IPAddress] = [address]
    inner = embedded_ipv4(address)
    if inner is not None:
        candidates.append(inner)
    if any(_in(candidate, NEVER_ALLOWED) for candidate in candidates):
        return False
    allowed = tuple(allowed_networks)
    if any(_in(candidate, allowed) for candidate in candidates):
        return True
    return _is_public(inner if inner is not None else address)


# --- Policy and parsing ---------------------------------------------------------------------


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


# --- Connecting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the receiver answered, and at which of the checked addresses."""

    status: int
    address: str


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    policy: Policy,
    ca_certs: str | None = None,
) -> Answer:
    """POST ``body`` to ``url`` once: checked, connected to a checked address, no redirects
    followed (a 3xx is returned like any answer), no retries, the answer's body unread.

    Raises ``EgressRefused``, ``EgressTimeout``, ``EgressConnectionFailed`` or
    ``EgressTLSError``. When a name has several addresses, the next is tried only if the
    previous one refused the connection (nothing was sent); a timeout ends the attempt.
    ``ca_certs`` replaces the system's trusted certificates (tests).
    """
    destination = check(url, policy=policy)
    failure: EgressError | None = None
    for address in destination.addresses:
        try:
            return _post_to(destination.target, address, body=body, headers=headers, timeout=timeout, ca_certs=ca_certs)
        except _NotConnected as error:
            failure = error
    assert failure is not None  # a destination has at least one address
    raise failure


class _NotConnected(EgressConnectionFailed):
    """No connection was made: nothing was sent, another address may be tried."""


def _pool(target: Target, address: IPAddress, *, timeout: float, ca_certs: str | None) -> urllib3.HTTPConnectionPool:
    if target.scheme != "https":
        return urllib3.HTTPConnectionPool(
            str(address), target.port, timeout=urllib3.Timeout(total=timeout), retries=False
        )
    return urllib3.HTTPSConnectionPool(
        str(address),
        target.port,
        timeout=urllib3.Timeout(total=timeout),
        retries=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_certs,
        assert_hostname=target.host,  # the certificate must be the name's, not the address's
        server_hostname=target.host,  # SNI: the name too
    )


def _post_to(
    target: Target,
    address: IPAddress,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    ca_certs: str | None,
) -> Answer:
    where = f"{target.host_header} at {address}"
    pool = _pool(target, address, timeout=timeout, ca_certs=ca_certs)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        # The receiver's answer is not ours to keep (it may be anything, of any size).
        response.close()
        return Answer(status=response.status, address=str(address))
    except urllib3.exceptions.SSLError as error:
        raise EgressTLSError("The TLS handshake failed.", detail=f"{where}: {_reason(error)}") from None
    except urllib3.exceptions.NewConnectionError as error:  # before TimeoutError: it is one
        raise _NotConnected("The connection failed.", detail=f"{where}: {_reason(error)}") from None
    except urllib3.exceptions.TimeoutError as error:
        raise EgressTimeout(f"No answer within {timeout:g}s.", detail=f"{where}: {_reason(error)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise EgressConnectionFailed("The request failed.", detail=f"{where}: {_reason(error)}") from None
    finally:
        pool.close()


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__
