"""Webhook subscriptions and deliveries, and the outcome emails.

Webhooks: a subscription's URL must be reachable under the egress guard (https, a public
address); its signing secret is stored encrypted and returned once, when it is made. An
event becomes one ``WebhookDelivery`` per subscription that wants it *and whose client may
hear of it* (``audience``), unique per subscription and event (a redelivered event finds
its delivery), and a ``DeliverWebhook`` command recorded in the same transaction.
Delivering is ``delivery.webhook_deliver``.

Email: one per request and outcome (a unique row, created before the send in the same
transaction, so a second delivery of the event finds it sent and sends nothing).
"""

from collections.abc import Sequence
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMessage
from django.db import transaction

from apps.accounts import api as accounts
from apps.accounts.contracts import AccountDrifted
from apps.clients import api as clients
from apps.cloud import api as cloud
from apps.compliance.contracts import AccountNonCompliant
from apps.intake import api as intake
from apps.kernel import clock, ids
from apps.kernel.contracts import DeadLetterCreated, StepFailed, StepSucceeded
from apps.kernel.errors import ApplicationError, NotFound, RetryableError, StepError
from apps.kernel.outbox import record
from apps.notifications import secret_store, signing
from apps.notifications.audience import audience_of
from apps.notifications.contracts import (
    FAILED,
    OUTCOME_FAILED,
    OUTCOME_SUCCEEDED,
    PENDING,
    WEBHOOK_EVENT_TYPES,
    WEBHOOK_TYPE_OF_MESSAGE,
    DeliverWebhook,
    IssuedWebhookSubscription,
)
from apps.notifications.delivery import webhook_url_problem
from apps.notifications.email import provider_message_id
from apps.notifications.models import EmailNotification, WebhookDelivery, WebhookSubscription
from apps.notifications.selectors import subscriptions_wanting, summarize_subscription
from apps.workflow import api as workflow

log = structlog.get_logger(__name__)

RunEvent = (
    workflow.RunStarted
    | StepSucceeded
    | StepFailed
    | workflow.RunSucceeded
    | workflow.RunFailed
    | workflow.RunCancelled
    | DeadLetterCreated
    | AccountNonCompliant
    | AccountDrifted
)


class InvalidSubscription(ApplicationError):
    code = "validation_error"


# --- Subscriptions -----------------------------------------------------------------------


def subscription_create(
    *, client_id: str, url: str, events: Sequence[str] = (), description: str = ""
) -> IssuedWebhookSubscription:
    """A new active subscription with a fresh signing secret (returned here, never again;
    stored encrypted). The URL must pass the egress guard, which resolves its host: that
    happens before anything is written, so no transaction waits on a name server."""
    problems: dict[str, list[str]] = {}
    url_problem = webhook_url_problem(url)
    if url_problem:
        problems["url"] = [url_problem]
    unknown = sorted(set(events) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        problems["events"] = [f"Unknown event type(s): {', '.join(unknown)}."]
    if problems:
        raise InvalidSubscription("The request is invalid; see extra.fields.", extra={"fields": problems})
    secret = signing.new_secret()
    subscription = WebhookSubscription.objects.create(
        id=ids.new_id(),
        client_id=client_id,
        url=url,
        secret_encrypted=secret_store.encrypt(secret),
        events=list(dict.fromkeys(events)),
        description=description,
        active=True,
        created_at=clock.now(),
    )
    log.info("webhook.subscribed", subscription_id=subscription.id, client_id=client_id, events=subscription.events)
    return IssuedWebhookSubscription(subscription=summarize_subscription(subscription), secret=secret)


@transaction.atomic
def subscription_rotate_secret(*, subscription_id: str) -> str:
    """Give a subscription a new signing secret, effective for every POST from now on
    (retries of earlier deliveries included); the new secret, returned here only."""
    secret = signing.new_secret()
    if not WebhookSubscription.objects.filter(id=subscription_id).update(secret_encrypted=secret_store.encrypt(secret)):
        raise NotFound(f"No webhook subscription {subscription_id}.")
    log.info("webhook.secret_rotated", subscription_id=subscription_id)
    return secret


def subscription_secrets_reencrypt() -> tuple[int, int]:
    """Re-encrypt every signing secret under the first key of ``WEBHOOK_SECRET_KEYS``, one
    row at a time (a failure leaves the rest as they were). (re-encrypted, unreadable):
    an unreadable secret was encrypted with a key no longer configured."""
    done = unreadable = 0
    for subscription_id, token in WebhookSubscription.objects.values_list("id", "secret_encrypted").iterator():
        try:
            fresh = secret_store.reencrypt(token)
        except secret_store.InvalidToken:
            log.error("webhook.secret_unreadable", subscription_id=subscription_id)
            unreadable += 1
            continue
        WebhookSubscription.objects.filter(id=subscription_id, secret_encrypted=token).update(secret_encrypted=fresh)
        done += 1
    return done, unreadable


@transaction.atomic
def subscription_deactivate(*, subscription_id: str, client_id: str | None) -> None:
    """Stop delivering to a subscription (idempotent). ``client_id`` must own it (None: anyone)."""
    queryset = WebhookSubscription.objects.filter(id=subscription_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if not queryset.exists():
        raise NotFound(f"No webhook subscription {subscription_id}.")
    queryset.update(active=False)
    log.info("webhook.deactivated", subscription_id=subscription_id)


# --- Deliveries: from events --------------------------------------------------------------


def webhook_payload(event: RunEvent, *, event_type: str) -> dict[str, Any]:
    """What subscribers receive for ``event``: ``{"id", "type", "created_at", "data"}``."""
    if isinstance(event, DeadLetterCreated):
        return {
            "id": event.message_id,
            "type": event_type,
            "created_at": event.occurred_at.isoformat(),
            "data": {
                "dead_letter_id": event.dead_letter_id,
                "handler": event.handler,
                "message_type": event.message_type,
                "error_code": event.error_code,
                "error": event.error,
                "attempts": event.attempts,
            },
        }
    if isinstance(event, AccountNonCompliant):
        return {
            "id": event.message_id,
            "type": event_type,
            "created_at": event.occurred_at.isoformat(),
            "data": {
                "account_id": event.aws_account_id,
                "payer": event.payer,
                "snapshot_id": event.snapshot_id,
                "non_compliant_rules": list(event.rules),
                "new_non_compliant_rules": list(event.new_rules),
            },
        }
    if isinstance(event, AccountDrifted):
        return {
            "id": event.message_id,
            "type": event_type,
            "created_at": event.occurred_at.isoformat(),
            "data": {
                "account_id": event.aws_account_id,
                "payer": event.payer,
                "kind": event.kind,
                "detail": event.detail,
            },
        }
    data: dict[str, Any] = {"run_id": event.run_id}
    if isinstance(event, StepSucceeded | StepFailed):
        run = workflow.run_get(run_id=event.run_id)
        data["request_id"] = run.request_id if run else None
        data["step"] = event.step
        data["attempts"] = event.attempts
    else:
        data["request_id"] = event.request_id
    if isinstance(event, workflow.RunFailed):
        data["step"] = event.step
    if isinstance(event, workflow.RunCancelled):
        data["reason"] = event.reason
    if isinstance(event, StepFailed | workflow.RunFailed):
        data["error_code"] = event.error_code
        data["message"] = event.message
    if isinstance(event, StepSucceeded | workflow.RunSucceeded):
        data["outputs"] = event.outputs
    return {"id": event.message_id, "type": event_type, "created_at": event.occurred_at.isoformat(), "data": data}


@transaction.atomic
def deliveries_create_for_event(*, event: RunEvent) -> int:
    """One delivery per active subscription that wants the event and whose client may hear
    of it (``audience``), and its ``DeliverWebhook``.

    Idempotent: deliveries are unique per (subscription, event id), and a command is
    recorded only for a delivery this call created. Returns how many it created.
    """
    event_type = WEBHOOK_TYPE_OF_MESSAGE.get(event.type_name())
    if event_type is None:
        return 0
    subscriptions = subscriptions_wanting(event_type=event_type)
    if not subscriptions:
        return 0
    audience = audience_of(event)
    subscribers: dict[str, clients.ClientSummary | None] = {}
    payload: dict[str, Any] | None = None
    now = clock.now()
    created_count = 0
    for subscription in subscriptions:
        if subscription.client_id not in subscribers:
            subscribers[subscription.client_id] = clients.client_get(client_id=subscription.client_id)
        client = subscribers[subscription.client_id]
        if client is None or not audience.admits(client):
            continue
        payload = payload or webhook_payload(event, event_type=event_type)
        delivery, created = WebhookDelivery.objects.get_or_create(
            subscription=subscription,
            event_id=event.message_id,
            defaults={"id": ids.new_id(), "event_type": event_type, "payload": payload, "created_at": now},
        )
        if created:
            record(DeliverWebhook(delivery_id=delivery.id))
            created_count += 1
    return created_count


@transaction.atomic
def delivery_redeliver(*, delivery_id: str) -> bool:
    """Try a failed delivery again (an operator's redrive). False if it had not failed."""
    if not WebhookDelivery.objects.filter(id=delivery_id, state=FAILED).update(state=PENDING):
        return False
    record(DeliverWebhook(delivery_id=delivery_id))
    return True


# --- Email ----------------------------------------------------------------------------------


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


def _status_link(request_id: str) -> str:
    base = str(getattr(settings, "BESPOKE_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
    return f"{base}/v1/account-requests/{request_id}"


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


def _success_email(request: intake.AccountRequestSummary, event: workflow.RunSucceeded) -> tuple[str, str]:
    outputs = event.outputs
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


@transaction.atomic
def outcome_email_send(*, event: workflow.RunSucceeded | workflow.RunFailed) -> EmailNotification | None:
    """Email the requester and the technical contact the run's outcome, once.

    Idempotent: the ``(request_id, outcome)`` row is unique and created in this
    transaction before the send; a second call finds it sent and sends nothing. If the
    send fails the transaction (row included) rolls back and the retry sends again.
    """
    if event.kind != workflow.ACCOUNT_REQUEST:  # a command on an existing account: no requester to tell
        return None
    outcome = OUTCOME_SUCCEEDED if isinstance(event, workflow.RunSucceeded) else OUTCOME_FAILED
    existing = EmailNotification.objects.filter(request_id=event.request_id, outcome=outcome).first()
    if existing is not None and existing.sent_at is not None:
        log.info("email.already_sent", request_id=event.request_id, outcome=outcome)
        return existing
    request = intake.request_get(request_id=event.request_id, viewer=None)
    if request is None:
        log.warning("email.unknown_request", request_id=event.request_id)
        return None
    recipients = _recipients(request)
    if not recipients:
        log.warning("email.no_recipients", request_id=event.request_id)
        return None
    if isinstance(event, workflow.RunSucceeded):
        subject, body = _success_email(request, event)
    else:
        subject, body = _failure_email(request, event)
    notification, _ = EmailNotification.objects.get_or_create(
        request_id=event.request_id,
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
    message = EmailMessage(
        subject=notification.subject, body=notification.body, from_email=from_address(), to=notification.recipients
    )
    try:
        message.send()
    except OSError as error:  # SMTP and socket trouble (SES errors arrive classified already)
        raise RetryableError(f"Sending email: {error}", code="email_send_failed") from error
    notification.sent_at = clock.now()
    notification.message_id = provider_message_id(message)
    notification.save(update_fields=["sent_at", "message_id"])
    log.info("email.sent", request_id=event.request_id, outcome=outcome, message_id=notification.message_id)
    return notification


# --- Operators ------------------------------------------------------------------------------


def operators_alert_dead_letter(*, event: DeadLetterCreated) -> int:
    """Email the operators (``OPERATOR_EMAILS``) that a message landed in dead letters.

    Runs in the handler's transaction with its inbox claim: once per dead letter.
    Returns how many addresses were mailed.
    """
    recipients = list(getattr(settings, "OPERATOR_EMAILS", []))
    if not recipients:
        return 0
    link = f"{str(getattr(settings, 'BESPOKE_PUBLIC_URL', 'http://127.0.0.1:8000')).rstrip('/')}/v1/dead-letters/{event.dead_letter_id}"
    body = (
        f"A {event.message_type} message for {event.handler} gave up after {event.attempts} attempt(s).\n\n"
        f"Error ({event.error_code}): {event.error}\n\n"
        f"Redrive it once the cause is fixed, or discard it with a reason:\n{link}\n"
    )
    EmailMessage(
        subject=f"[Bespoke] Dead letter: {event.message_type} → {event.handler}",
        body=body,
        from_email=getattr(settings, "NOTIFICATIONS_FROM_EMAIL", "bespoke@example.com"),
        to=recipients,
    ).send()
    return len(recipients)
