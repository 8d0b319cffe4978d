"""One box for everything an operator may be handed: a request id, a run id, an account's
Bespoke or AWS id, a command id (each in full or its first characters), an account email.

Each context finds what matches among its own things; what they link to comes along (the
account found by its AWS id brings the request it was vended for and that request's
run). Only what the user may view is looked for.
"""

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts import api as accounts
from apps.console.actions import User
from apps.console.screens import VIEW_ACCOUNTS, VIEW_COMMANDS, VIEW_REQUESTS, VIEW_RUNS
from apps.intake import api as intake
from apps.kernel.columns import ago, short_id, took
from apps.kernel.pills import status_pill
from apps.workflow import api as workflow

LIMIT = 20  # of each kind


@dataclass(frozen=True)
class Hit:
    url: str
    id: SafeString
    title: str
    detail: str
    status: SafeString
    age: SafeString
    took: SafeString | str = ""


@dataclass
class Results:
    term: str
    requests: list[Hit] = field(default_factory=list)
    runs: list[Hit] = field(default_factory=list)
    accounts: list[Hit] = field(default_factory=list)
    commands: list[Hit] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests) + len(self.runs) + len(self.accounts) + len(self.commands)

    @property
    def groups(self) -> list[tuple[str, str, list[Hit]]]:
        """(heading, kind, hits) of the kinds that found something."""
        kinds = (
            ("Account requests", "request", self.requests),
            ("Runs", "run", self.runs),
            ("Accounts", "account", self.accounts),
            ("Account commands", "command", self.commands),
        )
        return [kind for kind in kinds if kind[2]]


def _unique[T](items: list[T], key: str) -> list[T]:
    seen: dict[object, T] = {}
    for item in items:
        seen.setdefault(getattr(item, key), item)
    return list(seen.values())


def search(user: User, term: str) -> Results:
    term = term.strip()
    results = Results(term=term)
    if not term:
        return results
    may = {perm: user.has_perm(perm) for perm in (VIEW_REQUESTS, VIEW_RUNS, VIEW_ACCOUNTS, VIEW_COMMANDS)}

    found_accounts = accounts.accounts_find(term=term, limit=LIMIT) if may[VIEW_ACCOUNTS] else []
    found_commands = accounts.commands_find(term=term, limit=LIMIT) if may[VIEW_COMMANDS] else []
    found_runs = workflow.runs_find(term=term, limit=LIMIT) if may[VIEW_RUNS] else []
    found_requests = intake.requests_find(term=term, limit=LIMIT) if may[VIEW_REQUESTS] else []

    # What the things found lead to: an account's request, a request's run and account.
    if may[VIEW_REQUESTS]:
        linked = [a.request_id for a in found_accounts if a.request_id]
        linked += [r.request_id for r in found_runs if r.kind == workflow.ACCOUNT_REQUEST]
        known = {r.id for r in found_requests}
        for request_id in dict.fromkeys(linked):
            if request_id not in known:
                request = intake.request_get(request_id=request_id, viewer=None)
                if request is not None:
                    found_requests.append(request)
    if may[VIEW_RUNS]:
        for subject_id in [r.id for r in found_requests] + [c.id for c in found_commands]:
            run = workflow.run_for_request(request_id=subject_id)
            if run is not None:
                found_runs.append(run)
    if may[VIEW_ACCOUNTS]:
        for request in found_requests:
            account = accounts.account_of_request(request_id=request.id)
            if account is not None:
                found_accounts.append(account)

    results.requests = [_request_hit(r) for r in _unique(found_requests, "id")]
    results.runs = [_run_hit(r) for r in _unique(found_runs, "id")]
    results.accounts = [_account_hit(a) for a in _unique(found_accounts, "id")]
    results.commands = [_command_hit(c) for c in _unique(found_commands, "id")]
    return results


def _request_hit(request: intake.AccountRequestSummary) -> Hit:
    return Hit(
        url=reverse("admin:console_request", kwargs={"request_id": request.id}),
        id=short_id(request.id),
        title=request.account_email,
        detail=f"{request.payer} · {request.environment} · {request.region}",
        status=status_pill(request.status),
        age=ago(request.created_at),
    )


def _run_hit(run: workflow.RunSummary) -> Hit:
    vend = run.kind == workflow.ACCOUNT_REQUEST
    return Hit(
        url=reverse("admin:console_run", kwargs={"run_id": run.id}),
        id=short_id(run.id),
        title=str(run.params.get("account_email") or run.request_id),
        detail=("vend" if vend else "command") + (f" · {run.blueprint_name} v{run.blueprint_version}" if vend else ""),
        status=status_pill(run.status),
        age=ago(run.started_at),
        took=took(run.started_at, run.finished_at),
    )


def _account_hit(account: accounts.ManagedAccountSummary) -> Hit:
    return Hit(
        url=reverse("admin:console_account", kwargs={"account_id": account.id}),
        id=format_html("<code>{}</code>", account.aws_account_id) if account.aws_account_id else short_id(account.id),
        title=account.email,
        detail=f"{account.payer} · {account.environment or '-'} · {account.source}",
        status=status_pill(account.status),
        age=ago(account.created_at),
    )


def _command_hit(command: accounts.AccountCommandSummary) -> Hit:
    return Hit(
        url=reverse("admin:console_command", kwargs={"command_id": command.id}),
        id=short_id(command.id),
        title=command.command,
        detail=f"asked by {command.requested_by or '-'}",
        status=status_pill(command.status),
        age=ago(command.created_at),
        took=took(command.created_at, command.finished_at),
    )
