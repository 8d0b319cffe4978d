"""The accounts API: managed accounts, their provisioning history, and commands on them."""

from dataclasses import asdict
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.commands import command_approve, command_issue, command_reject
from apps.accounts.contracts import (
    COMMAND_ADOPT,
    COMMAND_CLOSE,
    COMMAND_MOVE,
    COMMAND_REAPPLY,
    AccountCommandSummary,
    ManagedAccountSummary,
)
from apps.accounts.rest.serializers import (
    AccountCommandListSerializer,
    AccountCommandSerializer,
    AccountListQuerySerializer,
    AdoptSerializer,
    CloseSerializer,
    CommandRejectSerializer,
    ManagedAccountDetailSerializer,
    ManagedAccountListSerializer,
    MoveSerializer,
    ReapplySerializer,
    command_data,
)
from apps.accounts.selectors import account_get, account_list, command_get, commands_for_account, payer_get
from apps.clients.contracts import ACCOUNTS_ADMIN, ACCOUNTS_READ, OPERATIONS_ADMIN, Principal
from apps.kernel.errors import NotFound
from apps.kernel.openapi import ErrorSerializer, links_to
from apps.kernel.rest import iso, page_query, page_response
from apps.workflow import api as workflow


def _account_url(http: Request, account_id: str) -> str:
    return http.build_absolute_uri(reverse("v1:account-detail", kwargs={"account_id": account_id}))


def _command_url(http: Request, account_id: str, command_id: str) -> str:
    return http.build_absolute_uri(
        reverse("v1:account-command-detail", kwargs={"account_id": account_id, "command_id": command_id})
    )


def present_account(http: Request, account: ManagedAccountSummary) -> dict[str, Any]:
    return {
        **asdict(account),
        "created_at": iso(account.created_at),
        "updated_at": iso(account.updated_at),
        "closed_at": iso(account.closed_at),
        "url": _account_url(http, account.id),
    }


def present_command(http: Request, command: AccountCommandSummary) -> dict[str, Any]:
    """The command's status document, with its run's steps."""
    return {
        "id": command.id,
        "account_id": command.account_id,
        "command": command.command,
        "params": command.params,
        "status": command.status,
        "status_url": _command_url(http, command.account_id, command.id),
        "requested_by": command.requested_by or None,
        "approved_by": command.approved_by or None,
        "approved_at": iso(command.approved_at),
        "failure": command.failure or None,
        "created_at": iso(command.created_at),
        "finished_at": iso(command.finished_at),
        "run": workflow.run_document(workflow.run_for_request(request_id=command.id)),
    }


COMMAND_BODY = PolymorphicProxySerializer(
    component_name="AccountCommandInput",
    serializers={
        COMMAND_REAPPLY: ReapplySerializer,
        COMMAND_ADOPT: AdoptSerializer,
        COMMAND_MOVE: MoveSerializer,
        COMMAND_CLOSE: CloseSerializer,
    },
    resource_type_field_name="command",
)

COMMAND_EXAMPLES = [
    OpenApiExample(
        "Reapply blueprint steps",
        value={"command": "reapply", "steps": ["config", "vpc"]},
        request_only=True,
    ),
    OpenApiExample(
        "Adopt an account found in the Organization",
        value={"command": "adopt", "environment": "dev", "region": "us-east-1", "payer": "demo"},
        request_only=True,
    ),
    OpenApiExample("Move to another OU", value={"command": "move", "ou": "ou-ab12-cd34ef56"}, request_only=True),
    OpenApiExample("Close the account", value={"command": "close", "confirm": "123456789012"}, request_only=True),
]


def _principal(request: Request) -> Principal:
    principal: Principal = request.user  # type: ignore[assignment]
    return principal


def _account(request: Request, account_id: str) -> ManagedAccountSummary:
    """The account, if the caller's grants cover it; 404 otherwise (whether or not it exists)."""
    account = account_get(identifier=account_id, viewer=_principal(request))
    if account is None:
        raise NotFound(f"No account {account_id}.", code="account_not_found")
    return account


# What an account's and a command's ids lead to (OpenAPI links).
ACCOUNT_OPERATIONS = ("accounts_retrieve", "account_commands_list", "account_commands_create")
COMMAND_OPERATIONS = ("account_commands_retrieve", "account_commands_approve", "account_commands_reject")


class AccountCollectionView(APIView):
    """``GET`` managed accounts, filtered by payer, environment, status, source or tag."""

    required_scopes = (ACCOUNTS_READ,)
    openapi_links = {"GET": {"200": links_to(ACCOUNT_OPERATIONS, account_id="$response.body#/results/0/id")}}

    @extend_schema(
        operation_id="accounts_list",
        summary="Managed accounts",
        parameters=[AccountListQuerySerializer],
        responses={
            200: ManagedAccountListSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="A parameter is invalid (`validation_error`), or `payer` names no payer this client "
                "is granted: the schema cannot say which payers exist.",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        filters = page_query(AccountListQuerySerializer, request)
        principal = _principal(request)
        payer = filters.get("payer")
        if payer is not None and (not principal.access.covers(payer) or payer_get(name=payer) is None):
            raise ValidationError({"payer": [f"{filters['payer']} is not a payer this client is granted."]})
        tag_key, tag_value = filters.get("tag", (None, None))
        total, items = account_list(
            viewer=principal,
            payer=filters.get("payer"),
            environment=filters.get("environment"),
            status=filters.get("status"),
            source=filters.get("source"),
            tag_key=tag_key,
            tag_value=tag_value,
            limit=filters["limit"],
            offset=filters["offset"],
        )
        return page_response(
            ManagedAccountListSerializer, count=total, results=[present_account(request, item) for item in items]
        )


class AccountDetailView(APIView):
    """One account (by Bespoke id or 12-digit AWS id) and its history: the run that
    vended it and every command's run, with their steps."""

    required_scopes = (ACCOUNTS_READ,)

    @extend_schema(
        operation_id="accounts_retrieve",
        summary="An account, with its provisioning run and commands",
        responses=ManagedAccountDetailSerializer,
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = _account(request, account_id)
        vend_run = workflow.run_for_request(request_id=account.request_id) if account.request_id else None
        document = {
            **present_account(request, account),
            "provisioning": workflow.run_document(vend_run),
            "commands": [present_command(request, c) for c in commands_for_account(account_id=account.id)],
        }
        return Response(ManagedAccountDetailSerializer(document).data)


class AccountCommandCollectionView(APIView):
    """``POST`` a command on the account (202 + status URL); ``GET`` its commands."""

    required_scopes = {"POST": (ACCOUNTS_ADMIN,), "GET": (ACCOUNTS_READ,)}
    openapi_links = {
        "POST": {
            "202": links_to(
                COMMAND_OPERATIONS, account_id="$response.body#/account_id", command_id="$response.body#/id"
            )
        },
        "GET": {
            "200": links_to(
                COMMAND_OPERATIONS,
                account_id="$response.body#/results/0/account_id",
                command_id="$response.body#/results/0/id",
            )
        },
    }

    @extend_schema(
        operation_id="account_commands_create",
        summary="Issue a command on an account",
        description=(
            "`reapply` re-runs blueprint steps on an active account; `adopt` brings an unmanaged account "
            "(or one known only by its 12-digit AWS id in the payer's Organization) under management; "
            "`move` moves it to another OU; `close` closes it (`confirm` repeats its AWS account id)."
        ),
        request=COMMAND_BODY,
        responses={
            202: AccountCommandSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "The body is invalid (`validation_error`) or does not fit the account "
                    "(`confirmation_mismatch`, `step_not_in_blueprint`, `wrong_payer`, `invalid_command`)."
                ),
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "The account's status forbids the command (`account_state_conflict`), another command "
                    "is still running on it (`command_in_progress`), or the payer's closure quota is "
                    "spent (`closure_quota_exceeded`)."
                ),
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="Organizations could not be asked about the account (`organizations_unavailable`).",
            ),
        },
        examples=COMMAND_EXAMPLES,
    )
    def post(self, request: Request, account_id: str) -> Response:
        data = command_data(request.data)
        principal = _principal(request)
        issued = command_issue(identifier=account_id, data=data, actor=principal.actor, viewer=principal)
        command = command_get(account_id=issued.account_id, command_id=issued.id)
        assert command is not None
        document = AccountCommandSerializer(present_command(request, command)).data
        return Response(document, status=status.HTTP_202_ACCEPTED, headers={"Location": document["status_url"]})

    @extend_schema(
        operation_id="account_commands_list",
        summary="An account's commands",
        responses=AccountCommandListSerializer,
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = _account(request, account_id)
        commands = commands_for_account(account_id=account.id)
        return page_response(
            AccountCommandListSerializer, count=len(commands), results=[present_command(request, c) for c in commands]
        )


class AccountCommandDetailView(APIView):
    """A command's status, with its run and steps."""

    required_scopes = (ACCOUNTS_READ,)

    @extend_schema(
        operation_id="account_commands_retrieve",
        summary="A command's status, with its run and steps",
        responses=AccountCommandSerializer,
    )
    def get(self, request: Request, account_id: str, command_id: str) -> Response:
        account = _account(request, account_id)
        command = command_get(account_id=account.id, command_id=command_id)
        if command is None:
            raise NotFound(f"No command {command_id} on account {account_id}.", code="command_not_found")
        return Response(AccountCommandSerializer(present_command(request, command)).data)


class AccountCommandApproveView(APIView):
    """Approve a command that waits for a second person (a close): it runs from here (202)."""

    required_scopes = (OPERATIONS_ADMIN,)

    @extend_schema(
        operation_id="account_commands_approve",
        summary="Approve a command awaiting approval",
        request=None,
        responses={
            202: AccountCommandSerializer,
            403: OpenApiResponse(
                ErrorSerializer, description="The caller issued the command itself (`four_eyes`): someone else must."
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The command is not awaiting approval (`command_state_conflict`), the account is "
                "protected (`account_protected`) or changed (`account_state_conflict`), or the closure quota is "
                "spent (`closure_quota_exceeded`).",
            ),
        },
    )
    def post(self, request: Request, account_id: str, command_id: str) -> Response:
        principal = _principal(request)
        approved = command_approve(
            command_id=command_id, approver=principal.actor, viewer=principal, account_identifier=account_id
        )
        command = command_get(account_id=approved.account_id, command_id=approved.id)
        assert command is not None
        document = AccountCommandSerializer(present_command(request, command)).data
        return Response(document, status=status.HTTP_202_ACCEPTED, headers={"Location": document["status_url"]})


class AccountCommandRejectView(APIView):
    """Refuse a command awaiting approval, with a reason (it ends cancelled; nothing happened)."""

    required_scopes = (OPERATIONS_ADMIN,)

    @extend_schema(
        operation_id="account_commands_reject",
        summary="Reject a command awaiting approval",
        request=CommandRejectSerializer,
        responses={
            200: AccountCommandSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="The command is not awaiting approval (`command_state_conflict`)."
            ),
        },
    )
    def post(self, request: Request, account_id: str, command_id: str) -> Response:
        principal = _principal(request)
        body = CommandRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rejected = command_reject(
            command_id=command_id,
            approver=principal.actor,
            reason=body.validated_data["reason"],
            viewer=principal,
            account_identifier=account_id,
        )
        command = command_get(account_id=rejected.account_id, command_id=rejected.id)
        assert command is not None
        return Response(AccountCommandSerializer(present_command(request, command)).data)
