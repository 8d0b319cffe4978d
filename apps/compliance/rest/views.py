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


class ComplianceQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
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
        "taken_at": snapshot.taken_at.isoformat(),
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
        query = ComplianceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        snapshots = snapshots_latest(
            viewer=request.user,  # type: ignore[arg-type]
            account=query.validated_data.get("account"),
            compliant=query.validated_data["compliant"],
        )
        return Response({"count": len(snapshots), "results": [present_snapshot(s) for s in snapshots]})
