"""The notifications context's workflow steps: ``notify`` (the original's ``NOTIFY``)
tells the requester and the technical contact that the account is ready."""

from collections.abc import Mapping
from typing import Any

from apps.kernel.contracts import PlanFacts
from apps.kernel.steps import StepContext
from apps.notifications.services import ready_email_send


def describe_notify(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return ["email to the requester and the technical contact: the account is ready"]


def notify(context: StepContext) -> dict[str, Any]:
    """Email the requester and the technical contact that the account is ready, with what
    the steps before it reported (the account's id and alias, the VPC and its CIDR).

    Idempotent: one success email per request (a unique row, written before the send);
    the run's own success email, later, finds it sent and sends nothing more.
    """
    email = ready_email_send(request_id=str(context.require("request_id")), outputs=context.inputs)
    if email is None:
        return {"notified": []}
    return {"notified": list(email.recipients), "email_id": email.id}
