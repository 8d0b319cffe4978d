"""One ``http`` step's call of an integration endpoint, from the POST to its outcome.

The POST carries the account's details, signed like a webhook (``Bespoke-Signature`` with
``INTEGRATION_SIGNING_SECRET``), through the egress guard (``INTEGRATION_REQUIRE_HTTPS``,
public addresses or ``INTEGRATION_ALLOWED_NETWORKS``, no redirects). A 2xx answer other
than 202 completes the step; 202 means the endpoint works on it and calls back
(``complete`` with outputs, or ``fail``) before the step's deadline, at the callback URLs
the POST names. Their token is the call's id signed with Bespoke's secret key: it cannot
be forged, and it names one call.
"""

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing as django_signing
from django.db import IntegrityError, transaction

from apps.kernel import clock, egress, ids
from apps.kernel.errors import Conflict, NotFound, PermanentError, RetryableError, StillInProgress
from apps.notifications import signing
from apps.notifications.models import IntegrationCall

USER_AGENT = "Bespoke-Integrations/1"
_TOKENS = django_signing.Signer(salt="bespoke.integration-callback", sep=".")
Status = IntegrationCall.Status


class CallbackRefused(Conflict):
    code = "callback_refused"


def callback_token(call_id: str) -> str:
    return _TOKENS.sign(call_id)


def _call_of(token: str) -> IntegrationCall:
    """The call a callback token names (a forged or unknown token: 404, saying nothing more)."""
    try:
        call_id = _TOKENS.unsign(token)
    except django_signing.BadSignature:
        raise NotFound("No step waits for this callback.", code="unknown_callback") from None
    call = IntegrationCall.objects.select_for_update().filter(id=call_id).first()
    if call is None:
        raise NotFound("No step waits for this callback.", code="unknown_callback")
    return call


@transaction.atomic
def call_complete(*, token: str, outputs: dict[str, Any]) -> IntegrationCall:
    """The endpoint's callback: the step's work is done, with ``outputs``."""
    return _finish(token, status=Status.COMPLETED, outputs=outputs)


@transaction.atomic
def call_fail(*, token: str, message: str, code: str) -> IntegrationCall:
    """The endpoint's callback: the step's work failed, for ``message``."""
    return _finish(token, status=Status.FAILED, message=message, code=code)


def _finish(
    token: str, *, status: str, outputs: dict[str, Any] | None = None, message: str = "", code: str = ""
) -> IntegrationCall:
    call = _call_of(token)
    now = clock.now()
    if call.status not in (Status.POSTING, Status.WAITING):
        raise CallbackRefused(f"This step's call is {call.status} already.", code="callback_already_received")
    if now > call.deadline_at:
        raise CallbackRefused(
            f"The step's deadline ({call.deadline_at.isoformat()}) has passed.", code="callback_too_late"
        )
    call.status, call.outputs, call.message, call.error_code = status, outputs or {}, message, code
    call.finished_at = now
    call.save(update_fields=["status", "outputs", "message", "error_code", "finished_at"])
    return call


def endpoint_url(name: str) -> str:
    """The URL of the operator-configured endpoint ``name`` (``INTEGRATION_ENDPOINTS``)."""
    for entry in getattr(settings, "INTEGRATION_ENDPOINTS", []):
        key, _, url = str(entry).partition("=")
        if key.strip() == name and url.strip():
            return url.strip()
    raise PermanentError(
        f"No integration endpoint named {name!r} is configured (INTEGRATION_ENDPOINTS).",
        code="integration_not_configured",
    )


def _policy() -> egress.Policy:
    return egress.Policy.build(
        require_https=bool(getattr(settings, "INTEGRATION_REQUIRE_HTTPS", True)),
        allowed_networks=list(getattr(settings, "INTEGRATION_ALLOWED_NETWORKS", [])),
    )


def _public_url(path: str) -> str:
    return str(getattr(settings, "BESPOKE_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/") + path


def _open_call(*, run_id: str, step: str, request_id: str, endpoint: str, deadline_minutes: float) -> IntegrationCall:
    call = IntegrationCall.objects.filter(run_id=run_id, step=step).exclude(status=Status.CLOSED).first()
    if call is not None:
        return call
    now = clock.now()
    try:
        with transaction.atomic():
            return IntegrationCall.objects.create(
                id=ids.new_id(),
                run_id=run_id,
                step=step,
                request_id=request_id,
                endpoint=endpoint,
                deadline_at=now + timedelta(minutes=deadline_minutes),
                created_at=now,
            )
    except IntegrityError:  # a concurrent delivery of the same command opened it
        return IntegrationCall.objects.get(run_id=run_id, step=step, status__in=(Status.POSTING, Status.WAITING))


def _close(call: IntegrationCall, *, code: str, message: str) -> PermanentError:
    IntegrationCall.objects.filter(id=call.id).update(
        status=Status.CLOSED, error_code=code, message=message, finished_at=call.finished_at or clock.now()
    )
    return PermanentError(message, code=code)


def call_follow(
    *,
    run_id: str,
    step: str,
    request_id: str,
    endpoint: str,
    payload: dict[str, Any],
    deadline_minutes: float,
    poll_seconds: float,
) -> dict[str, Any]:
    """Where the step's call stands: its outputs once done. POSTs while the endpoint has not
    answered; raises ``StillInProgress`` while waiting for its callback, ``PermanentError``
    when it refused, failed or missed its deadline, ``RetryableError`` when it could not be
    reached (or answered 5xx)."""
    url = endpoint_url(endpoint)
    secret = str(getattr(settings, "INTEGRATION_SIGNING_SECRET", ""))
    if not secret:
        raise PermanentError(
            "INTEGRATION_SIGNING_SECRET is not set: Bespoke will not POST unsigned.", code="integration_not_configured"
        )
    call = _open_call(
        run_id=run_id, step=step, request_id=request_id, endpoint=endpoint, deadline_minutes=deadline_minutes
    )
    if call.status == Status.POSTING:
        _post(call, url=url, secret=secret, payload=payload)
        call.refresh_from_db()
    if call.status == Status.COMPLETED:
        return {**call.outputs, "integration_call_id": call.id}
    if call.status == Status.FAILED:
        raise _close(call, code=call.error_code or "integration_failed", message=f"{endpoint}: {call.message}")
    if clock.now() > call.deadline_at:
        raise _close(
            call,
            code="integration_deadline_passed",
            message=f"{endpoint} did not call back by {call.deadline_at.isoformat()}.",
        )
    raise StillInProgress(
        f"Waiting for {endpoint} to call back (until {call.deadline_at.isoformat()}).",
        delay=poll_seconds,
        code="integration_waiting",
    )


def _post(call: IntegrationCall, *, url: str, secret: str, payload: dict[str, Any]) -> None:
    token = callback_token(call.id)
    body = json.dumps(
        {
            **payload,
            "call_id": call.id,
            "deadline": call.deadline_at.isoformat(),
            "callback": {
                "complete": _public_url(f"/v1/steps/{token}/complete"),
                "fail": _public_url(f"/v1/steps/{token}/fail"),
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Bespoke-Signature": signing.signature_header(secret, body),
        "Bespoke-Call-Id": call.id,
    }
    try:
        answer = egress.post(
            url,
            body=body,
            headers=headers,
            timeout=float(getattr(settings, "INTEGRATION_TIMEOUT_SECONDS", 10)),
            policy=_policy(),
        )
    except egress.EgressRefused as error:
        raise _close(call, code="integration_refused_address", message=f"{call.endpoint}: {error}") from error
    except egress.EgressError as error:
        # The detail (addresses, the library's words) is for operators' logs, not the status.
        message = f"{call.endpoint} could not be reached: {error.category}."
        raise RetryableError(message, code=f"integration_{error.category}") from error
    status = answer.status
    if status == 202:
        IntegrationCall.objects.filter(id=call.id, status=Status.POSTING).update(status=Status.WAITING, http_status=202)
    elif 200 <= status < 300:
        IntegrationCall.objects.filter(id=call.id, status=Status.POSTING).update(
            status=Status.COMPLETED, http_status=status, outputs={"http_status": status}, finished_at=clock.now()
        )
    elif status >= 500 or status == 429:
        raise RetryableError(f"{call.endpoint} answered HTTP {status}.", code="integration_unavailable")
    else:
        raise _close(call, code="integration_refused", message=f"{call.endpoint} answered HTTP {status}.")
