from django.db import transaction

from apps.accounts.models import ManagedAccount, Payer
from apps.kernel import clock, ids


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
) -> Payer:
    payer, _ = Payer.objects.update_or_create(
        name=name,
        defaults={
            "display_name": display_name,
            "management_account_id": management_account_id,
            "management_role_arn": management_role_arn,
            "member_role_name": member_role_name,
            "email_division": email_division,
            "email_domain": email_domain,
            "allowed_environments": allowed_environments,
            "allowed_regions": allowed_regions,
            "parent_ou_id": parent_ou_id,
            "active": True,
        },
    )
    payer.full_clean()
    return payer


def account_start(*, request_id: str, payer_name: str, email: str, name: str) -> ManagedAccount:
    """The account record for a request, created on first call (idempotent)."""
    now = clock.now()
    account, _ = ManagedAccount.objects.get_or_create(
        request_id=request_id,
        defaults={
            "id": ids.new_id(),
            "payer": Payer.objects.get(name=payer_name),
            "email": email,
            "name": name,
            "created_at": now,
            "updated_at": now,
        },
    )
    return account


def account_update(account: ManagedAccount, **changes: str) -> None:
    for field, value in changes.items():
        setattr(account, field, value)
    account.updated_at = clock.now()
    account.save(update_fields=[*changes, "updated_at"])
