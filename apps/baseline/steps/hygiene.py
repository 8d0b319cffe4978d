"""The ``account_hygiene`` step: alternate contacts, S3 Block Public Access for the
account, EBS encryption by default and an IAM Access Analyzer in every built region."""

from collections.abc import Mapping
from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.guardrail_params import ACCOUNT_HYGIENE_DEFAULT_PARAMS, CONTACT_TYPES
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def alternate_contacts(inputs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The contacts an account gets, by type: the payer's, with the request's technical
    contact as the operations contact's name and email (``<username>@<payer's domain>``)."""
    payer_settings = inputs.get("payer_settings") or {}
    contacts = {
        kind: dict(contact)
        for kind, contact in dict(payer_settings.get("alternate_contacts") or {}).items()
        if kind in CONTACT_TYPES
    }
    technical = inputs.get("technical_contact") or {}
    if "operations" in contacts and technical.get("username"):
        contacts["operations"] |= {
            "name": str(technical.get("full_name") or technical["username"]),
            "email": f"{technical['username']}@{payer_settings.get('email_domain', '')}",
        }
    return contacts


def account_hygiene(context: StepContext) -> dict[str, Any]:
    """Put the account's hygiene settings in place: its alternate contacts, S3 Block
    Public Access for the account, EBS encryption by default and an account-zone IAM
    Access Analyzer in every region the run builds in.

    Idempotent and converging: contacts and the public access block are upserts (a
    removed block is put back); EBS encryption is switched on only where it is off; an
    analyzer is created only where the account has none of that name (one made since the
    look-up is taken).
    """
    params = context.params(ACCOUNT_HYGIENE_DEFAULT_PARAMS)
    account_id = str(context.require("account_id"))
    session = cloud.member_session_of(context.inputs)
    regions = aws.built_regions(context.inputs)
    outputs: dict[str, Any] = {}
    if params["alternate_contacts"]:
        contacts = alternate_contacts(context.inputs)
        account = aws.client("account", session=session)
        for kind, contact in sorted(contacts.items()):
            with cloud.aws_errors("PutAlternateContact"):
                account.put_alternate_contact(
                    AlternateContactType=kind.upper(),
                    Name=contact["name"],
                    Title=contact.get("title") or kind.title(),
                    EmailAddress=contact["email"],
                    PhoneNumber=contact.get("phone") or "+0 000 000 0000",
                )
        outputs["alternate_contacts"] = sorted(contacts)
    if params["s3_block_public_access"]:
        with cloud.aws_errors("PutPublicAccessBlock"):
            aws.client("s3control", session=session).put_public_access_block(
                AccountId=account_id, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
            )
        outputs["s3_block_public_access"] = True
    if params["ebs_encryption_by_default"]:
        for region in regions:
            ec2 = aws.client("ec2", session=session, region=region)
            with cloud.aws_errors("GetEbsEncryptionByDefault"):
                enabled = ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
            if not enabled:
                with cloud.aws_errors("EnableEbsEncryptionByDefault"):
                    ec2.enable_ebs_encryption_by_default()
        outputs["ebs_encryption_regions"] = regions
    if params["access_analyzer"]:
        name = str(params["access_analyzer_name"])
        outputs["access_analyzers"] = {
            region: _ensure_analyzer(
                aws.client("accessanalyzer", session=session, region=region), name=name, inputs=context.inputs
            )
            for region in regions
        }
    return outputs


def analyzer_arn(client: Any, name: str) -> str | None:
    """The ARN of the account's analyzer ``name`` in the client's region, if it has one."""
    with cloud.aws_errors("ListAnalyzers"):
        for page in client.get_paginator("list_analyzers").paginate(type="ACCOUNT"):
            for analyzer in page["analyzers"]:
                if analyzer["name"] == name:
                    return str(analyzer["arn"])
    return None


def _ensure_analyzer(client: Any, *, name: str, inputs: Mapping[str, Any]) -> str:
    existing = analyzer_arn(client, name)
    if existing:
        return existing
    tags = {tag["Key"]: tag["Value"] for tag in aws_tags(inputs, request_tags=False)}
    try:
        with cloud.aws_errors("CreateAnalyzer"):
            return str(client.create_analyzer(analyzerName=name, type="ACCOUNT", tags=tags)["arn"])
    except PermanentError as error:
        # One of that name made since the look-up (an earlier delivery of the step) is taken.
        existing = analyzer_arn(client, name)
        if error.code != "ConflictException" or existing is None:
            raise
        return existing
