"""What an operator does from the console's pages: the contexts' own operations, each
behind the permission its admin action declares.

The buttons post to ``apps.console.views.act``, which checks the permission (403
without it), asks for confirmation first where the action is destructive, calls the
owning context's api — never its models or services — and shows what happened or why the
context refused (four eyes, a request no longer in a state to retry, …).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser, AnonymousUser

from apps.accounts import api as accounts
from apps.intake import api as intake
from apps.kernel.columns import SHORT_ID_LENGTH
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError, NotFound
from apps.workflow import api as workflow

User = AbstractUser | AnonymousUser  # who is signed in to the admin

REQUEST, COMMAND, ACCOUNT, RUN = "request", "command", "account", "run"


class NotReapplicable(ApplicationError):
    """Only a vend run's baseline and network steps can be reapplied on its account."""

    code = "step_not_reapplicable"


@dataclass(frozen=True)
class Input:
    """What the operator sent with the button."""

    user: User
    subject_id: str
    reason: str = ""
    step: str = ""

    @property
    def actor(self) -> Actor:
        return Actor.of_user(self.user)


@dataclass(frozen=True)
class Action:
    subject: str  # what it acts on: REQUEST, COMMAND, ACCOUNT or RUN
    name: str  # its URL segment
    label: str  # its button
    permission: str  # the one its admin action declares
    perform: Callable[[Input], str]  # does it; what to tell the operator
    destructive: bool = False  # asks "are you sure?" on a page of its own first
    asks_reason: bool = False  # … and why (kept with what it changes)
    consequence: str = ""  # what the confirmation page says will happen


def _short(value: str) -> str:
    return value[:SHORT_ID_LENGTH]


# --- What each does --------------------------------------------------------------------------


def _retry(given: Input) -> str:
    request = intake.request_retry(request_id=given.subject_id)
    return f"{request.account_email}: retrying from its failed steps."


def _cancel(given: Input) -> str:
    reason = f"by {given.user} in the console: {given.reason}"
    request = intake.request_cancel(request_id=given.subject_id, reason=reason)
    return f"{request.account_email}: cancelled."


def _approve_request(given: Input) -> str:
    request = intake.request_approve(request_id=given.subject_id, approver=given.actor)
    return f"{request.account_email}: approved; provisioning starts."


def _reject_request(given: Input) -> str:
    request = intake.request_reject(request_id=given.subject_id, approver=given.actor, reason=given.reason)
    return f"{request.account_email}: rejected."


def _approve_command(given: Input) -> str:
    command = accounts.command_approve(command_id=given.subject_id, approver=given.actor)
    return f"{command.command} {_short(command.id)}: approved; it runs now."


def _reject_command(given: Input) -> str:
    command = accounts.command_reject(command_id=given.subject_id, approver=given.actor, reason=given.reason)
    return f"{command.command} {_short(command.id)}: rejected."


def _reapply_baseline(given: Input) -> str:
    command_id = accounts.account_reapply_baseline(account_id=given.subject_id, actor=given.actor)
    return f"Reapplying the account's baseline (command {_short(command_id)})."


def _reapply_step(given: Input) -> str:
    run = workflow.run_get(run_id=given.subject_id)
    if run is None:
        raise NotFound(f"No run {given.subject_id}.")
    if not step_reapplicable(run, given.step):
        raise NotReapplicable(
            f"{given.step or 'No step'}: only a vend run's baseline and network steps can be reapplied."
        )
    command_id = accounts.account_reapply_steps(request_id=run.request_id, steps=[given.step], actor=given.actor)
    return f"Reapplying {given.step} on the account (command {_short(command_id)})."


def step_reapplicable(run: workflow.RunSummary, step: str) -> bool:
    return (
        run.kind == workflow.ACCOUNT_REQUEST
        and step in workflow.blueprint_steps()
        and any(s.name == step for s in run.steps)
    )


_ALL = (
    Action(REQUEST, "retry", "Retry from the failed steps", "intake.retry_accountrequest", _retry),
    Action(REQUEST, "approve", "Approve", "intake.approve_accountrequest", _approve_request),
    Action(
        REQUEST,
        "reject",
        "Reject…",
        "intake.reject_accountrequest",
        _reject_request,
        destructive=True,
        asks_reason=True,
        consequence="The request ends cancelled: nothing is created, and its account email is free again.",
    ),
    Action(
        REQUEST,
        "cancel",
        "Cancel…",
        "intake.cancel_accountrequest",
        _cancel,
        destructive=True,
        asks_reason=True,
        consequence="No further step starts, and the VPC's CIDR goes back to its pool. "
        "What was built stays; a retry later resumes from the failed or unfinished steps.",
    ),
    Action(
        COMMAND,
        "approve",
        "Approve…",
        "accounts.approve_accountcommand",
        _approve_command,
        destructive=True,
        consequence="The command runs now, on the account, as it was asked for.",
    ),
    Action(
        COMMAND,
        "reject",
        "Reject…",
        "accounts.reject_accountcommand",
        _reject_command,
        destructive=True,
        asks_reason=True,
        consequence="The command ends cancelled; the account is left as it is.",
    ),
    Action(ACCOUNT, "reapply", "Reapply baseline", "accounts.reapply_managedaccount", _reapply_baseline),
    Action(RUN, "reapply", "Reapply", "workflow.reapply_steprun", _reapply_step),
)
ACTIONS: dict[tuple[str, str], Action] = {(a.subject, a.name): a for a in _ALL}


def action(subject: str, name: str) -> Action | None:
    return ACTIONS.get((subject, name))
