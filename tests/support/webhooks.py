"""Webhook receivers (HTTP, or HTTPS with a certificate made for the test) on loopback that
record each POST, and the name resolver every test uses instead of DNS."""

import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Names every test may use. The example domains (RFC 2606) resolve to loopback, where no
# receiver of ours listens unless a test starts one: nothing ever leaves the machine.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")


class LocalResolver:
    """Answers name lookups from a table, never from DNS: ``localhost`` and the example
    domains are loopback; a test adds or changes names (``resolver.names["x.test"] = [...]``)
    and counts lookups (``resolver.lookups``). Any other name does not resolve."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> Iterable[str]:
        self.lookups.append(host)
        name = host.lower().rstrip(".")
        if name in self.names:
            return list(self.names[name])
        if any(name == domain or name.endswith("." + domain) for domain in EXAMPLE_DOMAINS):
            return ["127.0.0.1"]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on loopback that records each POST and answers the next queued status."""

    url: str = ""
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    delay: float = 0.0
    location: str = "http://127.0.0.1:9/elsewhere"  # where a 3xx answer points
    server_names: list[str | None] = field(default_factory=list)  # SNI of each TLS handshake


@contextmanager
def webhook_receiver(*, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if state.delay:
                time.sleep(state.delay)
            status = state.statuses.popleft() if state.statuses else 200
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", state.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        tls.sni_callback = lambda _socket, name, _context: state.server_names.append(name)  # type: ignore[assignment,misc]
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.port = server.server_address[1]
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{state.port}/hooks/bespoke?source=test"
    yield state
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class TestCertificates:
    """A certificate authority made for one test, and a server certificate it signed."""

    ca_file: str
    server_context: ssl.SSLContext


def certificates_for(name: str, *, directory: Path) -> TestCertificates:
    """A CA and a certificate for ``name`` signed by it (files in ``directory``)."""
    now = datetime.now(UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        else:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bespoke test CA")])
    ca_cert = certificate("Bespoke test CA", ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = certificate(name, server_key, ca_name, ca_key, ca=False)

    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + server_cert.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return TestCertificates(ca_file=str(ca_file), server_context=context)
