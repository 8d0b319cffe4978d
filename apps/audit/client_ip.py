"""Where a request came from: ``REMOTE_ADDR``, or behind our own proxies
(``AUDIT_TRUSTED_PROXIES``) the nearest address in ``X-Forwarded-For`` they did not add."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.AUDIT_TRUSTED_PROXIES]


def _is_trusted(address: str, proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def source_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR``, unless that is a trusted proxy: then the nearest address in
    ``X-Forwarded-For`` that is not one (anyone can write the header; only our proxies'
    additions are believed)."""
    remote = str(request.META.get("REMOTE_ADDR", "")).strip()
    proxies = _trusted_proxies()
    if remote and _is_trusted(remote, proxies):
        forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
        for hop in reversed([part for part in forwarded if part]):
            if not _is_trusted(hop, proxies):
                remote = hop
                break
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return None
