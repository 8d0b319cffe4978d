"""Payers, blueprints and the account records of vends (commands on accounts: ``commands.py``)."""

from typing import Any

from django.db import transaction

from apps.accounts.contracts import BlueprintPlan, PayerSummary
from apps.accounts.models import Blueprint, BlueprintVersion, ManagedAccount, Payer
from apps.accounts.selectors import payer_summary, plan_of
from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError
from apps.workflow import api as workflow


@transaction.atomic
def payer_upsert(
    *,
    name: str,
    management_account_id: str,
    email_division: str,
    email_domain: str,
    allowed_environments: list[str],
    allowed_regions: list[str],
    display_name: str = "",
    management_role_arn: str = "",
    member_role_name: str = "OrganizationAccountAccessRole",
    parent_ou_id: str = "",
    log_archive_bucket: str = "",
    saml_provider_name: str = "bespoke-idp",
    saml_metadata_document: str = "",
    dns_domain: str = "",
    approval_required_for_regulated: bool = False,
    protected_account_ids: list[str] | None = None,
    alternate_contacts: dict[str, dict[str, str]] | None = None,
    security_admin_account_id: str | None = None,
    max_monthly_budget_usd: int | None = None,
) -> PayerSummary:
    # Guardrail settings left out (None) keep what the payer has.
    guardrail_settings = {
        key: value
        for key, value in {
            "alternate_contacts": alternate_contacts,
            "security_admin_account_id": security_admin_account_id,
            "max_monthly_budget_usd": max_monthly_budget_usd,
        }.items()
        if value is not None
    }
    payer, _ = Payer.objects.update_or_create(
        name=name,
        defaults={
            **guardrail_settings,
            "display_name": display_name,
            "management_account_id": management_account_id,
            "management_role_arn": management_role_arn,
            "member_role_name": member_role_name,
            "email_division": email_division,
            "email_domain": email_domain,
            "allowed_environments": allowed_environments,
            "allowed_regions": allowed_regions,
            "parent_ou_id": parent_ou_id,
            "log_archive_bucket": log_archive_bucket,
            "saml_provider_name": saml_provider_name,
            "saml_metadata_document": saml_metadata_document,
            "dns_domain": dns_domain,
            "approval_required_for_regulated": approval_required_for_regulated,
            "protected_account_ids": list(protected_account_ids or []),
            "active": True,
        },
    )
    payer.full_clean()
    return payer_summary(payer)


def account_start(
    *,
    request_id: str,
    payer_name: str,
    email: str,
    name: str,
    environment: str = "",
    tags: dict[str, str] | None = None,
) -> ManagedAccount:
    """The account record for a request, created on first call (idempotent), with the
    request's environment and tags so accounts can be listed by them."""
    now = clock.now()
    account, _ = ManagedAccount.objects.get_or_create(
        request_id=request_id,
        defaults={
            "id": ids.new_id(),
            "payer": Payer.objects.get(name=payer_name),
            "email": email,
            "name": name,
            "environment": environment,
            "tags": {key: str(value) for key, value in (tags or {}).items()},
            "created_at": now,
            "updated_at": now,
        },
    )
    return account


def account_update(account: ManagedAccount, **changes: Any) -> None:
    """Change fields of the account. An account leaving ``creating`` (active or failed)
    gives back its in-flight creation slot in the same write, whoever changes it."""
    for field, value in changes.items():
        setattr(account, field, value)
    account.updated_at = clock.now()
    fields = [*changes, "updated_at"]
    if account.status != ManagedAccount.Status.CREATING and _slot_open(account):
        account.slot_released_at = account.updated_at
        fields.append("slot_released_at")
    account.save(update_fields=fields)


def account_release_slot(account: ManagedAccount) -> None:
    """Give back the in-flight creation slot of an account that turned out not to need
    creating (an earlier attempt's account was found). Idempotent."""
    if _slot_open(account):
        account.slot_released_at = account.updated_at = clock.now()
        account.save(update_fields=["slot_released_at", "updated_at"])


def account_restart_creation(account: ManagedAccount) -> None:
    """Forget a creation Organizations refused, so that a deliberate retry (an operator's
    redrive, a retried run) asks again instead of polling the refused request."""
    account_update(account, status=ManagedAccount.Status.CREATING, failure_reason="", create_request_id="")


@transaction.atomic
def account_abandon_creation(*, request_id: str) -> None:
    """The request's run was cancelled: if its creation never reached Organizations,
    give back its in-flight slot and its place in the queue for one. A creation already
    requested stays counted (it is in flight at AWS) until it ends or its lease runs out.
    Idempotent."""
    account = ManagedAccount.objects.select_for_update().filter(request_id=request_id).first()
    if account is None or account.create_request_id or account.aws_account_id:
        return
    if account.slot_requested_at is not None:
        account.slot_requested_at = None
        account.save(update_fields=["slot_requested_at"])
    account_release_slot(account)


def _slot_open(account: ManagedAccount) -> bool:
    return account.slot_taken_at is not None and account.slot_released_at is None


class InvalidBlueprint(ApplicationError):
    code = "invalid_blueprint"


def blueprint_validate(definition: Any) -> None:
    """A definition must be ``{"steps": [...]}`` and make a valid plan (known steps, a DAG)."""
    if not isinstance(definition, dict) or set(definition) != {"steps"}:
        raise InvalidBlueprint('A blueprint definition is an object with one key, "steps".')
    try:
        workflow.plan_from_blueprint(definition["steps"])
    except workflow.InvalidPlan as error:
        raise InvalidBlueprint(str(error)) from error


@transaction.atomic
def blueprint_save(
    *,
    payer_name: str,
    name: str,
    definition: dict[str, Any],
    environment: str = "",
    regulated: bool = False,
    description: str = "",
    saved_by: str = "",
) -> BlueprintPlan:
    """Create or change a blueprint. A changed definition becomes a new version; runs
    already started keep the version they pinned."""
    blueprint_validate(definition)
    payer = Payer.objects.get(name=payer_name)
    now = clock.now()
    blueprint = Blueprint.objects.select_for_update().filter(payer=payer, name=name).first()
    if blueprint is None:
        blueprint = Blueprint.objects.create(
            id=ids.new_id(),
            payer=payer,
            name=name,
            description=description,
            environment=environment,
            regulated=regulated,
            definition=definition,
            version=1,
            updated_at=now,
        )
    else:
        changed = blueprint.definition != definition
        blueprint.description = description
        blueprint.environment = environment
        blueprint.regulated = regulated
        blueprint.updated_at = now
        if changed:
            blueprint.definition = definition
            blueprint.version += 1
        blueprint.save()
        if not changed:
            return plan_of(blueprint)
    BlueprintVersion.objects.create(
        blueprint=blueprint, version=blueprint.version, definition=definition, created_at=now, created_by=saved_by
    )
    return plan_of(blueprint)
