"""Rows for the admin's actions to act on: each in the state its action applies to, made
through the contexts' services where they have one."""

from datetime import timedelta
from typing import Any

from apps.accounts import api as accounts
from apps.accounts.models import AccountCommand, ManagedAccount, Payer, QuotaBucket
from apps.clients import api as clients
from apps.compliance.models import ComplianceSnapshot
from apps.intake.services import (
    request_create,
    request_mark_failed,
    request_mark_provisioning,
    request_mark_succeeded,
)
from apps.kernel import clock, ids
from apps.kernel.contracts import StepFailed, StepSucceeded
from apps.kernel.deadletters import dead_letter_record
from apps.kernel.models import DeadLetter
from apps.network import api as network
from apps.network.services import cidr_allocate
from apps.network.vlans import vlan_allocate
from apps.notifications.models import EmailNotification, IntegrationCall, WebhookDelivery
from apps.notifications.services import deliveries_create_for_event, subscription_create
from apps.workflow import services as workflow
from apps.workflow.contracts import RunFailed, RunStarted
from apps.workflow.models import Run
from apps.workflow.plans import StepSpec
from tests.support import factories
from tests.support.factories import request_body

CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"


def payer() -> None:
    """``demo``, whose regulated requests wait for an operator's approval, with a blueprint."""
    factories.payer(
        "demo", allowed_environments=["dev", "prd"], allowed_regions=["us-east-1"], approval_required_for_regulated=True
    )
    accounts.blueprint_save(
        payer_name="demo", name="default", definition={"steps": [{"name": "iam"}, {"name": "cloudtrail"}]}
    )
    accounts.guardrails_configure(
        payer_name="demo", ou_tree=["Workloads"], ou_rules={"default": "Workloads"}, baseline_scps_on=["Workloads"]
    )


def request(project: str, *, regulated: bool = False) -> str:
    """A request for ``project``: awaiting approval if regulated, else accepted."""
    body = request_body(regulated=regulated, tags__project_short_name=project)
    return request_create(client_id=CLIENT_ID, data=body).id


def failed_request(project: str) -> tuple[str, Run]:
    """A request whose vend run failed at ``iam`` after ``create_account`` succeeded."""
    request_id = request(project)
    run = workflow.run_start(
        request_id=request_id,
        params={"request_id": request_id, "payer": "demo", "environment": "dev", "regulated": False},
        plan=(StepSpec("create_account", "accounts"), StepSpec("iam", "baseline", depends_on=("create_account",))),
    )
    workflow.step_record_succeeded(StepSucceeded(run_id=run.id, step="create_account", attempts=1, outputs={}))
    workflow.step_record_failed(
        StepFailed(run_id=run.id, step="iam", attempts=3, error_code="AccessDenied", message="denied")
    )
    request_mark_failed(request_id=request_id, failure="iam: denied")
    return request_id, Run.objects.get(id=run.id)


VPC_OUTPUTS = {
    "vpc_id": "vpc-0a1b2c3d4e5f",
    "cidr": "10.64.3.0/24",
    "subnets": [
        {"id": "subnet-01", "tier": "private", "az": "us-east-1a", "cidr": "10.64.3.0/26"},
        {"id": "subnet-02", "tier": "private", "az": "us-east-1b", "cidr": "10.64.3.64/26"},
    ],
    "internet_gateway_id": None,
    "nat_gateway_id": None,
    "route_table_ids": ["rtb-01", "rtb-02"],
}
IAM_OUTPUTS = {
    "account_alias": "demo-ledger-dev",
    "saml_provider_arn": "arn:aws:iam::222222222222:saml-provider/bespoke-idp",
    "role_arns": {
        "admin": "arn:aws:iam::222222222222:role/admin",
        "readonly": "arn:aws:iam::222222222222:role/readonly",
    },
}


def vended_request(project: str, *, aws_account_id: str = "222222222222") -> tuple[str, Run]:
    """A request whose vend run succeeded (its VPC and IAM steps with their outputs), and
    its account, active."""
    request_id = request(project)
    run = workflow.run_start(
        request_id=request_id,
        params={"request_id": request_id, "payer": "demo", "environment": "dev", "regulated": False},
        plan=(
            StepSpec("create_account", "accounts", legacy_name="CLA_SUBMISSION"),
            StepSpec("vpc", "network", depends_on=("create_account",), legacy_name="VPC"),
            StepSpec("iam", "baseline", depends_on=("create_account",), legacy_name="IAM"),
        ),
    )
    account(request_id=request_id, aws_account_id=aws_account_id)
    outputs = {"create_account": {"account_id": aws_account_id}, "vpc": VPC_OUTPUTS, "iam": IAM_OUTPUTS}
    for step, produced in outputs.items():
        workflow.step_record_succeeded(StepSucceeded(run_id=run.id, step=step, attempts=1, outputs=produced))
    request_mark_provisioning(request_id=request_id)
    request_mark_succeeded(request_id=request_id)
    return request_id, Run.objects.get(id=run.id)


def account(*, request_id: str = "", aws_account_id: str = "222222222222") -> ManagedAccount:
    """An active account of ``demo`` (vended for ``request_id``, if given)."""
    now = clock.now()
    return ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        aws_account_id=aws_account_id,
        email=f"aws+{aws_account_id}@example.com",
        name=f"acct-{aws_account_id}",
        environment="dev",
        status=ManagedAccount.Status.ACTIVE,
        request_id=request_id,
        created_at=now,
        updated_at=now,
    )


def dead_letter() -> DeadLetter:
    envelope = RunStarted(run_id="run-1", request_id="request-1").to_envelope()
    letter = dead_letter_record(
        handler="intake.on_run_started",
        envelope=envelope,
        error_code="Boom",
        error="the handler has a bug",
        attempts=1,
        history=[],
    )
    return DeadLetter.objects.get(id=letter.id)


def failed_delivery() -> WebhookDelivery:
    # An event about no known request reaches operators of every payer only.
    operator = clients.client_create(name="ops-hooks", scopes=list(clients.ALL_SCOPES), all_payers=True)
    subscription_create(client_id=operator.client_id, url="https://hooks.example.com/x", events=["run.failed"])
    deliveries_create_for_event(
        event=RunFailed(run_id=ids.new_id(), request_id="req-1", step="vpc", error_code="E", message="m")
    )
    delivery = WebhookDelivery.objects.order_by("-created_at").first()
    assert delivery is not None
    WebhookDelivery.objects.filter(id=delivery.id).update(state="failed", attempts=9)
    delivery.refresh_from_db()
    return delivery


def every_model() -> dict[str, Any]:
    """At least one row of every model the admin shows, most in a state their actions apply to."""
    payer()
    awaiting = request("awaiting", regulated=True)
    failed, run = failed_request("failed")
    vended = account(request_id=failed)
    now = clock.now()
    AccountCommand.objects.create(
        id=ids.new_id(), account=vended, command="reapply", status="succeeded", created_at=now, finished_at=now
    )
    to_close = ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        aws_account_id="333333333333",
        email="aws+333333333333@example.com",
        name="acct-333333333333",
        environment="dev",
        status=ManagedAccount.Status.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    closing = AccountCommand.objects.create(
        id=ids.new_id(),
        account=to_close,
        command="close",
        params={"confirm": "333333333333"},
        status="awaiting_approval",
        account_status_before="active",
        client_id="client-1",
        requested_by="client:client-1",
        requested_by_name="client:portal",
        created_at=now,
    )

    QuotaBucket.objects.create(organization_id="111111111111", name="CreateAccount", tokens=3, updated_at=now)
    clients.client_create(name="portal", scopes=["requests:read"], payers=["demo"])
    ComplianceSnapshot.objects.create(
        id=ids.new_id(), aws_account_id="222222222222", payer="demo", taken_at=now, compliant=True
    )
    network.pool_create(payer="demo", region="us-east-1", cidr="10.0.0.0/16", name="demo")
    cidr_allocate(payer="demo", region="us-east-1", request_id=failed, prefix_length=24)
    network.vlan_pool_create(payer="demo", connection_id="dxcon-fgabc123", first_vlan=100, last_vlan=199)
    vlan_allocate(connection_id="dxcon-fgabc123", request_id=failed)
    IntegrationCall.objects.create(
        id=ids.new_id(),
        run_id=run.id,
        step="cloudability",
        request_id=failed,
        endpoint="cloudability",
        status="waiting",
        deadline_at=now + timedelta(hours=1),
        created_at=now,
    )
    EmailNotification.objects.create(
        id=ids.new_id(),
        request_id=failed,
        outcome="failed",
        recipients=["a@example.com"],
        subject="failed",
        body="",
        created_at=now - timedelta(minutes=1),
    )
    return {
        "awaiting": awaiting,
        "awaiting_command": closing,
        "failed": failed,
        "run": run,
        "account": vended,
        "dead_letter": dead_letter(),
        "delivery": failed_delivery(),
    }
