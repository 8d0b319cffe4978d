"""What ``verify`` and the compliance poller read back of the account guardrails: one
reading per setting and region (``{"check", "region", "ok", "detail"}``), and the
read-backs of the ``account_hygiene``, ``security_services`` and ``budget`` steps."""

from collections.abc import Callable, Mapping
from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.budget import BUDGETS_REGION, described_budget
from apps.baseline.steps.guardrail_params import DEFAULT_PARAMS
from apps.baseline.steps.hygiene import PUBLIC_ACCESS_BLOCK, alternate_contacts, analyzer_arn
from apps.baseline.steps.security_services import detector_of, hub_enabled
from apps.cloud import api as cloud
from apps.kernel.contracts import ReadBack
from apps.kernel.steptools import merged_params

# The checks the compliance poller reads for every active account.
POLLED_CHECKS = ("s3_block_public_access", "ebs_encryption_by_default", "guardduty", "security_hub", "budget")

Reading = dict[str, Any]


def _reading(check: str, ok: bool, detail: str, region: str = "") -> Reading:
    return {"check": check, "region": region, "ok": ok, "detail": "" if ok else detail}


def _public_access_block(session: Any, account_id: str) -> list[Reading]:
    current = aws.lookup(
        "GetPublicAccessBlock",
        lambda: aws.client("s3control", session=session).get_public_access_block(AccountId=account_id)[
            "PublicAccessBlockConfiguration"
        ],
        missing="NoSuchPublicAccessBlockConfiguration",
    )
    ok = current is not None and all(current.get(key) for key in PUBLIC_ACCESS_BLOCK)
    return [_reading("s3_block_public_access", ok, "S3 Block Public Access is off for the account.")]


def _ebs(session: Any, region: str) -> Reading:
    with cloud.aws_errors("GetEbsEncryptionByDefault"):
        ok = bool(
            aws.client("ec2", session=session, region=region).get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
        )
    return _reading("ebs_encryption_by_default", ok, f"EBS encryption by default is off in {region}.", region)


def _guardduty(session: Any, region: str) -> Reading:
    client = aws.client("guardduty", session=session, region=region)
    detector = detector_of(client)
    ok = detector is not None
    if detector is not None:
        with cloud.aws_errors("GetDetector"):
            ok = client.get_detector(DetectorId=detector)["Status"] == "ENABLED"
    return _reading("guardduty", ok, f"GuardDuty is not enabled in {region}.", region)


def _security_hub(session: Any, region: str) -> Reading:
    ok = hub_enabled(aws.client("securityhub", session=session, region=region))
    return _reading("security_hub", ok, f"Security Hub is not enabled in {region}.", region)


def _budget(session: Any, account_id: str, name: str) -> list[Reading]:
    client = aws.client("budgets", session=session, region=BUDGETS_REGION)
    ok = described_budget(client, account_id=account_id, name=name) is not None
    return [_reading("budget", ok, f"The account has no budget {name}.")]


def guardrail_readings(
    *,
    payer_settings: Mapping[str, Any],
    account_id: str,
    regions: list[str],
    checks: tuple[str, ...] = POLLED_CHECKS,
    budget_name: str = DEFAULT_PARAMS["budget"]["name"],
) -> list[Reading]:
    """The account's guardrail settings as AWS reports them now, check by check and
    region by region. AWS errors raise ``StepError``s."""
    session = cloud.member_session_for(payer_settings=payer_settings, account_id=account_id)
    regional: dict[str, Callable[[Any, str], Reading]] = {
        "ebs_encryption_by_default": _ebs,
        "guardduty": _guardduty,
        "security_hub": _security_hub,
    }
    readings: list[Reading] = []
    for check in checks:
        if check == "s3_block_public_access":
            readings += _public_access_block(session, account_id)
        elif check == "budget":
            readings += _budget(session, account_id, budget_name)
        elif check in regional:
            readings += [regional[check](session, region) for region in regions]
    return readings


def _problems(readings: list[Reading]) -> list[str]:
    return [str(reading["detail"]) for reading in readings if not reading["ok"]]


def account_hygiene_problems(check: ReadBack) -> list[str]:
    params = merged_params("account_hygiene", check.params, DEFAULT_PARAMS["account_hygiene"])
    regions = aws.built_regions(check.inputs)
    checks = tuple(name for name in ("s3_block_public_access", "ebs_encryption_by_default") if params[name])
    problems = _problems(
        guardrail_readings(
            payer_settings=check.payer_settings, account_id=check.account_id, regions=regions, checks=checks
        )
    )
    session = cloud.member_session_for(payer_settings=check.payer_settings, account_id=check.account_id)
    if params["alternate_contacts"]:
        account = aws.client("account", session=session)
        for kind, contact in sorted(alternate_contacts(check.inputs).items()):
            current = _alternate_contact(account, kind)
            if current is None or current.get("EmailAddress") != contact["email"]:
                problems.append(f"The {kind} alternate contact is not {contact['email']}.")
    if params["access_analyzer"]:
        for region in regions:
            client = aws.client("accessanalyzer", session=session, region=region)
            if analyzer_arn(client, str(params["access_analyzer_name"])) is None:
                problems.append(f"IAM Access Analyzer {params['access_analyzer_name']} is missing in {region}.")
    return problems


def _alternate_contact(account: Any, kind: str) -> dict[str, Any] | None:
    def get() -> dict[str, Any]:
        return dict(account.get_alternate_contact(AlternateContactType=kind.upper())["AlternateContact"])

    return aws.lookup("GetAlternateContact", get, missing="ResourceNotFoundException")


def security_services_problems(check: ReadBack) -> list[str]:
    params = merged_params("security_services", check.params, DEFAULT_PARAMS["security_services"])
    checks = tuple(name for name in ("guardduty", "security_hub") if params[name])
    return _problems(
        guardrail_readings(
            payer_settings=check.payer_settings,
            account_id=check.account_id,
            regions=aws.built_regions(check.inputs),
            checks=checks,
        )
    )


def budget_problems(check: ReadBack) -> list[str]:
    params = merged_params("budget", check.params, DEFAULT_PARAMS["budget"])
    return _problems(
        guardrail_readings(
            payer_settings=check.payer_settings,
            account_id=check.account_id,
            regions=[],
            checks=("budget",),
            budget_name=str(params["name"]),
        )
    )
