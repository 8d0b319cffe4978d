"""The emails: the outcome of a request to its requester and technical contact, and dead
letters to the operators.

One outcome email per request and outcome (a unique row, created before the send in the
same transaction, so a second delivery of the event finds it sent and sends nothing).
"""

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMessage
from django.db import transaction

from apps.accounts import api as accounts
from apps.cloud import api as cloud
from apps.intake import api as intake
from apps.kernel import clock, ids
from apps.kernel.contracts import DeadLetterCreated
from apps.kernel.errors import RetryableError, StepError
from apps.notifications.contracts import OUTCOME_FAILED, OUTCOME_SUCCEEDED
from apps.notifications.email import provider_message_id
from apps.notifications.models import EmailNotification
from apps.workflow import api as workflow

log = structlog.get_logger(__name__)


def from_address() -> str:
    return str(getattr(settings, "NOTIFICATIONS_FROM_EMAIL", "bespoke@example.com"))


def sender_verify() -> str:
    """Make the sender address a verified SES identity (idempotent); the address.

    On real SES this starts the verification (AWS mails the address a link); the
    emulator verifies at once.
    """
    address = from_address()
    ses = cloud.client("sesv2")
    try:
        with cloud.aws_errors("CreateEmailIdentity"):
            ses.create_email_identity(EmailIdentity=address)
    except StepError as error:
        if error.code != "AlreadyExistsException":
            raise
    return address


def _public_url(path: str) -> str:
    """``path`` at Bespoke's public address (``BESPOKE_PUBLIC_URL``)."""
    return str(getattr(settings, "BESPOKE_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/") + path


def _status_link(request_id: str) -> str:
    return _public_url(f"/v1/account-requests/{request_id}")


def _recipients(request: intake.AccountRequestSummary) -> list[str]:
    """The requester and the technical contact (``<username>@<payer email domain>``), once each."""
    wanted: list[str] = []
    requester = str(request.body.get("requestor", {}).get("email", "")).strip()
    if requester:
        wanted.append(requester)
    username = str(request.body.get("technical_contact", {}).get("username", "")).strip()
    if username:
        try:
            domain = accounts.payer_settings(name=request.payer)["email_domain"]
        except ObjectDoesNotExist:
            log.warning("email.unknown_payer", payer=request.payer, request_id=request.id)
        else:
            wanted.append(f"{username}@{domain}")
    unique: dict[str, str] = {}
    for address in wanted:
        unique.setdefault(address.lower(), address)
    return list(unique.values())


def _greeting(request: intake.AccountRequestSummary) -> str:
    name = str(request.body.get("requestor", {}).get("full_name", "")).strip()
    return f"Hello {name}," if name else "Hello,"


def _request_lines(request: intake.AccountRequestSummary) -> list[str]:
    tags = request.body.get("tags", {})
    lines = [
        f"Project:        {tags.get('project_name', '')}",
        f"Payer:          {request.payer}",
        f"Environment:    {request.environment}",
        f"Region:         {request.region}",
    ]
    external = request.body.get("external_transaction_id")
    if external:
        lines.append(f"Reference:      {external}")
    return lines


def _success_email(request: intake.AccountRequestSummary, outputs: Mapping[str, Any]) -> tuple[str, str]:
    account_id = outputs.get("account_id")
    if not account_id:
        account = accounts.account_for_request(request_id=request.id)
        account_id = account.id if account else None
    alias = outputs.get("account_alias")
    lines = [
        _greeting(request),
        "",
        "The AWS account you requested is ready.",
        "",
        f"Account id:     {account_id or 'unknown'}",
    ]
    if alias:
        lines.append(f"Account alias:  {alias}")
    lines.append(f"Account email:  {request.account_email}")
    lines.extend(_request_lines(request))
    if outputs.get("vpc_id"):
        lines.append(f"VPC:            {outputs['vpc_id']}")
    if outputs.get("cidr"):
        lines.append(f"VPC CIDR:       {outputs['cidr']}")
    lines += ["", f"Status:         {_status_link(request.id)}", f"Request id:     {request.id}", "", "-- Bespoke"]
    subject = f"Your AWS account {account_id or request.account_email} is ready"
    if alias:
        subject += f" ({alias})"
    return subject, "\n".join(lines) + "\n"


def _failure_email(request: intake.AccountRequestSummary, event: workflow.RunFailed) -> tuple[str, str]:
    lines = [
        _greeting(request),
        "",
        "Your AWS account request could not be completed.",
        "",
        f"Failed step:    {event.step}",
        f"Reason:         {event.message}",
        f"Error code:     {event.error_code}",
        f"Account email:  {request.account_email}",
        *_request_lines(request),
        "",
        f"Status:         {_status_link(request.id)}",
        "",
        f"Request id:     {request.id}",
        "",
        "-- Bespoke",
    ]
    return f"Your AWS account request failed at step {event.step}", "\n".join(lines) + "\n"


def outcome_email_send(*, event: workflow.RunSucceeded | workflow.RunFailed) -> EmailNotification | None:
    """Email the requester and the technical contact the run's outcome, once — also
    across a crash.

    Called outside any transaction (a runner). In three steps, each committed: the
    ``(request_id, outcome)`` row (unique) is created with ``send_started_at`` *before*
    the provider is called; the provider's message id and ``sent_at`` are recorded after.
    A second delivery checks first: sent — nothing to do; started but never recorded (the
    process died in between, so the provider may well have accepted it) — not sent again,
    the row is marked ``unconfirmed_at`` and the operators' log says so. A send the
    provider refused or that failed in the call clears ``send_started_at`` and is retried
    (still at least once: a call that timed out after the provider accepted is sent again).
    """
    if event.kind != workflow.ACCOUNT_REQUEST:  # a command on an existing account: no requester to tell
        return None
    if isinstance(event, workflow.RunSucceeded):
        outputs = event.outputs
        return _send_once(
            request_id=event.request_id,
            outcome=OUTCOME_SUCCEEDED,
            compose=lambda request: _success_email(request, outputs),
        )
    failed = event
    return _send_once(
        request_id=event.request_id, outcome=OUTCOME_FAILED, compose=lambda request: _failure_email(request, failed)
    )


def ready_email_send(*, request_id: str, outputs: Mapping[str, Any]) -> EmailNotification | None:
    """Email the requester and the technical contact that the account is ready (what the
    ``notify`` step does, from the outputs of the steps before it), once — also across a
    crash, as ``outcome_email_send``: the run's own success email is then the same email,
    already sent. None: nobody to tell."""
    return _send_once(
        request_id=request_id, outcome=OUTCOME_SUCCEEDED, compose=lambda request: _success_email(request, outputs)
    )


def _send_once(
    *, request_id: str, outcome: str, compose: Callable[[intake.AccountRequestSummary], tuple[str, str]]
) -> EmailNotification | None:
    existing = EmailNotification.objects.filter(request_id=request_id, outcome=outcome).first()
    if existing is not None and existing.sent_at is not None:
        log.info("email.already_sent", request_id=request_id, outcome=outcome)
        return existing
    request = intake.request_get(request_id=request_id, viewer=None)
    if request is None:
        log.warning("email.unknown_request", request_id=request_id)
        return None
    recipients = _recipients(request)
    if not recipients:
        log.warning("email.no_recipients", request_id=request_id)
        return None
    subject, body = compose(request)
    notification = _start_send(
        request_id=request_id, outcome=outcome, recipients=recipients, subject=subject, body=body
    )
    if notification is None or notification.sent_at is not None:
        return notification
    message = EmailMessage(
        subject=notification.subject, body=notification.body, from_email=from_address(), to=notification.recipients
    )
    try:
        message.send()
    except (OSError, StepError) as error:  # SMTP and socket trouble; SES errors arrive classified
        EmailNotification.objects.filter(id=notification.id, sent_at__isnull=True).update(send_started_at=None)
        if isinstance(error, StepError):
            raise
        raise RetryableError(f"Sending email: {error}", code="email_send_failed") from error
    message_id = provider_message_id(message)
    EmailNotification.objects.filter(id=notification.id).update(sent_at=clock.now(), message_id=message_id)
    notification.refresh_from_db()
    log.info("email.sent", request_id=request_id, outcome=outcome, message_id=message_id)
    return notification


@transaction.atomic
def _start_send(
    *, request_id: str, outcome: str, recipients: list[str], subject: str, body: str
) -> EmailNotification | None:
    """The notification row with this send claimed (``send_started_at``), committed before
    the provider is called; the row as it is if it was sent; None if an earlier send's
    outcome is unknown (it is not sent again)."""
    notification, _ = EmailNotification.objects.select_for_update().get_or_create(
        request_id=request_id,
        outcome=outcome,
        defaults={
            "id": ids.new_id(),
            "recipients": recipients,
            "subject": subject[:300],
            "body": body,
            "created_at": clock.now(),
        },
    )
    if notification.sent_at is not None:  # someone else sent it while we composed
        return notification
    if notification.send_started_at is not None:
        if notification.unconfirmed_at is None:
            notification.unconfirmed_at = clock.now()
            notification.save(update_fields=["unconfirmed_at"])
        log.error(
            "email.send_unconfirmed",
            request_id=request_id,
            outcome=outcome,
            notification_id=notification.id,
            started_at=notification.send_started_at.isoformat(),
        )
        return None
    notification.send_started_at = clock.now()
    notification.save(update_fields=["send_started_at"])
    return notification


# --- To operators ---------------------------------------------------------------------------


def operators_alert_dead_letter(*, event: DeadLetterCreated) -> int:
    """Email the operators (``OPERATOR_EMAILS``) that a message landed in dead letters.

    Runs in the handler's transaction with its inbox claim: once per dead letter.
    Returns how many addresses were mailed.
    """
    recipients = list(getattr(settings, "OPERATOR_EMAILS", []))
    if not recipients:
        return 0
    link = _public_url(f"/v1/dead-letters/{event.dead_letter_id}")
    body = (
        f"A {event.message_type} message for {event.handler} gave up after {event.attempts} attempt(s).\n\n"
        f"Error ({event.error_code}): {event.error}\n\n"
        f"Redrive it once the cause is fixed, or discard it with a reason:\n{link}\n"
    )
    EmailMessage(
        subject=f"[Bespoke] Dead letter: {event.message_type} → {event.handler}",
        body=body,
        from_email=from_address(),
        to=recipients,
    ).send()
    return len(recipients)
