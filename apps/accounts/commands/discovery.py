"""Accounts found in a payer's Organization: ``adopt`` may name an AWS account Bespoke has
no row for yet; it is described in the Organization (writing nothing) and recorded,
unmanaged, in the command's own transaction — so a refused adopt records nothing."""

from dataclasses import dataclass
from typing import Any

from apps.accounts.commands.errors import CommandRejected, OrganizationsUnavailable
from apps.accounts.models import ManagedAccount, Payer
from apps.clients import api as clients
from apps.cloud import api as cloud
from apps.kernel import clock, ids
from apps.kernel.errors import NotFound, StepError


@dataclass(frozen=True)
class Discovered:
    """An AWS account of a payer's Organization Bespoke has no row for yet."""

    payer: Payer
    aws_account_id: str
    described: dict[str, Any]


def look_up_in_organization(
    *, aws_account_id: str, data: dict[str, Any], viewer: clients.Principal | None
) -> Discovered:
    """Describe an AWS account Bespoke does not know in the payer's Organization (the
    caller must be granted that payer and the environment it adopts into). Writes nothing."""
    payer_name = data.get("payer")
    if not payer_name:
        raise CommandRejected(
            "Account unknown to Bespoke: name the 'payer' whose Organization holds it.",
            extra={"fields": {"payer": ["Required to adopt an account Bespoke does not know."]}},
        )
    if viewer is not None:
        viewer.access.require(payer_name, data.get("environment"))
    payer = Payer.objects.filter(name=payer_name, active=True).first()
    if payer is None:
        raise CommandRejected(f"No payer {payer_name}.", extra={"fields": {"payer": ["Unknown payer."]}})
    # Another payer's row for this AWS id would be a different account record: adopt that one.
    if ManagedAccount.objects.filter(aws_account_id=aws_account_id).exclude(payer=payer).exists():
        raise NotFound(f"No account {aws_account_id} in payer {payer.name}.", code="account_not_found")
    org = cloud.client("organizations", session=cloud.management_session(role_arn=payer.management_role_arn or None))
    try:
        with cloud.aws_errors("DescribeAccount"):
            described = org.describe_account(AccountId=aws_account_id)["Account"]
    except StepError as error:
        if error.code == "AccountNotFoundException":
            raise NotFound(
                f"No account {aws_account_id} in payer {payer.name}'s Organization.", code="account_not_found"
            ) from error
        raise OrganizationsUnavailable(f"Organizations could not describe {aws_account_id}: {error.message}") from error
    return Discovered(payer=payer, aws_account_id=aws_account_id, described=dict(described))


def record_discovered(discovered: Discovered | None) -> ManagedAccount:
    """The row of an account found in the Organization, ``unmanaged`` (in the command's
    transaction: it goes if the command is refused). A row another call made meanwhile
    is reused."""
    assert discovered is not None
    Payer.objects.select_for_update().get(pk=discovered.payer.pk)  # one discovery per payer at a time
    now = clock.now()
    described = discovered.described
    account, _ = ManagedAccount.objects.select_for_update().get_or_create(
        payer=discovered.payer,
        aws_account_id=discovered.aws_account_id,
        defaults={
            "id": ids.new_id(),
            "source": ManagedAccount.Source.DISCOVERED,
            "status": (
                ManagedAccount.Status.UNMANAGED if described["Status"] == "ACTIVE" else ManagedAccount.Status.CLOSED
            ),
            "email": described["Email"],
            "name": described["Name"][:50],
            "last_seen_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    return ManagedAccount.objects.select_for_update().select_related("payer").get(pk=account.pk)
