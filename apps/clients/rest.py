"""A client manages its own tokens: list them (with their scopes, expiry and when each
was last used), mint a narrower or shorter-lived one, rotate the one in use, revoke one.

A token can only mint tokens with a subset of its scopes that expire no later than
itself, and can revoke only itself unless it holds ``operations:admin``."""

from typing import Any

from django.http import QueryDict
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.contracts import ALL_SCOPES, IssuedToken, Principal, TokenSummary
from apps.clients.services import token_list, token_mint, token_revoke, token_rotate
from apps.kernel.openapi import ErrorSerializer
from apps.kernel.rest import StrictSerializer, iso


def _principal(request: Request) -> Principal:
    principal: Principal = request.user  # type: ignore[assignment]
    return principal


def _present(token: TokenSummary, *, current: str) -> dict[str, Any]:
    return {
        "prefix": token.prefix,
        "current": token.prefix == current,
        "scopes": list(token.scopes),
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }


def _issued(issued: IssuedToken) -> dict[str, Any]:
    return {
        "token": issued.token,
        "prefix": issued.prefix,
        "scopes": list(issued.scopes),
        "expires_at": iso(issued.expires_at),
    }


class TokenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    prefix = serializers.CharField()
    current = serializers.BooleanField(help_text="Whether this call was made with it.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ALL_SCOPES))
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class TokenListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = TokenSerializer(many=True)


class IssuedTokenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField(help_text="The token: shown only in this answer.")
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ALL_SCOPES))
    expires_at = serializers.DateTimeField()


class TokenMintSerializer(StrictSerializer):
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_SCOPES),
        required=False,
        min_length=1,
        help_text="At most the scopes of the token making the call (default: all of them).",
    )
    expires_at = serializers.DateTimeField(
        required=False, help_text="No later than the calling token's own expiry (default: 90 days, or that expiry)."
    )


_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="Beyond the calling token: more scopes (`token_scope_exceeded`) or a later expiry "
    "(`token_expiry_exceeded`).",
)


class TokenCollectionView(APIView):
    required_scopes: tuple[str, ...] = ()  # any client may manage its own tokens

    @extend_schema(operation_id="tokens_list", summary="The client's tokens", responses=TokenListSerializer)
    def get(self, request: Request) -> Response:
        principal = _principal(request)
        tokens = token_list(client_id=principal.client_id)
        return Response(
            TokenListSerializer({"results": [_present(t, current=principal.token_prefix) for t in tokens]}).data
        )

    @extend_schema(
        operation_id="tokens_create",
        summary="Mint a token",
        request=TokenMintSerializer,
        responses={201: IssuedTokenSerializer, 403: _REFUSED},
    )
    def post(self, request: Request) -> Response:
        """Mint another token (shown once), e.g. a narrower one for a script, or one to roll
        out before revoking the old: at most this token's scopes, expiring no later than it."""
        # No body at all means "the defaults"; a JSON body must be an object (not null).
        no_body = isinstance(request.data, QueryDict) and not request.data
        body = TokenMintSerializer(data={} if no_body else request.data)
        body.is_valid(raise_exception=True)
        issued = token_mint(
            principal=_principal(request),
            scopes=body.validated_data.get("scopes"),
            expires_at=body.validated_data.get("expires_at"),
        )
        return Response(IssuedTokenSerializer(_issued(issued)).data, status=status.HTTP_201_CREATED)


class TokenRotateView(APIView):
    required_scopes: tuple[str, ...] = ()

    @extend_schema(
        operation_id="tokens_rotate",
        summary="Rotate the token in use",
        request=None,
        responses={201: IssuedTokenSerializer},
    )
    def post(self, request: Request) -> Response:
        """A new token with the same scopes and expiry replaces the one this call was made
        with, which stops working now."""
        issued = token_rotate(principal=_principal(request))
        return Response(IssuedTokenSerializer(_issued(issued)).data, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    required_scopes: tuple[str, ...] = ()

    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke a token",
        responses={
            204: None,
            403: OpenApiResponse(
                ErrorSerializer,
                description="Another token of the client, without operations:admin (`token_revoke_forbidden`).",
            ),
        },
    )
    def delete(self, request: Request, prefix: str) -> Response:
        """Revoke the token in use — or, with operations:admin, any token of the client."""
        token_revoke(principal=_principal(request), prefix=prefix)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("tokens", TokenCollectionView.as_view(), name="token-collection"),
    path("tokens/rotate", TokenRotateView.as_view(), name="token-rotate"),
    path("tokens/<str:prefix>", TokenDetailView.as_view(), name="token-detail"),
]
