"""The demo organization the embedded mode starts with: a payer ``demo`` in an emulated
Organization, and an API client carrying every scope."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.cloud.emulator import ensure_organization

DEMO_PAYER = "demo"


@dataclass(frozen=True)
class DemoSeed:
    management_account_id: str
    token: str
    admin_password: str


def seed_demo(*, var_dir: Path) -> DemoSeed:
    """Seed a fresh database and emulator; write the token and admin password to ``var_dir``."""
    management_account_id = ensure_organization()
    accounts.payer_upsert(
        name=DEMO_PAYER,
        display_name="Demo organization (emulated)",
        management_account_id=management_account_id,
        email_division="demo",
        email_domain="example.com",
        allowed_environments=["dev", "tst", "stg", "prd"],
        allowed_regions=["us-east-1", "us-west-2"],
    )
    issued = clients.client_create(name="demo", scopes=list(clients.ALL_SCOPES))
    password = secrets.token_urlsafe(12)
    get_user_model().objects.create_superuser("admin", "admin@example.com", password)
    var_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (("demo-token", issued.token), ("admin-password", password)):
        path = var_dir / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    return DemoSeed(management_account_id=management_account_id, token=issued.token, admin_password=password)
