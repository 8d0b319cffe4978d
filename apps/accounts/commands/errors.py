"""How a command on an account is refused."""

from apps.kernel.errors import ApplicationError, Conflict


class CommandRejected(ApplicationError):
    """The command's body does not make sense for this account (400)."""

    code = "invalid_command"


class AccountStateConflict(Conflict):
    """The account's status (or a command still open on it) forbids the command."""

    code = "account_state_conflict"


class AccountProtected(Conflict):
    """Closing or moving an account Bespoke must never close or move."""

    code = "account_protected"


class CommandStateConflict(Conflict):
    """Only a command awaiting approval can be approved or rejected."""

    code = "command_state_conflict"


class ClosureQuotaExceeded(Conflict):
    code = "closure_quota_exceeded"


class OrganizationsUnavailable(ApplicationError):
    """Organizations could not be asked about the account; the client may try again."""

    code = "organizations_unavailable"
    status_code = 503
