"""Commands on existing accounts: reapply blueprint steps, adopt, move, close.

Who may command which account: the caller must see the account (its payer and
environment are granted; 404 otherwise). ``close`` and ``move`` never touch an account
Bespoke does not manage (``unmanaged``/``discovered``), the payer's management account or
one the payer marks protected (409 ``account_protected``). ``close`` waits in
``awaiting_approval`` until someone other than whoever issued it approves (four eyes).
A command that is refused leaves nothing behind — not even the row of an account it
looked up in the Organization.

Issuing a command (``issuing``) builds its plan (``plans``) and hands it to the workflow,
or leaves it awaiting approval (``four_eyes``); ``adopt`` of an account Bespoke does not
know yet looks it up in the payer's Organization first (``discovery``).
"""

from apps.accounts.commands.four_eyes import command_approve, command_reject
from apps.accounts.commands.issuing import (
    account_reapply_baseline,
    account_reapply_steps,
    account_reapply_tasks,
    command_finish,
    command_issue,
    protection_of,
)

__all__ = [
    "account_reapply_baseline",
    "account_reapply_steps",
    "account_reapply_tasks",
    "command_approve",
    "command_finish",
    "command_issue",
    "command_reject",
    "protection_of",
]
