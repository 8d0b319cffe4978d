"""Which addresses a request may go to: public ones, those an operator allows, and never
the unspecified addresses or the cloud metadata services."""

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
