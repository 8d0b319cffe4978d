"""Who may hear of an event: a webhook subscription receives only what its client may see.

The rules, from the event's subject (looked up when the event is fanned out, so grants
changed since are honoured):

- **An account request's run** (``run.*``, ``step.*`` of a run of kind ``account_request``):
  the client that made the request, while its grants cover the request's payer and
  environment; and operators (``operations:admin``) whose grants cover them.
- **A command on an account** (the runs of kind ``account_command``) and **the account's own
  events** (``account.drifted``, ``account.non_compliant``): every client whose grants cover
  the account's payer and environment and that may read accounts (``accounts:read``), the
  client that issued the command, and operators covering them. An account whose
  environment is unknown (one the reconciler discovered) is covered only by grants of
  its whole payer.
- **Dead letters** (``dead_letter.created``) and anything whose subject cannot be found
  (a step of an unknown run, a run of an unknown request): operators of every payer only
  (``operations:admin`` with all payers). What no payer owns reaches no tenant.

An inactive client hears nothing. Payloads carry only their one subject, so whoever may
hear of the subject may see all of it.
"""

from dataclasses import dataclass

from apps.accounts import api as accounts
from apps.accounts.contracts import AccountDrifted, GuardrailDrifted
from apps.clients import api as clients
from apps.clients.contracts import ACCOUNTS_READ
from apps.compliance.contracts import AccountNonCompliant
from apps.intake import api as intake
from apps.kernel.contracts import DeadLetterCreated, Event, StepFailed, StepSucceeded
from apps.workflow import api as workflow


@dataclass(frozen=True)
class Audience:
    """Who may hear of one event.

    ``payer`` None: no tenant owns the subject (operators of every payer only).
    ``environment`` "": unknown (only grants of the whole payer cover it).
    ``owner_client_id``: the client whose request or command it is.
    ``account_readers``: clients covering the payer and environment that read accounts.
    """

    payer: str | None = None
    environment: str = ""
    owner_client_id: str | None = None
    account_readers: bool = False

    def admits(self, client: clients.ClientSummary) -> bool:
        if not client.active:
            return False
        principal = clients.Principal(
            client_id=client.id, name=client.name, scopes=frozenset(client.scopes), access=client.access
        )
        if self.payer is None:
            return principal.is_global_operator
        # An empty environment is asked as such: a grant narrowed to environments doesn't cover it.
        if not client.access.covers(self.payer, self.environment):
            return False
        if principal.is_operator or client.id == self.owner_client_id:
            return True
        return self.account_readers and principal.has_scopes(ACCOUNTS_READ)


OPERATORS_OF_EVERY_PAYER = Audience()


def _of_request(request_id: str) -> Audience:
    request = intake.request_get_unscoped(request_id=request_id)
    if request is None:
        return OPERATORS_OF_EVERY_PAYER
    return Audience(payer=request.payer, environment=request.environment, owner_client_id=request.client_id)


def _of_account(identifier: str, *, payer: str | None = None, issued_by: str | None = None) -> Audience:
    account = accounts.account_get_unscoped(identifier=identifier) if identifier else None
    if account is None or (payer is not None and account.payer != payer):
        if payer is None:
            return OPERATORS_OF_EVERY_PAYER
        # The event names the payer; where in it the account lives is not known.
        return Audience(payer=payer, environment="", owner_client_id=issued_by, account_readers=True)
    return Audience(
        payer=account.payer, environment=account.environment, owner_client_id=issued_by, account_readers=True
    )


def _of_command(command_id: str) -> Audience:
    command = accounts.command_get_unscoped(command_id=command_id)
    if command is None:
        return OPERATORS_OF_EVERY_PAYER
    return _of_account(command.account_id, issued_by=command.client_id or None)


def _of_run(*, kind: str, request_id: str) -> Audience:
    if kind == workflow.ACCOUNT_REQUEST:
        return _of_request(request_id)
    if kind == workflow.ACCOUNT_COMMAND:
        return _of_command(request_id)
    return OPERATORS_OF_EVERY_PAYER


def audience_of(event: Event) -> Audience:
    """Who may hear of ``event`` (see the module's rules)."""
    if isinstance(event, DeadLetterCreated):
        return OPERATORS_OF_EVERY_PAYER
    if isinstance(event, AccountDrifted):
        return _of_account(event.account_id, payer=event.payer)
    if isinstance(event, AccountNonCompliant):
        return _of_account(event.aws_account_id, payer=event.payer)
    if isinstance(event, GuardrailDrifted):  # no account (an SCP): the payer's whole-payer readers
        return _of_account(event.aws_account_id, payer=event.payer)
    if isinstance(event, StepSucceeded | StepFailed):
        run = workflow.run_get(run_id=event.run_id)
        return _of_run(kind=run.kind, request_id=run.request_id) if run else OPERATORS_OF_EVERY_PAYER
    if isinstance(event, workflow.RunStarted | workflow.RunSucceeded | workflow.RunFailed | workflow.RunCancelled):
        return _of_run(kind=event.kind, request_id=event.request_id)
    return OPERATORS_OF_EVERY_PAYER
