"""AWS Signature Version 4, checked the way API Gateway checks it for ``execute-api``.

A request signed with a client's access key pair (``create_client --sigv4``) carries
``Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/execute-api/aws4_request,
SignedHeaders=…, Signature=…`` and ``X-Amz-Date``. We rebuild the canonical request from
what arrived (method, path, query, the signed headers, the SHA-256 of the body), derive the
signing key from the stored secret, and compare signatures in constant time. Any region is
accepted; the service must be ``execute-api``; ``X-Amz-Date`` must be within 15 minutes of
now; an ``X-Amz-Content-SHA256`` header must be the body's hash (``UNSIGNED-PAYLOAD`` is
refused). Pure functions: no database, no Django request.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


class SignatureError(Exception):
    """Why a signed request is refused: ``kind`` names API Gateway's error type."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


INCOMPLETE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_KEY = "The security token included in the request is invalid."


@dataclass(frozen=True)
class SignedRequest:
    """What arrived: ``headers`` by lower-case name, ``body`` the raw bytes."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str


def is_signed(authorization: str) -> bool:
    return authorization.strip().startswith(ALGORITHM)


def parse(request: SignedRequest) -> Credential:
    """The credential the request claims; ``SignatureError`` if the header is malformed."""
    match = _AUTHORIZATION.match(request.headers.get("authorization", "").strip())
    if match is None:
        raise SignatureError(
            INCOMPLETE,
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        )
    parts = match.group("credential").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError(INCOMPLETE, "Credential should be scoped to a valid region, not ''.")
    access_key_id, date, region, service, _ = parts
    if service != SERVICE:
        raise SignatureError(INVALID_SIGNATURE, f"Credential should be scoped to correct service: '{SERVICE}'.")
    amz_date = request.headers.get("x-amz-date", "")
    if not _AMZ_DATE.match(amz_date):
        raise SignatureError(
            INCOMPLETE, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if amz_date[:8] != date:
        raise SignatureError(
            INVALID_SIGNATURE,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    signed = tuple(match.group("signed").split(";"))
    if "host" not in signed or "x-amz-date" not in signed:
        raise SignatureError(INVALID_SIGNATURE, "'Host' and 'X-Amz-Date' must be signed headers.")
    return Credential(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=signed,
        signature=match.group("signature"),
        amz_date=amz_date,
    )


def check_time(credential: Credential, now: datetime) -> None:
    signed_at = datetime.strptime(credential.amz_date, AMZ_DATE_FORMAT).replace(tzinfo=now.tzinfo)
    if signed_at < now - MAX_SKEW:
        raise SignatureError(
            INVALID_SIGNATURE,
            f"Signature expired: {credential.amz_date} is now earlier than {_amz(now - MAX_SKEW)} "
            f"({_amz(now)} - 15 min.)",
        )
    if signed_at > now + MAX_SKEW:
        raise SignatureError(
            INVALID_SIGNATURE,
            f"Signature not yet current: {credential.amz_date} is still later than {_amz(now + MAX_SKEW)} "
            f"({_amz(now)} + 15 min.)",
        )


def _amz(moment: datetime) -> str:
    return moment.strftime(AMZ_DATE_FORMAT)


def body_hash(request: SignedRequest) -> str:
    """The body's SHA-256; an ``X-Amz-Content-SHA256`` header must state exactly that."""
    computed = hashlib.sha256(request.body).hexdigest()
    stated = request.headers.get("x-amz-content-sha256")
    if stated is not None and not hmac.compare_digest(stated.strip(), computed):
        raise SignatureError(
            INVALID_SIGNATURE, "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    return computed


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_queries(query_string: str) -> tuple[str, ...]:
    """The canonical query string: each name and value URI-encoded once, sorted. Also the
    query as sent, sorted, should the client have signed it without re-encoding."""
    if not query_string:
        return ("",)
    pairs = [pair.partition("=") for pair in query_string.split("&") if pair]
    encoded = "&".join(f"{k}={v}" for k, v in sorted((_encode(unquote(k)), _encode(unquote(v))) for k, _, v in pairs))
    raw = "&".join(f"{k}={v}" for k, v in sorted((k, v) for k, _, v in pairs))
    return (encoded,) if raw == encoded else (encoded, raw)


def canonical_request(request: SignedRequest, credential: Credential, query: str, payload_hash: str) -> str:
    headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in sorted(credential.signed_headers)
    )
    return "\n".join(
        (
            request.method.upper(),
            quote(request.path or "/", safe="/~"),
            query,
            headers,
            ";".join(sorted(credential.signed_headers)),
            payload_hash,
        )
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(secret_access_key: str, credential: Credential, canonical: str) -> str:
    scope = f"{credential.date}/{credential.region}/{credential.service}/aws4_request"
    string_to_sign = "\n".join(
        (ALGORITHM, credential.amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    )
    key = _hmac(f"AWS4{secret_access_key}".encode(), credential.date)
    for part in (credential.region, credential.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(request: SignedRequest, credential: Credential, secret_access_key: str, now: datetime) -> None:
    """Raise ``SignatureError`` unless ``request`` is signed with ``secret_access_key``."""
    check_time(credential, now)
    payload_hash = body_hash(request)
    missing = [name for name in credential.signed_headers if name not in request.headers]
    if missing:
        raise SignatureError(INVALID_SIGNATURE, SIGNATURE_MISMATCH)
    matched = False
    for query in canonical_queries(request.query_string):
        expected = signature(secret_access_key, credential, canonical_request(request, credential, query, payload_hash))
        matched |= hmac.compare_digest(expected, credential.signature)
    if not matched:
        raise SignatureError(INVALID_SIGNATURE, SIGNATURE_MISMATCH)
