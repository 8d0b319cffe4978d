from apps.accounts.contracts import AccountSummary, PayerSummary
from apps.accounts.models import ManagedAccount, Payer


def payer_get(*, name: str) -> PayerSummary | None:
    payer = Payer.objects.filter(name=name, active=True).first()
    if payer is None:
        return None
    return PayerSummary(
        name=payer.name,
        allowed_environments=tuple(payer.allowed_environments),
        allowed_regions=tuple(payer.allowed_regions),
        email_division=payer.email_division,
        email_domain=payer.email_domain,
    )


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
