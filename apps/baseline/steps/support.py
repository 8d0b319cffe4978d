"""The ``support`` step: the Enterprise Support case that adds the account to the payer's plan."""

from collections.abc import Mapping
from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.params import SUPPORT_DEFAULT_PARAMS
from apps.cloud import api as cloud
from apps.kernel.steps import StepContext


def support(context: StepContext) -> dict[str, Any]:
    """Ask AWS Support, from the payer's management account, to add the new account to
    the payer's Enterprise Support plan.

    Idempotent: before opening a case it reads every case of the management account
    (resolved ones included) and reuses one whose subject carries the account id.
    """
    params = context.params(SUPPORT_DEFAULT_PARAMS)
    if not params.get("enabled", True):
        return {"skipped": True}
    inputs = context.inputs
    account_id = str(context.require("account_id"))
    session = cloud.management_session_of(context.inputs)
    client = aws.client("support", session=session, region=params.get("region") or "us-east-1")
    with cloud.aws_errors("DescribeCases"):
        for page in client.get_paginator("describe_cases").paginate(includeResolvedCases=True, language="en"):
            for case in page.get("cases", []):
                if account_id in case.get("subject", ""):
                    return {"case_id": case["caseId"]}
    with cloud.aws_errors("CreateCase"):
        created = client.create_case(
            subject=f"Add account {account_id} to Enterprise Support",
            communicationBody=_support_request(inputs, account_id),
            serviceCode=params["service_code"],
            categoryCode=params["category_code"],
            severityCode=params["severity_code"],
            issueType=params["issue_type"],
            ccEmailAddresses=list(params.get("cc_email_addresses") or []),
            language="en",
        )
    return {"case_id": created["caseId"]}


def _support_request(inputs: Mapping[str, Any], account_id: str) -> str:
    payer_settings = inputs.get("payer_settings") or {}
    return (
        f"Please add the new member account {account_id} to the Enterprise Support plan of our "
        f"organization (management account {payer_settings.get('management_account_id', 'unknown')}).\n\n"
        f"Account name: {inputs.get('account_name', '')}\n"
        f"Account email: {inputs.get('account_email', '')}\n"
        f"Requested through Bespoke, request {inputs.get('request_id', '')}."
    )
