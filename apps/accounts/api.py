"""The accounts context's public surface."""

from apps.accounts.commands import account_reapply_steps
from apps.accounts.contracts import (
    AccountDrifted,
    AccountSummary,
    ActiveAccount,
    BlueprintPlan,
    PayerIntake,
    PayerSummary,
    ReconcileReport,
)
from apps.accounts.reconcile import accounts_active, accounts_reconcile, accounts_reconcile_all
from apps.accounts.retention import quota_buckets_prune
from apps.accounts.selectors import (
    account_email,
    account_for_request,
    account_name,
    aws_account_ids_visible_to,
    blueprint_choose,
    blueprint_for,
    creation_slot_intervals,
    creations_in_flight_peak,
    payer_for_intake,
    payer_get,
    payer_names,
    payer_settings,
)
from apps.accounts.services import InvalidBlueprint, blueprint_save, blueprint_validate, payer_upsert

__all__ = [
    "AccountDrifted",
    "AccountSummary",
    "ActiveAccount",
    "BlueprintPlan",
    "InvalidBlueprint",
    "PayerIntake",
    "PayerSummary",
    "ReconcileReport",
    "account_email",
    "account_for_request",
    "account_name",
    "account_reapply_steps",
    "accounts_active",
    "accounts_reconcile",
    "accounts_reconcile_all",
    "aws_account_ids_visible_to",
    "blueprint_choose",
    "blueprint_for",
    "blueprint_save",
    "blueprint_validate",
    "creation_slot_intervals",
    "creations_in_flight_peak",
    "payer_for_intake",
    "payer_get",
    "payer_names",
    "payer_settings",
    "payer_upsert",
    "quota_buckets_prune",
]

# The operator dashboard's reads.
from apps.accounts.contracts import AccountCount
from apps.accounts.selectors import account_counts_by_payer_environment

__all__ += ["AccountCount", "account_counts_by_payer_environment"]

# Unscoped, for routing events by tenant (notifications): never serve a caller with them.
# (Appended as its own block, like the dashboard's reads above.)
from apps.accounts.contracts import AccountCommandSummary, ManagedAccountSummary  # noqa: E402
from apps.accounts.selectors import account_get_unscoped, command_get_unscoped  # noqa: E402

__all__ += ["AccountCommandSummary", "ManagedAccountSummary", "account_get_unscoped", "command_get_unscoped"]

# The operator console: finding accounts and commands, and acting on them as an operator
# (the console's buttons; the same services as the admin's actions, four eyes included).
from apps.accounts import commands as _commands  # noqa: E402
from apps.accounts.selectors import (  # noqa: E402
    account_of_request,
    accounts_find,
    command_summary,
    commands_find,
    commands_for_account,
)
from apps.kernel.contracts import Actor  # noqa: E402

__all__ += [
    "account_of_request",
    "account_reapply_baseline",
    "accounts_find",
    "command_approve",
    "command_reject",
    "commands_find",
    "commands_for_account",
]


def account_reapply_baseline(*, account_id: str, actor: Actor) -> str:
    """Reapply every step of the account's blueprint; the id of the reapply command."""
    return str(_commands.account_reapply_baseline(account_id=account_id, actor=actor).id)


def command_approve(*, command_id: str, approver: Actor) -> AccountCommandSummary:
    """Approve a command awaiting approval: it runs from here. Never by whoever issued it."""
    return command_summary(_commands.command_approve(command_id=command_id, approver=approver, viewer=None))


def command_reject(*, command_id: str, approver: Actor, reason: str) -> AccountCommandSummary:
    """Refuse a command awaiting approval: it ends cancelled, the account untouched."""
    return command_summary(
        _commands.command_reject(command_id=command_id, approver=approver, reason=reason, viewer=None)
    )


# The legacy facade: Tailor's lookups and updates, within the caller's grants.
from apps.accounts.commands import account_reapply_tasks  # noqa: E402
from apps.accounts.selectors import account_get, account_list  # noqa: E402
from apps.accounts.tagging import account_tags_update  # noqa: E402

__all__ += ["account_get", "account_list", "account_reapply_tasks", "account_tags_update"]

# Guardrails: a payer's OU tree and rule, its service control policies (docs/guardrails.md).
from apps.accounts.guardrails import InvalidGuardrail, guardrails_configure, scp_save_summary  # noqa: E402

__all__ += ["InvalidGuardrail", "guardrails_configure", "scp_save_summary"]
