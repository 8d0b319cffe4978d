"""The compliance poller: read each active account's AWS Config rule compliance.

For every active managed account it assumes into the member account (the payer's member
role, through ``apps.cloud``), pages through ``DescribeComplianceByConfigRule`` and, for
each NON_COMPLIANT rule, lists the offending resources (capped) with
``GetComplianceDetailsByConfigRule``. Each reading is stored as a ``ComplianceSnapshot``;
when the account has non-compliant rules its previous snapshot did not, an
``AccountNonCompliant`` event is recorded in the same transaction (notifications turns it
into the ``account.non_compliant`` webhook).
"""

from typing import Any

import boto3
import structlog
from django.db import transaction

from apps.accounts import api as accounts
from apps.accounts.contracts import GuardrailDrifted
from apps.baseline import api as baseline
from apps.cloud import api as cloud
from apps.compliance.contracts import NON_COMPLIANT, AccountNonCompliant, ComplianceSnapshotSummary
from apps.compliance.models import ComplianceSnapshot
from apps.compliance.selectors import summarize_snapshot
from apps.kernel import clock, ids
from apps.kernel.errors import StepError
from apps.kernel.outbox import record

log = structlog.get_logger(__name__)

# Offending resources kept per non-compliant rule: enough to act on, bounded in size.
MAX_RESOURCES_PER_RULE = 25


def _config_client(session: boto3.Session) -> Any:
    """The member account's Config client (a seam: tests attach botocore's Stubber)."""
    return cloud.client("config", session=session)


def _read_rules(config: Any) -> list[dict[str, Any]]:
    with cloud.aws_errors("DescribeComplianceByConfigRule"):
        rules: list[dict[str, Any]] = [
            {
                "rule": str(item["ConfigRuleName"]),
                "compliance": str(item.get("Compliance", {}).get("ComplianceType", "INSUFFICIENT_DATA")),
                "non_compliant_resources": [],
            }
            for page in config.get_paginator("describe_compliance_by_config_rule").paginate()
            for item in page["ComplianceByConfigRules"]
        ]
    for rule in rules:
        if rule["compliance"] != NON_COMPLIANT:
            continue
        with cloud.aws_errors("GetComplianceDetailsByConfigRule"):
            pages = config.get_paginator("get_compliance_details_by_config_rule").paginate(
                ConfigRuleName=rule["rule"],
                ComplianceTypes=[NON_COMPLIANT],
                PaginationConfig={"MaxItems": MAX_RESOURCES_PER_RULE},
            )
            resources = [
                result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
                for page in pages
                for result in page["EvaluationResults"]
            ]
        rule["non_compliant_resources"] = [
            {"type": str(r.get("ResourceType", "")), "id": str(r.get("ResourceId", ""))}
            for r in resources[:MAX_RESOURCES_PER_RULE]
        ]
    return sorted(rules, key=lambda r: str(r["rule"]))


def _reading_key(reading: dict[str, Any]) -> tuple[str, str]:
    return str(reading["check"]), str(reading.get("region", ""))


def compliance_poll_account(
    *, payer: str, aws_account_id: str, regions: tuple[str, ...] = ()
) -> ComplianceSnapshotSummary:
    """Read one account's compliance and store the snapshot (and the events, if it turned
    non-compliant or a guardrail drifted). Raises ``StepError`` (with the AWS code) when
    AWS cannot be read; then nothing is stored.

    An account vended with guardrails (``regions``: where they were built) also has them
    read: S3 Block Public Access, EBS encryption by default, GuardDuty and Security Hub
    per region, its budget. Any that is off makes the snapshot non-compliant; one that was
    on in the previous snapshot and is off now is reported as ``GuardrailDrifted``.

    Re-running is harmless: it stores another snapshot, and records an event only for
    rules (or guardrails) that its previous snapshot did not already show failing.
    """
    payer_settings = accounts.payer_settings(name=payer)
    with cloud.aws_errors("AssumeRole"):
        session = cloud.member_session_for(payer_settings=payer_settings, account_id=aws_account_id)
    rules = _read_rules(_config_client(session))
    guardrails: list[dict[str, Any]] = []
    if regions:
        guardrails = baseline.guardrail_readings(
            payer_settings=payer_settings, account_id=aws_account_id, regions=list(regions)
        )
    failing = [str(rule["rule"]) for rule in rules if rule["compliance"] == NON_COMPLIANT]
    off = [reading for reading in guardrails if not reading["ok"]]
    with transaction.atomic():
        previous = (
            ComplianceSnapshot.objects.select_for_update()
            .filter(aws_account_id=aws_account_id)
            .order_by("-taken_at")
            .first()
        )
        before = previous.rules if previous else []
        was_failing = {str(r["rule"]) for r in before if r["compliance"] == NON_COMPLIANT}
        was_on = {_reading_key(r) for r in (previous.guardrails if previous else []) if r["ok"]}
        snapshot = ComplianceSnapshot.objects.create(
            id=ids.new_id(),
            aws_account_id=aws_account_id,
            payer=payer,
            taken_at=clock.now(),
            rules=rules,
            guardrails=guardrails,
            compliant=not failing and not off,
        )
        drifted = [reading for reading in off if _reading_key(reading) in was_on]
        for check in sorted({str(reading["check"]) for reading in drifted}):
            record(
                GuardrailDrifted(
                    payer=payer,
                    guardrail=check,
                    aws_account_id=aws_account_id,
                    subject=aws_account_id,
                    problems=[str(r["detail"]) for r in drifted if r["check"] == check],
                )
            )
        new_rules = [rule for rule in failing if rule not in was_failing]
        if new_rules:
            record(
                AccountNonCompliant(
                    snapshot_id=snapshot.id,
                    aws_account_id=aws_account_id,
                    payer=payer,
                    rules=failing,
                    new_rules=new_rules,
                )
            )
    log.info(
        "compliance.polled",
        aws_account_id=aws_account_id,
        compliant=snapshot.compliant,
        new_rules=new_rules,
        guardrails_drifted=[str(reading["check"]) for reading in drifted],
    )
    return summarize_snapshot(snapshot)


def compliance_poll() -> dict[str, int]:
    """Poll every active managed account; one account's AWS trouble does not stop the others.

    Returns how many accounts were read, found non-compliant, and could not be read.
    """
    outcome = {"polled": 0, "non_compliant": 0, "failed": 0}
    for account in accounts.accounts_active():
        try:
            snapshot = compliance_poll_account(
                payer=account.payer, aws_account_id=account.aws_account_id, regions=account.regions
            )
        except StepError as error:
            log.warning(
                "compliance.poll_failed", aws_account_id=account.aws_account_id, code=error.code, error=error.message
            )
            outcome["failed"] += 1
            continue
        outcome["polled"] += 1
        outcome["non_compliant"] += 0 if snapshot.compliant else 1
    return outcome
