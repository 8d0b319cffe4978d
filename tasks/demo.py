"""The demo organization the embedded mode starts with: a payer ``demo`` in an emulated
Organization with its log-archive bucket, identity provider, IP pool and blueprints, and
an API client carrying every scope."""

import copy
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.cloud import api as cloud
from apps.cloud.emulator import ensure_organization
from apps.network import api as network
from apps.notifications import api as notifications

DEMO_PAYER = "demo"
DEMO_REGIONS = ["us-east-1", "us-west-2"]
DEMO_POOLS = {"us-east-1": "10.64.0.0/16", "us-west-2": "10.65.0.0/16"}
IDP_METADATA = (Path(__file__).parent / "demo_idp_metadata.xml").read_text()

# Everything the original service did, minus Direct Connect (the emulator has no
# virtual interfaces): parameters left out take each step's defaults.
DEMO_BLUEPRINT: dict[str, Any] = {
    "steps": [
        {"name": "iam"},
        {"name": "cloudtrail"},
        {"name": "config"},
        {"name": "support", "required": False},
        {
            "name": "vpc",
            "params": {"tiers": ["public", "private"], "nat": "single", "delete_default_vpcs_in": DEMO_REGIONS},
        },
        {"name": "flow_logs", "params": {"destination": "s3", "traffic_type": "ALL"}},
        {"name": "dns"},
    ]
}


def _regulated_blueprint() -> dict[str, Any]:
    """Stricter: Enterprise Support is required and the password policy is tighter."""
    blueprint = copy.deepcopy(DEMO_BLUEPRINT)
    for step in blueprint["steps"]:
        if step["name"] == "support":
            step["required"] = True
        if step["name"] == "iam":
            step["params"] = {
                "password_policy": {
                    "MinimumPasswordLength": 16,
                    "RequireSymbols": True,
                    "RequireNumbers": True,
                    "RequireUppercaseCharacters": True,
                    "RequireLowercaseCharacters": True,
                    "MaxPasswordAge": 60,
                    "PasswordReusePrevention": 24,
                }
            }
    return blueprint


@dataclass(frozen=True)
class DemoSeed:
    management_account_id: str
    token: str
    admin_password: str


def seed_demo(*, var_dir: Path) -> DemoSeed:
    """Seed a fresh database and emulator; write the token and admin password to ``var_dir``."""
    management_account_id = ensure_organization()
    log_bucket = f"bespoke-demo-log-archive-{management_account_id}"
    cloud.client("s3").create_bucket(Bucket=log_bucket)
    accounts.payer_upsert(
        name=DEMO_PAYER,
        display_name="Demo organization (emulated)",
        management_account_id=management_account_id,
        email_division="demo",
        email_domain="example.com",
        allowed_environments=["dev", "tst", "stg", "prd"],
        allowed_regions=DEMO_REGIONS,
        log_archive_bucket=log_bucket,
        saml_metadata_document=IDP_METADATA,
        dns_domain="aws.example.com",
    )
    accounts.blueprint_save(
        payer_name=DEMO_PAYER,
        name="standard",
        definition=DEMO_BLUEPRINT,
        description="Every account's baseline and network.",
    )
    accounts.blueprint_save(
        payer_name=DEMO_PAYER,
        name="regulated",
        definition=_regulated_blueprint(),
        regulated=True,
        description="Accounts under external audit: stricter password policy, Enterprise Support required.",
    )
    for region, cidr in DEMO_POOLS.items():
        network.pool_create(payer=DEMO_PAYER, region=region, cidr=cidr, name=f"demo {region}")
    notifications.sender_verify()
    issued = clients.client_create(name="demo", scopes=list(clients.ALL_SCOPES), all_payers=True)
    password = secrets.token_urlsafe(12)
    get_user_model().objects.create_superuser("admin", "admin@example.com", password)
    var_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (("demo-token", issued.token), ("admin-password", password)):
        path = var_dir / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    return DemoSeed(management_account_id=management_account_id, token=issued.token, admin_password=password)
