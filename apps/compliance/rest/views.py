"""Compliance over the API: the latest Config rule reading of each managed account."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.contracts import ACCOUNTS_READ
from apps.compliance.contracts import ComplianceSnapshotSummary
from apps.compliance.selectors import snapshots_latest
from apps.kernel.rest import QuerySerializer, iso, page_query, page_response


class ComplianceQuerySerializer(QuerySerializer):
    account = serializers.RegexField(
        r"^\d{12}$", required=False, error_messages={"invalid": "A 12-digit AWS account id."}
    )
    compliant = serializers.BooleanField(required=False, allow_null=True, default=None)


class NonCompliantResourceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.CharField(allow_blank=True, help_text="The AWS resource type, e.g. `AWS::S3::Bucket`.")
    id = serializers.CharField(allow_blank=True)


class RuleComplianceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    rule = serializers.CharField(help_text="The Config rule's name.")
    compliance = serializers.CharField(
        help_text="`COMPLIANT`, `NON_COMPLIANT`, `NOT_APPLICABLE` or `INSUFFICIENT_DATA`."
    )
    non_compliant_resources = NonCompliantResourceSerializer(many=True)


class GuardrailReadingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    check = serializers.CharField(
        help_text="`s3_block_public_access`, `ebs_encryption_by_default`, `guardduty`, `security_hub` or `budget`."
    )
    region = serializers.CharField(allow_blank=True, help_text="Empty for account-wide settings.")
    ok = serializers.BooleanField(help_text="Whether the setting is in place.")
    detail = serializers.CharField(allow_blank=True, help_text="What is wrong, when it is not.")


class ComplianceSnapshotSerializer(serializers.Serializer):  # type: ignore[type-arg]
    account_id = serializers.CharField()
    payer = serializers.CharField()
    taken_at = serializers.DateTimeField()
    compliant = serializers.BooleanField(help_text="No Config rule non-compliant and every guardrail read in place.")
    rules = RuleComplianceSerializer(many=True)
    guardrails = GuardrailReadingSerializer(
        many=True, help_text="The guardrail settings read (accounts vended with guardrails only)."
    )


class ComplianceListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = ComplianceSnapshotSerializer(many=True)


def present_snapshot(snapshot: ComplianceSnapshotSummary) -> dict[str, Any]:
    return {
        "account_id": snapshot.aws_account_id,
        "payer": snapshot.payer,
        "taken_at": iso(snapshot.taken_at),
        "compliant": snapshot.compliant,
        "rules": list(snapshot.rules),
        "guardrails": list(snapshot.guardrails),
    }


class ComplianceListView(APIView):
    """``GET``: each account's latest snapshot; ``?account=<12 digits>``, ``?compliant=true|false``."""

    required_scopes = (ACCOUNTS_READ,)

    @extend_schema(
        operation_id="compliance_list",
        summary="Each account's latest compliance snapshot",
        parameters=[ComplianceQuerySerializer],
        responses=ComplianceListSerializer,
    )
    def get(self, request: Request) -> Response:
        query = page_query(ComplianceQuerySerializer, request)
        snapshots = snapshots_latest(
            viewer=request.user,  # type: ignore[arg-type]
            account=query.get("account"),
            compliant=query["compliant"],
        )
        return page_response(
            ComplianceListSerializer, count=len(snapshots), results=[present_snapshot(s) for s in snapshots]
        )
