"""Compliance over the API: the latest Config rule reading of each managed account."""

from typing import Any

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


def present_snapshot(snapshot: ComplianceSnapshotSummary) -> dict[str, Any]:
    return {
        "account_id": snapshot.aws_account_id,
        "payer": snapshot.payer,
        "taken_at": snapshot.taken_at.isoformat(),
        "compliant": snapshot.compliant,
        "rules": list(snapshot.rules),
    }


class ComplianceListView(APIView):
    """``GET``: each account's latest snapshot; ``?account=<12 digits>``, ``?compliant=true|false``."""

    required_scopes = (ACCOUNTS_READ,)

    def get(self, request: Request) -> Response:
        query = ComplianceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        snapshots = snapshots_latest(
            account=query.validated_data.get("account"), compliant=query.validated_data["compliant"]
        )
        return Response({"count": len(snapshots), "results": [present_snapshot(s) for s in snapshots]})
