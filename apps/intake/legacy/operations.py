"""Tailor's operations on accounts: ``/accounts`` (look up, request, update its tags),
``GET /accounts/ids`` and the per-service ``PUT``s, each of which starts a ``reapply``
command of its step on the account through the accounts context and answers 202
``{"code": "2020", "message": "Request Accepted", "requestId": <the command's id>}``.

The ``accountCbAlias`` header names the payer, as in Tailor: a payer the client is not
granted is refused (4030) before anything says whether it exists; an unknown one is 4000.
Accounts are found only within the caller's grants (otherwise 4040, as on v1).
"""

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import api as accounts
from apps.accounts.contracts import ManagedAccountSummary
from apps.clients.contracts import ACCOUNTS_ADMIN, ACCOUNTS_READ, REQUESTS_WRITE
from apps.intake.legacy import wire
from apps.intake.legacy.errors import LegacyBadRequest, LegacyNotFound
from apps.intake.legacy.serializers import (
    ACCOUNT_ID,
    AccountIdSerializer,
    AccountUpdateEnvelopeSerializer,
    AccountUpdateSerializer,
    LegacyAccountIdsSerializer,
    LegacyAccountSerializer,
    VpcDnsSerializer,
    VpcFlowLogsSerializer,
)
from apps.intake.legacy.views import (
    LegacyAcceptedSerializer,
    LegacyAPIView,
    LegacyErrorSerializer,
    LegacyRequestSerializer,
    submit_account_request,
)
from apps.intake.selectors import request_get_unscoped
from apps.workflow import api as workflow


def re_match(pattern: str, value: str) -> bool:
    return re.match(pattern, value) is not None


BAD_REQUEST = {
    400: OpenApiResponse(LegacyErrorSerializer, description="A header, query or body value is invalid (4000).")
}
NOT_FOUND = {
    404: OpenApiResponse(LegacyErrorSerializer, description="No such account within the client's grants (4040).")
}
CONFLICT = {
    409: OpenApiResponse(
        LegacyErrorSerializer, description="A command is still running on the account, or it is not active (4090)."
    )
}
_View = TypeVar("_View", bound=Callable[..., Response])

CB_ALIAS = OpenApiParameter("accountCbAlias", str, OpenApiParameter.HEADER, required=True)
ACCOUNT_ID_DASHED = r"^[0-9]{4}-[0-9]{4}-[0-9]{4}$"
_LOOKUP_LIMIT = 10_000


def _payer(request: Request, view: LegacyAPIView) -> str:
    """The payer the ``accountCbAlias`` header names, if the caller is granted it."""
    alias = request.headers.get("accountCbAlias", "").strip()
    if not alias:
        raise LegacyBadRequest({"accountCbAlias": ["This header is required."]})
    view.principal.access.require(alias)
    if accounts.payer_get(name=alias) is None:
        raise LegacyBadRequest({"accountCbAlias": [f"Unknown payer {alias!r}."]})
    return alias


def _request_fields(account: ManagedAccountSummary) -> dict[str, Any]:
    """What the request that vended ``account`` said (Tailor kept it beside the account)."""
    vended = request_get_unscoped(request_id=account.request_id) if account.request_id else None
    return dict(vended.body) if vended else {}


def account_document(account: ManagedAccountSummary) -> dict[str, Any]:
    """Tailor's account lookup answer, its keys in its order."""
    body = _request_fields(account)
    requestor = body.get("requestor") or {}
    return {
        "accountId": account.aws_account_id,
        "accountStatus": account.status.upper(),
        "emailAddress": account.email,
        "regulated": bool(body.get("regulated", False)),
        "accountName": account.tags.get("project_name") or account.name,
        "costCenter": account.tags.get("cost_center", ""),
        "environment": account.environment,
        "department": requestor.get("department", ""),
        "requestorName": requestor.get("full_name", ""),
        "technicalContactName": (body.get("technical_contact") or {}).get("full_name", ""),
    }


def _vpc_cidrs(account: ManagedAccountSummary) -> dict[str, str]:
    """The account's VPC CIDRs by region, from the run that vended it."""
    run = workflow.run_for_request(request_id=account.request_id) if account.request_id else None
    found: dict[str, str] = {}
    for step in run.steps if run else ():
        if step.name != "vpc" or step.state != "succeeded":
            continue
        vpcs = step.outputs.get("vpcs")
        if isinstance(vpcs, dict):
            found.update({str(region): str(vpc["cidr"]) for region, vpc in vpcs.items() if vpc.get("cidr")})
        elif step.outputs.get("cidr") and run is not None:
            found[str(run.params.get("region", ""))] = str(step.outputs["cidr"])
    return found


class LegacyAccountsView(LegacyAPIView):
    """Tailor's ``/accounts``: ``GET`` looks an account up, ``POST`` requests one (also at
    ``/account``), ``PUT`` changes its tags."""

    required_scopes = {"GET": (ACCOUNTS_READ,), "POST": (REQUESTS_WRITE,), "PUT": (ACCOUNTS_ADMIN,)}

    @extend_schema(
        operation_id="legacy_accounts_create",
        summary="Request an account (Tailor's API)",
        tags=["legacy"],
        request=LegacyRequestSerializer,
        responses={
            202: LegacyAcceptedSerializer,
            409: OpenApiResponse(LegacyErrorSerializer, description="A live request for the same account (4090)."),
        },
    )
    def post(self, request: Request) -> Response:
        return submit_account_request(self, request)

    @extend_schema(
        operation_id="legacy_accounts_lookup",
        summary="Look an account up by id, email address or IP address (Tailor's API)",
        tags=["legacy"],
        parameters=[
            CB_ALIAS,
            OpenApiParameter("accountid", str),
            OpenApiParameter("emailaddress", str),
            OpenApiParameter("ipaddress", str),
        ],
        responses={200: LegacyAccountSerializer, **BAD_REQUEST, **NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        payer = _payer(request, self)
        query = request.query_params
        account: ManagedAccountSummary | None = None
        if query.get("accountid"):
            account_id = query["accountid"]
            if not (re_match(ACCOUNT_ID, account_id) or re_match(ACCOUNT_ID_DASHED, account_id)):
                raise LegacyBadRequest({"accountid": ["12 digits, or 1234-5678-9012."]})
            account = accounts.account_get(identifier=account_id.replace("-", ""), viewer=self.principal)
        elif query.get("emailaddress"):
            account = self._by_email(payer, query["emailaddress"])
        elif query.get("ipaddress"):
            try:
                address = ipaddress.ip_address(query["ipaddress"])
            except ValueError as error:
                raise LegacyBadRequest({"ipaddress": ["Not an IP address."]}) from error
            return Response(self._by_address(payer, address))
        else:
            raise LegacyBadRequest({"accountRequest": ["Name accountid, emailaddress or ipaddress."]})
        if account is None or account.payer != payer:
            raise LegacyNotFound("No such account.", body=wire.ACCOUNT_NOT_FOUND)
        return Response(account_document(account))

    def _by_email(self, payer: str, email: str) -> ManagedAccountSummary | None:
        _, found = accounts.account_list(viewer=self.principal, payer=payer, limit=_LOOKUP_LIMIT)
        return next((account for account in found if account.email.lower() == email.strip().lower()), None)

    def _by_address(self, payer: str, address: Any) -> dict[str, Any]:
        _, found = accounts.account_list(viewer=self.principal, payer=payer, limit=_LOOKUP_LIMIT)
        for account in found:
            cidrs = _vpc_cidrs(account)
            if any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs.values()):
                document = account_document(account)
                return {
                    **{key: document[key] for key in ("accountId", "accountStatus", "emailAddress", "regulated")},
                    **{key: document[key] for key in ("accountName", "requestorName", "technicalContactName")},
                    "vpcCidr": cidrs,
                }
        raise LegacyNotFound("No account's VPC holds that address.", body=wire.ACCOUNT_NOT_FOUND)

    @extend_schema(
        operation_id="legacy_accounts_update",
        summary="Change an account's tags (Tailor's API)",
        tags=["legacy"],
        parameters=[CB_ALIAS, OpenApiParameter("accountid", str, required=True)],
        request=AccountUpdateEnvelopeSerializer,
        responses={202: LegacyAcceptedSerializer, **BAD_REQUEST, **NOT_FOUND, **CONFLICT},
    )
    def put(self, request: Request) -> Response:
        payer = _payer(request, self)
        account_id = request.query_params.get("accountid", "").replace("-", "")
        if not re_match(ACCOUNT_ID, account_id):
            raise LegacyBadRequest({"accountid": ["12 digits, or 1234-5678-9012."]})
        envelope = request.data.get("accountUpdate") if isinstance(request.data, dict) else None
        update = AccountUpdateSerializer(data=envelope if isinstance(envelope, dict) else {})
        update.is_valid(raise_exception=True)
        account = accounts.account_get(identifier=account_id, viewer=self.principal)
        if account is None or account.payer != payer:
            raise LegacyNotFound(f"No account {account_id}.")
        names = {"accountTagCostCenter": "cost_center", "accountTagLongProjectName": "project_name"}
        tags = {names[field]: value for field, value in update.validated_data.items()}
        accounts.account_tags_update(identifier=account.id, tags=tags, viewer=self.principal)
        return Response(wire.accepted(str(uuid.uuid4())), status=status.HTTP_202_ACCEPTED)


class LegacyAccountIdsView(LegacyAPIView):
    """Tailor's ``GET /accounts/ids``: the payer's active accounts' ids. Tailor's API
    Gateway answered it with 202, and so does Bespoke."""

    required_scopes = (ACCOUNTS_READ,)

    @extend_schema(
        operation_id="legacy_account_ids",
        summary="The payer's active account ids (Tailor's API)",
        tags=["legacy"],
        parameters=[CB_ALIAS],
        responses={202: LegacyAccountIdsSerializer, **BAD_REQUEST},
    )
    def get(self, request: Request) -> Response:
        payer = _payer(request, self)
        _, found = accounts.account_list(viewer=self.principal, payer=payer, status="active", limit=_LOOKUP_LIMIT)
        ids = sorted(account.aws_account_id for account in found if account.aws_account_id)
        return Response(
            {"accountCbAlias": payer, "accountIds": ids, "count": len(ids)}, status=status.HTTP_202_ACCEPTED
        )


class _ReapplyView(LegacyAPIView):
    """A per-service ``PUT``: reapply the account's steps that report ``tasks``."""

    required_scopes = (ACCOUNTS_ADMIN,)
    tasks: tuple[str, ...] = ()
    body: type[AccountIdSerializer] | None = None
    needs_alias = False

    def reapply(self, request: Request, account_id: str | None) -> Response:
        payer = _payer(request, self) if self.needs_alias else None
        if self.body is not None:
            body = self.body(data=request.data if isinstance(request.data, dict) else {})
            body.is_valid(raise_exception=True)
            account_id = str(body.validated_data["accountId"])
        assert account_id is not None
        if not re_match(ACCOUNT_ID, account_id):
            raise LegacyBadRequest({"accountId": ["12 digits."]})
        account = accounts.account_get(identifier=account_id, viewer=self.principal)
        if account is None or (payer is not None and account.payer != payer):
            raise LegacyNotFound(f"No account {account_id}.")
        command_id = accounts.account_reapply_tasks(
            identifier=account.id, legacy_names=self.tasks, actor=self.principal.actor, viewer=self.principal
        )
        return Response(wire.accepted(command_id), status=status.HTTP_202_ACCEPTED)


def _reapply_schema(
    operation_id: str, summary: str, *, body: Any = None, alias: bool = False
) -> Callable[[_View], _View]:
    decorator: Callable[[_View], _View] = extend_schema(
        operation_id=operation_id,
        summary=f"{summary} (Tailor's API)",
        tags=["legacy"],
        parameters=[CB_ALIAS] if alias else [],
        request=body,
        responses={202: LegacyAcceptedSerializer, **BAD_REQUEST, **NOT_FOUND, **CONFLICT},
    )
    return decorator


class LegacyVpcFlowLogsView(_ReapplyView):
    tasks = ("VPCFLOWLOGS",)
    body = VpcFlowLogsSerializer
    needs_alias = True

    @_reapply_schema("legacy_vpcflowlogs_update", "Reapply VPC flow logs", body=VpcFlowLogsSerializer, alias=True)
    def put(self, request: Request) -> Response:
        return self.reapply(request, None)


class LegacyVpcDnsView(_ReapplyView):
    tasks = ("VPCDNS",)
    body = VpcDnsSerializer

    @_reapply_schema("legacy_vpcdns_update", "Reapply the VPC's DNS settings", body=VpcDnsSerializer)
    def put(self, request: Request) -> Response:
        return self.reapply(request, None)


class LegacyConfigRulesView(_ReapplyView):
    tasks = ("CONFIG", "AWSCONFIG")
    body = AccountIdSerializer
    needs_alias = True

    @_reapply_schema(
        "legacy_configrules_update", "Reapply AWS Config and its rules", body=AccountIdSerializer, alias=True
    )
    def put(self, request: Request) -> Response:
        return self.reapply(request, None)


class LegacyCloudTrailView(_ReapplyView):
    tasks = ("CLOUDTRAIL",)

    @_reapply_schema("legacy_cloudtrail_update", "Reapply CloudTrail")
    def put(self, request: Request, aws_account_id: str) -> Response:
        return self.reapply(request, aws_account_id)


class LegacyConfigView(_ReapplyView):
    tasks = ("CONFIG", "AWSCONFIG")

    @_reapply_schema("legacy_config_update", "Reapply AWS Config")
    def put(self, request: Request, aws_account_id: str) -> Response:
        return self.reapply(request, aws_account_id)


class LegacyCloudabilityView(_ReapplyView):
    tasks = ("CLOUDABILITY",)

    @_reapply_schema("legacy_cloudability_update", "Reapply the Cloudability registration")
    def put(self, request: Request, aws_account_id: str) -> Response:
        return self.reapply(request, aws_account_id)
