"""The console's pages of one thing — a run, a request, a command on an account, an account
— composed from the contexts' public read models, as the status document reads: the key
facts at the top, the actions the operator may take, the timeline with seconds and
durations, and each step's outputs as labelled fields.

Whoever may view the page's own model sees it; the facts of another model appear for those
who may view that model too; a button appears for those holding its action's permission,
when the thing is in a state the action applies to.
"""

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.safestring import SafeString

from apps.accounts import api as accounts
from apps.console import outputs
from apps.console.actions import ACCOUNT, COMMAND, REQUEST, RUN, User, action, step_reapplicable
from apps.console.cards import Card, account_card, command_card, request_card, run_card
from apps.intake import api as intake
from apps.kernel import clock
from apps.kernel.columns import SHORT_ID_LENGTH, ago, at, short_id, took
from apps.kernel.pills import status_pill, status_tone
from apps.workflow import api as workflow

VIEW_REQUESTS = "intake.view_accountrequest"
VIEW_RUNS = "workflow.view_run"
VIEW_ACCOUNTS = "accounts.view_managedaccount"
VIEW_COMMANDS = "accounts.view_accountcommand"

# Request statuses each request action applies to (intake refuses the others anyway).
UNFINISHED = ("awaiting_approval", "accepted", "provisioning")
RETRYABLE = ("failed", "cancelled")


@dataclass(frozen=True)
class Button:
    label: str
    url: str
    destructive: bool  # a link to its confirmation page, not a form that acts at once
    step: str = ""  # the step it acts on (reapply)


@dataclass(frozen=True)
class TimelineRow:
    name: str
    legacy_name: str
    state: str
    tone: str
    attempts: int
    started: SafeString
    finished: SafeString
    took: SafeString
    left: float
    width: float
    message: str
    error_code: str


@dataclass(frozen=True)
class StepPanel:
    name: str
    legacy_name: str
    state: str
    tone: str
    attempts: int
    took: SafeString
    error_code: str
    message: str
    outputs: SafeString
    raw: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class CommandRow:
    url: str
    id: SafeString
    command: str
    status: SafeString
    requested_by: str
    approved_by: str
    age: SafeString
    took: SafeString


@dataclass
class Screen:
    kind: str  # RUN, REQUEST, COMMAND or ACCOUNT
    title: str
    status: str
    lede: str
    breadcrumbs: list[tuple[str, str]]
    cards: list[Card] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    took: SafeString | None = None
    timeline: list[TimelineRow] = field(default_factory=list)
    steps: list[StepPanel] = field(default_factory=list)
    commands: list[CommandRow] | None = None
    note: str = ""

    @property
    def pill(self) -> SafeString:
        return status_pill(self.status)


def _url(name: str, **kwargs: str) -> str:
    return reverse(f"admin:{name}", kwargs=kwargs)


def _button(user: User, subject: str, name: str, subject_id: str, *, step: str = "") -> list[Button]:
    """The action's button, if ``user`` holds its permission."""
    found = action(subject, name)
    assert found is not None, (subject, name)
    if not user.has_perm(found.permission):
        return []
    key = {REQUEST: "request_id", COMMAND: "command_id", ACCOUNT: "account_id", RUN: "run_id"}[subject]
    url = _url(f"console_{subject}_{name}", **{key: subject_id})
    return [Button(f"{found.label} {step}" if step else found.label, url, found.destructive, step)]


# --- The run: timeline and steps ---------------------------------------------------------------------


def timeline(run: workflow.RunSummary) -> list[TimelineRow]:
    """Each step as a bar over the run's span (percentages), with its times to the second."""
    end = run.finished_at or clock.now()
    total = max((end - run.started_at).total_seconds(), 0.001)
    rows = []
    for step in run.steps:
        left = width = 0.0
        if step.started_at is not None:
            finished = step.finished_at or end
            left = min(100 * (step.started_at - run.started_at).total_seconds() / total, 99.5)
            width = min(max(100 * (finished - step.started_at).total_seconds() / total, 0.5), 100 - left)
        rows.append(
            TimelineRow(
                name=step.name,
                legacy_name=step.legacy_name,
                state=step.state,
                tone=status_tone(step.state),
                attempts=step.attempts,
                started=at(step.started_at, time_only=True),
                finished=at(step.finished_at, time_only=True),
                took=took(step.started_at, step.finished_at),
                left=round(max(left, 0.0), 2),
                width=round(width, 2),
                message=step.message,
                error_code=step.error_code,
            )
        )
    return rows


def step_panels(user: User, run: workflow.RunSummary, *, account_active: bool) -> list[StepPanel]:
    """Every step that has something to show: outputs, a message, or a reapply to offer."""
    panels = []
    for step in run.steps:
        buttons: list[Button] = []
        if account_active and step.state == "succeeded" and step_reapplicable(run, step.name):
            buttons = _button(user, RUN, "reapply", run.id, step=step.name)
        if not (step.outputs or step.message or buttons):
            continue
        panels.append(
            StepPanel(
                name=step.name,
                legacy_name=step.legacy_name,
                state=step.state,
                tone=status_tone(step.state),
                attempts=step.attempts,
                took=took(step.started_at, step.finished_at),
                error_code=step.error_code,
                message=step.message,
                outputs=outputs.render(step.outputs, step=step.name),
                raw=outputs.raw(step.outputs) if step.outputs else "",
                buttons=tuple(buttons),
            )
        )
    return panels


# --- The screens ---------------------------------------------------------------------------------


def _request_buttons(user: User, request: intake.AccountRequestSummary) -> list[Button]:
    buttons: list[Button] = []
    if request.status == "awaiting_approval":
        buttons += _button(user, REQUEST, "approve", request.id) + _button(user, REQUEST, "reject", request.id)
    if request.status in RETRYABLE:
        buttons += _button(user, REQUEST, "retry", request.id)
    if request.status in UNFINISHED:
        buttons += _button(user, REQUEST, "cancel", request.id)
    return buttons


def _command_buttons(user: User, command: accounts.AccountCommandSummary) -> list[Button]:
    if command.status != "awaiting_approval":
        return []
    return _button(user, COMMAND, "approve", command.id) + _button(user, COMMAND, "reject", command.id)


def _account_buttons(user: User, account: accounts.ManagedAccountSummary | None) -> list[Button]:
    if account is None or account.status != "active":
        return []
    return _button(user, ACCOUNT, "reapply", account.id)


def run_screen(user: User, run_id: str) -> Screen | None:
    run = workflow.run_get(run_id=run_id)
    if run is None:
        return None
    request = command = None
    if run.kind == workflow.ACCOUNT_REQUEST:
        request = intake.request_get(request_id=run.request_id, viewer=None)
        account = accounts.account_of_request(request_id=run.request_id)
    else:
        command = accounts.command_get_unscoped(command_id=run.request_id)
        account = accounts.account_get_unscoped(identifier=command.account_id) if command else None
    email = (request.account_email if request else "") or run.params.get("account_email") or ""
    if command is not None:
        target = account.aws_account_id if account else "an account"
        lede = f"{command.command.capitalize()} on {target}" + (f" ({email})" if email else "")
    else:
        where = [request.environment, request.region] if request else [run.params.get("environment")]
        payer = request.payer if request else run.params.get("payer", "")
        lede = f"Vending {email or 'an account'} for {payer} ({', '.join(w for w in where if w)})"
    screen = Screen(
        kind=RUN,
        title=f"Run {run.id[:SHORT_ID_LENGTH]}",
        status=run.status,
        lede=lede,
        breadcrumbs=[("Runs", _url("workflow_run_changelist"))],
        took=took(run.started_at, run.finished_at),
    )
    if request is not None and user.has_perm(VIEW_REQUESTS):
        screen.cards.append(request_card(request, linked=False))
        screen.buttons += _request_buttons(user, request)
    if command is not None and user.has_perm(VIEW_COMMANDS):
        screen.cards.append(command_card(command))
    if account is not None and user.has_perm(VIEW_ACCOUNTS):
        screen.cards.append(account_card(account))
    if run.kind == workflow.ACCOUNT_REQUEST and run.status == "succeeded":
        screen.buttons += _account_buttons(user, account)
    told = request is not None and user.has_perm(VIEW_REQUESTS) and run.failure in request.failure
    screen.cards.append(run_card(run, failure=not told))
    screen.timeline = timeline(run)
    active = account is not None and account.status == "active" and run.status == "succeeded"
    screen.steps = step_panels(user, run, account_active=active)
    return screen


def request_screen(user: User, request_id: str) -> Screen | None:
    """A request that has no run (yet, or ever)."""
    request = intake.request_get(request_id=request_id, viewer=None)
    if request is None:
        return None
    notes = {
        "awaiting_approval": "No run yet: provisioning starts when an operator approves the request.",
        "accepted": "No run yet: provisioning starts in a moment.",
        "cancelled": "No run: the request was cancelled before provisioning started.",
    }
    screen = Screen(
        kind=REQUEST,
        title=f"Request {request.id[:SHORT_ID_LENGTH]}",
        status=request.status,
        lede=f"{request.account_email} for {request.payer} ({request.environment}, {request.region})",
        breadcrumbs=[("Account requests", _url("intake_accountrequest_changelist"))],
        cards=[request_card(request, linked=False)],
        buttons=_request_buttons(user, request),
        note=notes.get(request.status, "No run."),
    )
    return screen


def command_screen(user: User, command_id: str) -> Screen | None:
    """A command on an account that has no run (waiting for approval, or refused)."""
    command = accounts.command_get_unscoped(command_id=command_id)
    if command is None:
        return None
    account = accounts.account_get_unscoped(identifier=command.account_id)
    screen = Screen(
        kind=COMMAND,
        title=f"Command {command.id[:SHORT_ID_LENGTH]}",
        status=command.status,
        lede=f"{command.command.capitalize()} on {account.aws_account_id if account else command.account_id}"
        + (f" ({account.email})" if account else ""),
        breadcrumbs=[("Account commands", _url("accounts_accountcommand_changelist"))],
        cards=[command_card(command)],
        buttons=_command_buttons(user, command),
        note="No run yet: the command runs once someone other than who asked approves it."
        if command.status == "awaiting_approval"
        else "No run.",
    )
    if account is not None and user.has_perm(VIEW_ACCOUNTS):
        screen.cards.append(account_card(account))
    return screen


def account_screen(user: User, account_id: str) -> Screen | None:
    account = accounts.account_get_unscoped(identifier=account_id)
    if account is None:
        return None
    screen = Screen(
        kind=ACCOUNT,
        title=f"Account {account.aws_account_id or account.id[:SHORT_ID_LENGTH]}",
        status=account.status,
        lede=f"{account.email} · {account.payer} · {account.environment or 'no environment'}",
        breadcrumbs=[("Managed accounts", _url("accounts_managedaccount_changelist"))],
        cards=[account_card(account, linked=False)],
        buttons=_account_buttons(user, account),
    )
    if account.request_id and user.has_perm(VIEW_REQUESTS):
        request = intake.request_get(request_id=account.request_id, viewer=None)
        if request is not None:
            screen.cards.append(request_card(request, linked=True))
    if account.request_id and user.has_perm(VIEW_RUNS):
        run = workflow.run_for_request(request_id=account.request_id)
        if run is not None:
            card = run_card(run)
            screen.cards.append(Card("Vend run", card.facts, _url("console_run", run_id=run.id)))
    if user.has_perm(VIEW_COMMANDS):
        screen.commands = [
            CommandRow(
                url=_url("console_command", command_id=c.id),
                id=short_id(c.id),
                command=c.command,
                status=status_pill(c.status),
                requested_by=c.requested_by or "-",
                approved_by=c.approved_by or "-",
                age=ago(c.created_at),
                took=took(c.created_at, c.finished_at),
            )
            for c in reversed(accounts.commands_for_account(account_id=account.id))
        ]
    return screen
