"""The egress guard (apps/kernel/egress/) that webhooks go through: how it reads a URL's
host, which addresses it allows, and that it connects to exactly the address it checked."""

import ipaddress
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.kernel import egress
from tests.support.webhooks import LocalResolver, Receiver, certificates_for, webhook_receiver

OPEN = egress.Policy(require_https=False)
LOOPBACK_ALLOWED = egress.Policy.build(require_https=False, allowed_networks=["127.0.0.1/32"])


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f000001", "127.0.0.1"),  # one hex number
        ("0X7F000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # one octal number
        ("0177.0.0.1", "127.0.0.1"),  # octal part
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),  # hex parts
        ("127.000.000.001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short forms
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),  # a trailing dot
        ("0", "0.0.0.0"),  # noqa: S104
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"),  # full-width digits (IDNA maps them to ASCII)
        ("169.254.43518", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[0:0:0:0:0:FFFF:7F00:0001]", "::ffff:7f00:1"),
    ],
)
def test_a_host_that_ends_in_a_number_is_read_as_the_address_it_spells(host: str, address: str) -> None:
    target = egress.parse(f"http://{host}/x", policy=OPEN)

    assert target.address == ipaddress.ip_address(address)
    assert target.host == address


@pytest.mark.parametrize(
    "host", ["08.0.0.1", "1.2.3.4.5", "256.1", "1.0x1g.1", "foo.123", "4294967296", "a..b", "-a.com"]
)
def test_a_host_that_ends_in_a_number_but_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(egress.EgressRefused, match="not a valid host"):
        egress.parse(f"http://{host}/", policy=OPEN)


def test_names_are_lower_cased_and_lose_one_trailing_dot() -> None:
    target = egress.parse("https://Hooks.EXAMPLE.com.:8443/a?b=c", policy=OPEN)

    assert (target.host, target.port, target.path, target.address) == ("hooks.example.com", 8443, "/a?b=c", None)
    assert target.host_header == "hooks.example.com:8443"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.170.2",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",  # noqa: S104
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "::127.0.0.1",  # IPv4-compatible
        "2002:7f00:1::",  # 6to4
        "2001:db8::1",
        "2001::1",  # Teredo
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    assert not egress.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert egress.address_allowed(ipaddress.ip_address(address))


def test_allowed_networks_open_private_addresses_but_never_the_metadata_services() -> None:
    allowed = egress.Policy.build(
        require_https=True, allowed_networks=["10.0.0.0/8", "169.254.0.0/16", "127.0.0.1/32", "fd00::/8", "0.0.0.0/0"]
    ).allowed_networks

    assert egress.address_allowed(ipaddress.ip_address("10.20.30.40"), allowed_networks=allowed)
    assert egress.address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), allowed_networks=allowed)
    for never in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "0.0.0.0", "::ffff:169.254.169.254"):  # noqa: S104
        assert not egress.address_allowed(ipaddress.ip_address(never), allowed_networks=allowed), never
    assert not egress.address_allowed(ipaddress.ip_address("127.0.0.2"), allowed_networks=allowed[:3])


def test_a_bad_allowed_network_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33'")):
        egress.Policy.build(require_https=True, allowed_networks=["10.0.0.0/8", "10.0.0.0/33"])


def test_every_address_a_name_resolves_to_must_be_allowed(local_names: LocalResolver) -> None:
    local_names.names["mixed.test"] = ["93.184.215.14", "10.0.0.5"]
    local_names.names["public.test"] = ["93.184.215.14", "2606:4700::1111"]

    with pytest.raises(egress.EgressRefused) as refused:
        egress.check("https://mixed.test/", policy=OPEN)
    destination = egress.check("https://public.test/", policy=OPEN)

    assert "10.0.0.5" not in refused.value.message  # never says where a name points…
    assert "10.0.0.5" in refused.value.detail  # …except to operators
    assert [str(a) for a in destination.addresses] == ["93.184.215.14", "2606:4700::1111"]


def test_a_name_that_does_not_resolve_is_refused_like_a_private_one(local_names: LocalResolver) -> None:
    local_names.names["internal.test"] = ["10.0.0.5"]

    with pytest.raises(egress.EgressRefused) as unknown:
        egress.check("https://nowhere.test/", policy=OPEN)
    with pytest.raises(egress.EgressRefused) as internal:
        egress.check("https://internal.test/", policy=OPEN)

    assert unknown.value.message == internal.value.message  # no oracle for names only our network knows


def test_https_is_required_unless_the_policy_says_otherwise() -> None:
    strict = egress.Policy(require_https=True)

    with pytest.raises(egress.EgressRefused, match="must start with https://"):
        egress.parse("http://93.184.215.14/", policy=strict)
    assert egress.parse("https://93.184.215.14/", policy=strict).scheme == "https"
    assert egress.parse("http://93.184.215.14/", policy=OPEN).scheme == "http"


# --- Connecting ------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


def test_the_request_goes_to_the_address_checked_with_the_urls_host_header(
    receiver: Receiver, local_names: LocalResolver
) -> None:
    local_names.names["receiver.test"] = ["127.0.0.1"]
    local_names.lookups.clear()

    answer = egress.post(
        f"http://receiver.test:{receiver.port}/hook?x=1",
        body=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=5,
        policy=LOOPBACK_ALLOWED,
    )

    assert (answer.status, answer.address) == (200, "127.0.0.1")
    assert local_names.lookups == ["receiver.test"]  # resolved once: nothing looked the name up again
    [request] = receiver.requests
    assert (request.path, request.headers["host"]) == ("/hook?x=1", f"receiver.test:{receiver.port}")


def test_the_next_address_is_tried_only_when_the_connection_is_refused(
    receiver: Receiver, local_names: LocalResolver
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    policy = egress.Policy.build(require_https=False, allowed_networks=["127.0.0.0/8"])
    local_names.names["two.test"] = ["127.0.0.2", "127.0.0.1"]

    with pytest.raises(egress.EgressConnectionFailed):
        egress.post(f"http://127.0.0.1:{closed}/", body=b"", headers={}, timeout=2, policy=policy)
    answer = egress.post(f"http://two.test:{receiver.port}/", body=b"", headers={}, timeout=2, policy=policy)

    assert answer.address == "127.0.0.1"  # 127.0.0.2 refused the connection; nothing was sent there
    assert len(receiver.requests) == 1


def test_a_redirect_is_returned_not_followed(receiver: Receiver) -> None:
    receiver.statuses.append(302)
    receiver.location = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"

    answer = egress.post(receiver.url, body=b"", headers={}, timeout=2, policy=LOOPBACK_ALLOWED)

    assert answer.status == 302
    assert len(receiver.requests) == 1


def test_https_verifies_the_certificate_against_the_name_and_sends_it_as_sni(
    tmp_path: Path, local_names: LocalResolver
) -> None:
    certificates = certificates_for("hooks.test", directory=tmp_path)
    local_names.names["hooks.test"] = ["127.0.0.1"]
    local_names.names["impostor.test"] = ["127.0.0.1"]
    policy = egress.Policy.build(require_https=True, allowed_networks=["127.0.0.1/32"])

    with webhook_receiver(tls=certificates.server_context) as receiver:
        url = f"https://hooks.test:{receiver.port}/hook"
        answer = egress.post(url, body=b"{}", headers={}, timeout=5, policy=policy, ca_certs=certificates.ca_file)
        with pytest.raises(egress.EgressTLSError) as wrong_name:
            egress.post(
                f"https://impostor.test:{receiver.port}/hook",
                body=b"{}",
                headers={},
                timeout=5,
                policy=policy,
                ca_certs=certificates.ca_file,
            )
        with pytest.raises(egress.EgressTLSError):  # a CA nobody trusts
            egress.post(url, body=b"{}", headers={}, timeout=5, policy=policy)

    assert answer.status == 200
    assert receiver.server_names[0] == "hooks.test"  # SNI names the host, though we connected to 127.0.0.1
    assert len(receiver.requests) == 1
    assert wrong_name.value.category == "tls_error"
    assert "hooks.test" not in str(wrong_name.value)  # the detail is for operators
