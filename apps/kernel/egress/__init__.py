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

The package: ``policy`` parses and checks a URL (steps 1 and 2, with ``addresses``, which
addresses may be reached), ``client`` connects (step 3), ``errors`` says why not.
"""

from apps.kernel.egress.addresses import IPAddress, IPNetwork, address_allowed, embedded_ipv4
from apps.kernel.egress.client import Answer, post
from apps.kernel.egress.errors import (
    CONNECTION_FAILED,
    REFUSED_ADDRESS,
    TIMEOUT,
    TLS_ERROR,
    EgressConnectionFailed,
    EgressError,
    EgressRefused,
    EgressTimeout,
    EgressTLSError,
)
from apps.kernel.egress.policy import (
    NAME_REFUSED,
    Destination,
    Policy,
    Resolver,
    Target,
    check,
    parse,
    resolve,
    set_resolver,
    url_problem,
)

__all__ = [
    "CONNECTION_FAILED",
    "NAME_REFUSED",
    "REFUSED_ADDRESS",
    "TIMEOUT",
    "TLS_ERROR",
    "Answer",
    "Destination",
    "EgressConnectionFailed",
    "EgressError",
    "EgressRefused",
    "EgressTLSError",
    "EgressTimeout",
    "IPAddress",
    "IPNetwork",
    "Policy",
    "Resolver",
    "Target",
    "address_allowed",
    "check",
    "embedded_ipv4",
    "parse",
    "post",
    "resolve",
    "set_resolver",
    "url_problem",
]
