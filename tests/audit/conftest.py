import pytest

from apps.accounts import api as accounts


@pytest.fixture
def payer(db: None) -> accounts.PayerSummary:
    """The payer ``demo``; nothing here reaches AWS, so no emulator."""
    accounts.payer_upsert(
        name="demo",
        management_account_id="111111111111",
        email_division="demo",
        email_domain="example.com",
        allowed_environments=["dev", "tst", "stg", "prd"],
        allowed_regions=["us-east-1", "us-west-2"],
    )
    summary = accounts.payer_get(name="demo")
    assert summary is not None
    return summary
