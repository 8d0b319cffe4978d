"""Connecting: one POST to one of the addresses ``check`` allowed, with the URL's ``Host``
header and, for ``https``, SNI and certificate verification against its host name; no
redirects followed, no retries."""

from dataclasses import dataclass

import urllib3

from apps.kernel.egress.addresses import IPAddress
from apps.kernel.egress.errors import (
    EgressConnectionFailed,
    EgressError,
    EgressTimeout,
    EgressTLSError,
)
from apps.kernel.egress.policy import Policy, Target, check


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
