"""Changing an account's tags (its metadata): in the payer's Organization, where AWS keeps
an account's tags, and in Bespoke's record of it. Callers only reach accounts they may see."""

from collections.abc import Mapping

from django.db import transaction

from apps.accounts import selectors
from apps.accounts.commands.errors import AccountStateConflict
from apps.accounts.contracts import ManagedAccountSummary
from apps.accounts.models import ManagedAccount
from apps.accounts.services import account_update
from apps.clients import api as clients
from apps.cloud import api as cloud
from apps.kernel.errors import NotFound


def account_tags_update(
    *, identifier: str, tags: Mapping[str, str], viewer: clients.Principal | None
) -> ManagedAccountSummary:
    """Set ``tags`` (others are kept) on the active account ``identifier`` (Bespoke or AWS
    id) that ``viewer`` may see: TagResource in its Organization, then the record."""
    found = selectors.account_find(identifier=identifier, viewer=viewer)
    if found is None:
        raise NotFound(f"No account {identifier}.", code="account_not_found")
    with transaction.atomic():
        account = ManagedAccount.objects.select_for_update().select_related("payer").get(pk=found.pk)
        if account.status != ManagedAccount.Status.ACTIVE or not account.aws_account_id:
            raise AccountStateConflict(f"Tags change on active accounts only; this one is {account.status}.")
        with cloud.aws_errors("AssumeRole"):
            session = cloud.management_session(role_arn=account.payer.management_role_arn or None)
        organizations = cloud.client("organizations", session=session)
        with cloud.aws_errors("TagResource"):
            organizations.tag_resource(
                ResourceId=account.aws_account_id,
                Tags=[{"Key": key, "Value": value} for key, value in sorted(tags.items())],
            )
        account_update(account, tags={**(account.tags or {}), **tags})
    return selectors.account_summary(account)
