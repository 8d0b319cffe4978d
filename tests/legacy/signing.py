"""Calling the legacy paths as Tailor's clients did: each request signed by botocore's own
SigV4 signer (service ``execute-api``), then sent through Django's test client."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.test import Client

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HOST = "testserver"


def fixture_text(name: str) -> str:
    """A fixture's body: its ``#`` lines (where it was copied from) left out."""
    lines = (FIXTURES / name).read_text().splitlines()
    return "\n".join(line for line in lines if not line.startswith("#")).strip()


def fixture(name: str) -> Any:
    return json.loads(fixture_text(name))


@dataclass
class SignedClient:
    """A Tailor client: ``access_key_id``/``secret_access_key`` from ``create_client --sigv4``."""

    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"
    service: str = "execute-api"
    headers: dict[str, str] = field(default_factory=dict)

    def signed_headers(
        self, method: str, path: str, query: dict[str, str] | None, body: bytes, headers: dict[str, str]
    ) -> dict[str, str]:
        url = f"https://{HOST}{path}" + (f"?{urlencode(query)}" if query else "")
        request = AWSRequest(method=method, url=url, data=body, headers={"Host": HOST, **headers})
        SigV4Auth(Credentials(self.access_key_id, self.secret_access_key), self.service, self.region).add_auth(request)
        return dict(request.headers.items())

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        tamper: bytes | None = None,
    ) -> Any:
        """Sign and send; ``tamper`` replaces the body after signing."""
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        extra = {**self.headers, **(headers or {})}
        if payload:
            extra.setdefault("Content-Type", "application/json")
        signed = self.signed_headers(method, path, query, payload, extra)
        return send(method, path, tamper if tamper is not None else payload, query=query, headers=signed)


def send(
    method: str,
    path: str,
    payload: bytes = b"",
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Send as it is: headers by their HTTP names."""
    meta: dict[str, str] = {}
    content_type = "application/octet-stream"
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            content_type = value
        elif name.lower() != "content-length":
            meta["HTTP_" + name.upper().replace("-", "_")] = value
    meta.setdefault("HTTP_HOST", HOST)
    url = path + (f"?{urlencode(query)}" if query else "")
    return Client().generic(method, url, payload, content_type=content_type, secure=True, **meta)
