import copy
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from apps.accounts.contracts import (
    AccountCommandSummary,
    AccountCount,
    AccountSummary,
    BlueprintPlan,
    ManagedAccountSummary,
    PayerIntake,
    PayerSummary,
)
from apps.accounts.models import AccountCommand, Blueprint, ManagedAccount, Payer
from apps.accounts.quotas import peak_in_flight
from apps.clients import api as clients
from apps.kernel.search import id_matches, text_matches
from apps.kernel.ttlcache import TtlCache


def payer_get(*, name: str) -> PayerSummary | None:
    payer = Payer.objects.filter(name=name, active=True).first()
    return payer_summary(payer) if payer else None


def payer_summary(payer: Payer) -> PayerSummary:
    return PayerSummary(
        name=payer.name,
        allowed_environments=tuple(payer.allowed_environments),
        allowed_regions=tuple(payer.allowed_regions),
        email_division=payer.email_division,
        email_domain=payer.email_domain,
        approval_required_for_regulated=payer.approval_required_for_regulated,
        max_monthly_budget_usd=payer.max_monthly_budget_usd,
    )


def payer_names() -> list[str]:
    """Every active payer's name, in order."""
    return list(Payer.objects.filter(active=True).order_by("name").values_list("name", flat=True))


def payer_settings(*, name: str) -> dict[str, Any]:
    """What every step needs to know of its payer (the ``payer_settings`` step input)."""
    return _settings_of(Payer.objects.get(name=name))


def _settings_of(payer: Payer) -> dict[str, Any]:
    return {
        "name": payer.name,
        "management_account_id": payer.management_account_id,
        "management_role_arn": payer.management_role_arn,
        "member_role_name": payer.member_role_name,
        "email_division": payer.email_division,
        "email_domain": payer.email_domain,
        "log_archive_bucket": payer.log_archive_bucket,
        "saml_provider_name": payer.saml_provider_name,
        "saml_metadata_document": payer.saml_metadata_document,
        "dns_domain": payer.dns_domain,
        "alternate_contacts": dict(payer.alternate_contacts),
        "security_admin_account_id": payer.security_admin_account_id,
    }


def account_for_request(*, request_id: str) -> AccountSummary | None:
    account = ManagedAccount.objects.filter(request_id=request_id).first()
    if account is None:
        return None
    return AccountSummary(
        id=account.aws_account_id or None, email=account.email, name=account.name, status=account.status
    )


def account_email(*, payer: PayerSummary, project_short_name: str, environment: str) -> str:
    """The new account's root email: ``aws.<division>.<short project>.<environment>@<domain>``."""
    return f"aws.{payer.email_division}.{project_short_name}.{environment}@{payer.email_domain}".lower()


def account_name(*, payer: PayerSummary, project_short_name: str, environment: str) -> str:
    return f"{payer.email_division}-{project_short_name}-{environment}"[:50]


def blueprint_for(*, payer: str, environment: str, regulated: bool) -> BlueprintPlan | None:
    """The blueprint a request gets: the payer's blueprint for its environment, else the
    payer's default; a regulated request prefers a regulated blueprint and falls back to
    the ordinary one. None: the payer vends bare accounts."""
    active = {
        (b.environment, b.regulated): plan_of(b) for b in Blueprint.objects.filter(payer__name=payer, active=True)
    }
    return blueprint_choose(active, environment=environment, regulated=regulated)


def blueprint_choose(
    active: dict[tuple[str, bool], BlueprintPlan], *, environment: str, regulated: bool
) -> BlueprintPlan | None:
    """``blueprint_for``'s choice among a payer's active blueprints by (environment, regulated)."""
    preference = [(environment, regulated), ("", regulated)]
    if regulated:
        preference += [(environment, False), ("", False)]
    for key in preference:
        plan = active.get(key)
        if plan is not None:
            return plan
    return None


def _payer_cache_seconds() -> float:
    return float(getattr(settings, "PAYER_CACHE_SECONDS", 5))


# Cleared in this process whenever a payer or blueprint is saved (apps.py); a change made
# by another process is seen within PAYER_CACHE_SECONDS.
_payers_for_intake: TtlCache[PayerIntake] = TtlCache(ttl=_payer_cache_seconds)


def payers_forget(*_args: object, **_kwargs: object) -> None:
    """Forget every cached ``payer_for_intake`` (a signal receiver: a payer or blueprint changed)."""
    _payers_for_intake.clear()


def payer_for_intake(*, name: str, cached: bool = True) -> PayerIntake | None:
    """An active payer with its step settings and active blueprints (None: no such active
    payer), kept ``PAYER_CACHE_SECONDS`` per process unless ``cached`` is False. Callers get
    their own copy of the settings."""
    if cached:
        found = _payers_for_intake.get(name, lambda: _payer_for_intake_load(name))
    else:
        found = _payer_for_intake_load(name)
    if found is None:
        return None
    return PayerIntake(payer=found.payer, settings=copy.deepcopy(found.settings), blueprints=found.blueprints)


def _payer_for_intake_load(name: str) -> PayerIntake | None:
    payer = Payer.objects.filter(name=name, active=True).first()
    if payer is None:
        return None
    blueprints = {(b.environment, b.regulated): plan_of(b) for b in Blueprint.objects.filter(payer=payer, active=True)}
    return PayerIntake(payer=payer_summary(payer), settings=_settings_of(payer), blueprints=blueprints)


def plan_of(blueprint: Blueprint) -> BlueprintPlan:
    return BlueprintPlan(
        blueprint_id=blueprint.id,
        name=blueprint.name,
        version=blueprint.version,
        steps=tuple(blueprint.definition["steps"]),
    )


def creation_slot_intervals(*, organization_id: str | None = None) -> list[tuple[datetime, datetime | None]]:
    """When each account creation held an in-flight slot: (taken, released or None)."""
    accounts = ManagedAccount.objects.filter(slot_taken_at__isnull=False)
    if organization_id is not None:
        accounts = accounts.filter(payer__management_account_id=organization_id)
    rows = accounts.values_list("slot_taken_at", "slot_released_at")
    return [(taken, released) for taken, released in rows if taken is not None]


def creations_in_flight_peak(*, organization_id: str | None = None) -> int:
    """The most account creations ever in flight at once (per organization when named),
    from the recorded slot timestamps."""
    return peak_in_flight(creation_slot_intervals(organization_id=organization_id))


# Accounts Bespoke manages now: being created, live, or on their way out.
_MANAGED_STATUSES = (ManagedAccount.Status.CREATING, ManagedAccount.Status.ACTIVE, ManagedAccount.Status.CLOSING)


def account_counts_by_payer_environment() -> list[AccountCount]:
    """Managed accounts per payer and environment, ordered by payer then environment."""
    rows = (
        ManagedAccount.objects.filter(status__in=_MANAGED_STATUSES)
        .values("payer__name", "environment")
        .annotate(count=Count("id"))
        .order_by("payer__name", "environment")
    )
    return [AccountCount(payer=row["payer__name"], environment=row["environment"], count=row["count"]) for row in rows]


# --- Managed accounts and their commands ----------------------------------------------

AWS_ACCOUNT_ID = re.compile(r"^\d{12}$")


def account_summary(account: ManagedAccount) -> ManagedAccountSummary:
    return ManagedAccountSummary(
        id=account.id,
        aws_account_id=account.aws_account_id,
        payer=account.payer.name,
        name=account.name,
        email=account.email,
        status=account.status,
        source=account.source,
        environment=account.environment,
        tags=dict(account.tags or {}),
        ou_id=account.ou_id,
        request_id=account.request_id,
        failure_reason=account.failure_reason,
        created_at=account.created_at,
        updated_at=account.updated_at,
        closed_at=account.closed_at,
    )


def visible_accounts(viewer: clients.Principal | None) -> "QuerySet[ManagedAccount]":
    """The accounts ``viewer`` may see: those of the payers (and environments) it is
    granted; None (Bespoke itself): all."""
    accounts = ManagedAccount.objects.select_related("payer")
    if viewer is None:
        return accounts
    return accounts.filter(clients.granted(viewer.access, payer_field="payer__name"))


def aws_account_ids_visible_to(viewer: clients.Principal) -> list[str]:
    """The AWS account ids of every account ``viewer`` may see (for other contexts that
    keep readings by AWS account id, e.g. compliance snapshots)."""
    return list(visible_accounts(viewer).exclude(aws_account_id="").values_list("aws_account_id", flat=True))


def account_list(
    *,
    viewer: clients.Principal | None,
    payer: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    source: str | None = None,
    tag_key: str | None = None,
    tag_value: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[ManagedAccountSummary]]:
    """The accounts ``viewer`` may see, newest first, filtered; (total matching, the page)."""
    accounts = visible_accounts(viewer)
    if payer is not None:
        accounts = accounts.filter(payer__name=payer)
    if environment is not None:
        accounts = accounts.filter(environment=environment)
    if status is not None:
        accounts = accounts.filter(status=status)
    if source is not None:
        accounts = accounts.filter(source=source)
    if tag_key is not None:
        accounts = accounts.filter(tags__has_key=tag_key)
        if tag_value is not None:
            # KeyTextTransform takes the key as data, whatever characters it holds.
            # Cast to text: SQLite would otherwise compare with the value read as JSON.
            accounts = accounts.annotate(
                _tag_value=Cast(KeyTextTransform(tag_key, "tags"), output_field=TextField())
            ).filter(_tag_value=tag_value)
    total = accounts.count()
    return total, [account_summary(a) for a in accounts.order_by("-created_at", "id")[offset : offset + limit]]


def account_find(*, identifier: str, viewer: clients.Principal | None = None) -> ManagedAccount | None:
    """The account with this Bespoke id, or this 12-digit AWS account id (the most
    recent row, should an id ever have been recorded twice), if ``viewer`` may see it."""
    accounts = visible_accounts(viewer)
    if AWS_ACCOUNT_ID.match(identifier):
        return accounts.filter(aws_account_id=identifier).order_by("-created_at").first()
    return accounts.filter(id=identifier).first()


def account_get(*, identifier: str, viewer: clients.Principal | None) -> ManagedAccountSummary | None:
    account = account_find(identifier=identifier, viewer=viewer)
    return account_summary(account) if account else None


def command_summary(command: AccountCommand) -> AccountCommandSummary:
    return AccountCommandSummary(
        id=command.id,
        account_id=command.account_id,
        command=command.command,
        params=dict(command.params),
        status=command.status,
        client_id=command.client_id,
        requested_by=command.requested_by_name,
        approved_by=command.approved_by,
        approved_at=command.approved_at,
        failure=command.failure,
        created_at=command.created_at,
        finished_at=command.finished_at,
    )


def commands_for_account(*, account_id: str) -> list[AccountCommandSummary]:
    """The account's commands, oldest first."""
    return [command_summary(c) for c in AccountCommand.objects.filter(account_id=account_id).order_by("created_at")]


def command_get(*, account_id: str, command_id: str) -> AccountCommandSummary | None:
    command = AccountCommand.objects.filter(account_id=account_id, id=command_id).first()
    return command_summary(command) if command else None


def closures_counted(*, payer: Payer, since: datetime, except_account_id: str | None = None) -> int:
    """The payer's closures that count against its quota: closed since ``since``, closing
    now, or waiting for approval to close (``except_account_id``: the account being
    decided on is not counted against itself)."""
    counted = ManagedAccount.objects.filter(
        Q(closed_at__gte=since)
        | Q(status=ManagedAccount.Status.CLOSING)
        | Q(commands__command=AccountCommand.Command.CLOSE, commands__status=AccountCommand.Status.AWAITING_APPROVAL),
        payer=payer,
    )
    if except_account_id is not None:
        counted = counted.exclude(pk=except_account_id)
    return counted.distinct().count()


# --- For routing events by tenant ---------------------------------------------------------
# Whoever asks: for deciding which clients may hear about an account (notifications routes
# account events to the clients whose grants cover its payer and environment). Never serve
# a caller with these: callers get the selectors scoped by their grants.


def account_get_unscoped(*, identifier: str) -> ManagedAccountSummary | None:
    """The account with this Bespoke id or 12-digit AWS account id (the newest such row)."""
    return account_get(identifier=identifier, viewer=None)


def command_get_unscoped(*, command_id: str) -> AccountCommandSummary | None:
    """A command on an account (its id is the request id of the run that carries it out)."""
    command = AccountCommand.objects.filter(id=command_id).first()
    return command_summary(command) if command else None


# --- For the operator console -----------------------------------------------------------------
# Staff see every payer's accounts: their admin permissions decide whether they may look at
# accounts and commands at all.


def accounts_find(*, term: str, limit: int) -> list[ManagedAccountSummary]:
    """Accounts whose Bespoke or AWS account id (or its first characters), or the id of the
    request they were vended for, is ``term``, or whose email or name holds it; newest first."""
    matching = (
        id_matches("id", term)
        | id_matches("aws_account_id", term)
        | id_matches("request_id", term)
        | text_matches("email", term)
        | text_matches("name", term)
    )
    found = ManagedAccount.objects.select_related("payer").filter(matching).order_by("-created_at", "id")
    return [account_summary(a) for a in found[:limit]]


def account_of_request(*, request_id: str) -> ManagedAccountSummary | None:
    """The account vended (or being vended) for ``request_id``."""
    account = ManagedAccount.objects.select_related("payer").filter(request_id=request_id).first()
    return account_summary(account) if account else None


def commands_find(*, term: str, limit: int) -> list[AccountCommandSummary]:
    """Commands whose id is ``term`` or starts with it; newest first."""
    found = AccountCommand.objects.filter(id_matches("id", term)).order_by("-created_at")
    return [command_summary(c) for c in found[:limit]]
