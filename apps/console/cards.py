"""The facts at the top of the console's pages: a request's, an account's, a run's and a
command's, each a card of labelled values (times to the second, with their age)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.intake import api as intake
from apps.kernel.columns import ago, at, took
from apps.kernel.pills import status_pill
from apps.workflow import api as workflow


@dataclass(frozen=True)
class Fact:
    label: str
    value: SafeString


@dataclass(frozen=True)
class Card:
    title: str
    facts: tuple[Fact, ...]
    url: str = ""  # the thing's own page, when this one is not it


def fact(label: str, value: object) -> Fact:
    if isinstance(value, SafeString):
        return Fact(label, value)
    return Fact(label, format_html("{}", value if value not in (None, "") else "-"))


def code(value: object) -> SafeString:
    return format_html("<code>{}</code>", value) if value else format_html("{}", "-")


def when(value: datetime | None) -> SafeString:
    """The time to the second and, beside it, how long ago."""
    if value is None:
        return format_html("{}", "-")
    return format_html('{} <span class="quiet">({})</span>', at(value), ago(value))


def _person(person: dict[str, str], detail: str) -> str:
    return f"{person.get('full_name', '')} ({person.get(detail, '')})" if person else ""


def request_card(request: intake.AccountRequestSummary, *, linked: bool) -> Card:
    body: dict[str, Any] = request.body or {}
    tags = body.get("tags") or {}
    vpc = body.get("vpc") or {}
    requestor = body.get("requestor") or {}
    contact = body.get("technical_contact") or {}
    client = clients.client_get(client_id=request.client_id)
    where = f"{request.payer} · {request.environment} · {request.region}"
    if request.regulated:
        where += " · regulated"
    project = f"{tags.get('project_name', '')} ({tags.get('project_short_name', '')})" if tags else ""
    if tags.get("cost_center"):
        project += f" · cost center {tags['cost_center']}"
    ticket = body.get("external_transaction_id") or "none"
    facts = [
        fact("Request", code(request.id)),
        fact("Status", status_pill(request.status)),
        fact("Account email", request.account_email),
        fact("Where", where),
        fact("Project", project),
        fact("VPC", f"{vpc.get('az_count')} AZs, /{vpc.get('prefix_length')}" if vpc else "none"),
        fact("Requested by", _person(requestor, "email")),
        fact("Technical contact", _person(contact, "username")),
        fact("Ticket", f"{ticket} · client {client.name if client else request.client_id}"),
        fact("Received", when(request.created_at)),
    ]
    if request.approved_by:
        facts.append(fact("Approved", format_html("{} · {}", request.approved_by, when(request.approved_at))))
    if request.failure:
        facts.append(fact("Failure", request.failure))
    url = reverse("admin:console_request", kwargs={"request_id": request.id}) if linked else ""
    return Card("Request", tuple(facts), url)


def account_card(account: accounts.ManagedAccountSummary, *, linked: bool = True) -> Card:
    facts = [
        fact("AWS account", code(account.aws_account_id) if account.aws_account_id else "not yet created"),
        fact("Bespoke id", code(account.id)),
        fact("Status", status_pill(account.status)),
        fact("Name", account.name),
        fact("Email", account.email),
        fact("Where", f"{account.payer} · {account.environment or 'no environment'} · OU {account.ou_id or '-'}"),
        fact("Source", account.source),
        fact("Created", when(account.created_at)),
    ]
    if account.closed_at:
        facts.append(fact("Closed", when(account.closed_at)))
    if account.failure_reason:
        facts.append(fact("Failure", account.failure_reason))
    url = reverse("admin:console_account", kwargs={"account_id": account.id}) if linked else ""
    return Card("Account", tuple(facts), url)


def run_card(run: workflow.RunSummary, *, failure: bool = True) -> Card:
    """``failure``: False where the request's card beside it says the same."""
    blueprint = f"{run.blueprint_name} v{run.blueprint_version}" if run.blueprint_name else "none (a bare account)"
    facts = [
        fact("Run", code(run.id)),
        fact("Status", status_pill(run.status)),
        fact("Kind", "vend" if run.kind == workflow.ACCOUNT_REQUEST else "command on an account"),
        fact("Blueprint", blueprint),
        fact("Steps", f"{sum(s.state == 'succeeded' for s in run.steps)} of {len(run.steps)} succeeded"),
        fact("Started", when(run.started_at)),
        fact("Finished", when(run.finished_at)),
        fact("Took", took(run.started_at, run.finished_at)),
        fact("Retries", run.retries),
    ]
    if run.failure and failure:
        facts.append(fact("Failure", run.failure))
    return Card("Run", tuple(facts))


def command_card(command: accounts.AccountCommandSummary) -> Card:
    params = ", ".join(f"{key}: {value}" for key, value in command.params.items())
    facts = [
        fact("Command", code(command.id)),
        fact("Status", status_pill(command.status)),
        fact("Does", f"{command.command} ({params})" if params else command.command),
        fact("Asked by", command.requested_by),
        fact("Asked", when(command.created_at)),
    ]
    if command.approved_by:
        facts.append(fact("Decided", format_html("{} · {}", command.approved_by, when(command.approved_at))))
    if command.finished_at:
        facts.append(fact("Finished", when(command.finished_at)))
    if command.failure:
        facts.append(fact("Failure", command.failure))
    return Card("Command", tuple(facts))
