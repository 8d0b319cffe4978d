"""What the embedded mode starts with: two tenants, each a payer with its own emulated
Organization, log-archive bucket, identity provider, IP pool and blueprint —

- ``demo`` and its client ``demo`` (every scope, granted only ``demo``): ``var/demo-token``;
- ``sandbox`` and its client ``sandbox-portal`` (requests and accounts, granted only
  ``sandbox``): ``var/sandbox-token``;

and an operator's client ``operator`` (every scope, every payer): ``var/operator-token``.
The two tenants never see each other's requests or accounts."""

import copy
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
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
SANDBOX_PAYER = "sandbox"
# The sandbox payer's Organization lives in its own (emulated) management account, reached
# through a role as a real second payer would be.
SANDBOX_MANAGEMENT_ACCOUNT = "210000000001"
SANDBOX_MANAGEMENT_ROLE = f"arn:aws:iam::{SANDBOX_MANAGEMENT_ACCOUNT}:role/BespokeManagement"
SANDBOX_REGIONS = ["us-east-1"]
SANDBOX_POOLS = {"us-east-1": "10.80.0.0/16"}
SANDBOX_SCOPES = ["requests:read", "requests:write", "accounts:read", "webhooks:admin"]
IDP_METADATA = (Path(__file__).parent / "demo_idp_metadata.xml").read_text()

# Everything the original service did, minus Direct Connect (the emulator has no
# virtual interfaces): parameters left out take each step's defaults.
# Every account is governed (docs/guardrails.md): placed in its OU under the payer's SCPs,
# with the hygiene settings, GuardDuty and Security Hub, and a monthly budget. The
# emulator has no IAM Access Analyzer, so the demo leaves that one setting off.
GUARDRAIL_STEPS: list[dict[str, Any]] = [
    {"name": "ou_placement"},
    {"name": "service_control_policies"},
    {"name": "account_hygiene", "params": {"access_analyzer": False}},
    {"name": "security_services"},
    {"name": "budget"},
]
DEMO_OU_TREE = ["Workloads/Prod", "Workloads/NonProd", "Regulated"]
DEMO_OU_RULES = {"regulated": "Regulated", "environments": {"prd": "Workloads/Prod"}, "default": "Workloads/NonProd"}
DEMO_CONTACTS = {
    kind: {"name": f"Demo {kind}", "title": kind.title(), "email": f"{kind}@example.com", "phone": "+1 555 0100"}
    for kind in ("billing", "operations", "security")
}

DEMO_BLUEPRINT: dict[str, Any] = {
    "steps": [
        *GUARDRAIL_STEPS,
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
        {"name": "account_validation"},
        {
            "name": "notify",
            "depends_on": ["iam", "cloudtrail", "config", "support", "vpc", "flow_logs", "dns", "account_validation"],
        },
    ]
}


# The integrations outside AWS, steps of kind http: in the demo blueprints when integration
# endpoints are configured (`make run` starts a stand-in receiver and configures them).
INTEGRATION_STEPS = ("ad_distribution_list", "ad_security_groups", "cloudability")


def with_integrations(blueprint: dict[str, Any]) -> dict[str, Any]:
    """``blueprint`` with the integration steps, before ``notify``, which waits for them."""
    extended = copy.deepcopy(blueprint)
    steps = extended["steps"]
    notify = next(step for step in steps if step["name"] == "notify")
    steps[steps.index(notify) : steps.index(notify)] = [{"name": name} for name in INTEGRATION_STEPS]
    notify["depends_on"] = [*notify["depends_on"], *INTEGRATION_STEPS]
    return extended


def _demo_blueprints() -> tuple[dict[str, Any], dict[str, Any]]:
    """The demo payer's blueprints (ordinary, regulated) as this deployment can run them."""
    blueprints = (DEMO_BLUEPRINT, _regulated_blueprint())
    if getattr(settings, "INTEGRATION_ENDPOINTS", None):
        return with_integrations(blueprints[0]), with_integrations(blueprints[1])
    return blueprints


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


# Sandbox accounts are for experiments: baseline and a small private network, no NAT.
SANDBOX_BLUEPRINT: dict[str, Any] = {
    "steps": [
        *GUARDRAIL_STEPS,
        {"name": "iam"},
        {"name": "cloudtrail"},
        {"name": "config"},
        {"name": "vpc", "params": {"tiers": ["private"], "nat": "none"}},
        {"name": "dns"},
    ]
}


@dataclass(frozen=True)
class DemoSeed:
    management_account_id: str
    token: str
    admin_password: str
    sandbox_token: str = ""
    operator_token: str = ""


def seed_demo(*, var_dir: Path) -> DemoSeed:
    """Seed a fresh database and emulator; write the tokens and admin password to ``var_dir``."""
    management_account_id = _seed_demo_payer()
    _seed_sandbox_payer()
    notifications.sender_verify()
    demo = clients.client_create(name="demo", scopes=list(clients.ALL_SCOPES), payers=[DEMO_PAYER])
    sandbox = clients.client_create(name="sandbox-portal", scopes=SANDBOX_SCOPES, payers=[SANDBOX_PAYER])
    operator = clients.client_create(name="operator", scopes=list(clients.ALL_SCOPES), all_payers=True)
    password = secrets.token_urlsafe(12)
    get_user_model().objects.create_superuser("admin", "admin@example.com", password)
    var_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("demo-token", demo.token),
        ("sandbox-token", sandbox.token),
        ("operator-token", operator.token),
        ("admin-password", password),
    ):
        path = var_dir / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    return DemoSeed(
        management_account_id=management_account_id,
        token=demo.token,
        admin_password=password,
        sandbox_token=sandbox.token,
        operator_token=operator.token,
    )


def _seed_demo_payer() -> str:
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
        alternate_contacts=DEMO_CONTACTS,
        max_monthly_budget_usd=10000,
    )
    accounts.guardrails_configure(
        payer_name=DEMO_PAYER,
        ou_tree=DEMO_OU_TREE,
        ou_rules=DEMO_OU_RULES,
        baseline_scps_on=["Workloads", "Regulated"],
    )
    accounts.blueprint_save(
        payer_name=DEMO_PAYER,
        name="standard",
        definition=_demo_blueprints()[0],
        description="Every account's baseline and network.",
    )
    accounts.blueprint_save(
        payer_name=DEMO_PAYER,
        name="regulated",
        definition=_demo_blueprints()[1],
        regulated=True,
        description="Accounts under external audit: stricter password policy, Enterprise Support required.",
    )
    for region, cidr in DEMO_POOLS.items():
        network.pool_create(payer=DEMO_PAYER, region=region, cidr=cidr, name=f"demo {region}")
    return management_account_id


def _seed_sandbox_payer() -> str:
    management_account_id = ensure_organization(management_role_arn=SANDBOX_MANAGEMENT_ROLE)
    log_bucket = f"bespoke-sandbox-log-archive-{management_account_id}"
    management = cloud.management_session(role_arn=SANDBOX_MANAGEMENT_ROLE)
    cloud.client("s3", session=management).create_bucket(Bucket=log_bucket)
    accounts.payer_upsert(
        name=SANDBOX_PAYER,
        display_name="Sandbox organization (emulated)",
        management_account_id=management_account_id,
        management_role_arn=SANDBOX_MANAGEMENT_ROLE,
        email_division="sandbox",
        email_domain="sandbox.example.com",
        allowed_environments=["dev", "tst"],
        allowed_regions=SANDBOX_REGIONS,
        log_archive_bucket=log_bucket,
        saml_metadata_document=IDP_METADATA,
        dns_domain="aws.sandbox.example.com",
        alternate_contacts=DEMO_CONTACTS,
        max_monthly_budget_usd=1000,
    )
    accounts.guardrails_configure(
        payer_name=SANDBOX_PAYER, ou_tree=["Sandbox"], ou_rules={"default": "Sandbox"}, baseline_scps_on=["Sandbox"]
    )
    accounts.blueprint_save(
        payer_name=SANDBOX_PAYER,
        name="sandbox",
        definition=SANDBOX_BLUEPRINT,
        description="Experiments: the baseline and a private network without NAT.",
    )
    for region, cidr in SANDBOX_POOLS.items():
        network.pool_create(payer=SANDBOX_PAYER, region=region, cidr=cidr, name=f"sandbox {region}")
    return management_account_id
