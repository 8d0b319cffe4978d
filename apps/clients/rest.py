"""A client manages its own tokens: list them (with when each was last used), issue a
new one, rotate the one in use, revoke one."""

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.contracts import IssuedToken, Principal, TokenSummary
from apps.clients.models import ApiClient
from apps.clients.services import token_issue, token_list, token_revoke, token_rotate


def _principal(request: Request) -> Principal:
    principal: Principal = request.user  # type: ignore[assignment]
    return principal


def _present(token: TokenSummary, *, current: str) -> dict[str, Any]:
    return {
        "prefix": token.prefix,
        "current": token.prefix == current,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _issued(issued: IssuedToken) -> dict[str, Any]:
    return {"token": issued.token, "prefix": issued.token.split("_", 2)[1], "scopes": list(issued.scopes)}


class TokenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    prefix = serializers.CharField()
    current = serializers.BooleanField(help_text="Whether this call was made with it.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class TokenListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = TokenSerializer(many=True)


class IssuedTokenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField(help_text="The token: shown only in this answer.")
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())


class TokenCollectionView(APIView):
    required_scopes: tuple[str, ...] = ()  # any client may manage its own tokens

    @extend_schema(operation_id="tokens_list", summary="The client's tokens", responses=TokenListSerializer)
    def get(self, request: Request) -> Response:
        principal = _principal(request)
        tokens = token_list(client_id=principal.client_id)
        return Response({"results": [_present(t, current=principal.token_prefix) for t in tokens]})

    @extend_schema(
        operation_id="tokens_create", summary="Issue a token", request=None, responses={201: IssuedTokenSerializer}
    )
    def post(self, request: Request) -> Response:
        """Issue another token (shown once), e.g. to roll it out before revoking the old one."""
        issued = token_issue(client=ApiClient.objects.get(id=_principal(request).client_id))
        return Response(_issued(issued), status=status.HTTP_201_CREATED)


class TokenRotateView(APIView):
    required_scopes: tuple[str, ...] = ()

    @extend_schema(
        operation_id="tokens_rotate",
        summary="Rotate the token in use",
        request=None,
        responses={201: IssuedTokenSerializer},
    )
    def post(self, request: Request) -> Response:
        """A new token replaces the one this call was made with, which stops working now."""
        principal = _principal(request)
        issued = token_rotate(client_id=principal.client_id, current_prefix=principal.token_prefix)
        return Response(_issued(issued), status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    required_scopes: tuple[str, ...] = ()

    @extend_schema(operation_id="tokens_revoke", summary="Revoke a token", responses={204: None})
    def delete(self, request: Request, prefix: str) -> Response:
        token_revoke(client_id=_principal(request).client_id, prefix=prefix)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("tokens", TokenCollectionView.as_view(), name="token-collection"),
    path("tokens/rotate", TokenRotateView.as_view(), name="token-rotate"),
    path("tokens/<str:prefix>", TokenDetailView.as_view(), name="token-detail"),
]
