"""Webhook subscriptions over the API: a client manages its own, and sees their deliveries.

Deleting a subscription deactivates it (it is kept, with its deliveries, for the operators);
to the API it is gone: it is no longer listed and its URLs answer ``404``.

The signing secret is in the answer to ``POST`` only; it is never shown again. What a
delivery came to is shown as a category (``last_outcome``) and fixed words for it, never the
receiver's or the network's own words.
"""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clients.contracts import WEBHOOKS_ADMIN, Principal
from apps.kernel.errors import NotFound
from apps.kernel.openapi import ErrorSerializer, links_to
from apps.kernel.rest import iso, page_query, page_response
from apps.notifications.contracts import WebhookDeliverySummary, WebhookSubscriptionSummary, outcome_description
from apps.notifications.rest.serializers import (
    DeliveryListQuerySerializer,
    DeliveryListSerializer,
    SubscriptionCreatedSerializer,
    SubscriptionDetailSerializer,
    SubscriptionInputSerializer,
    SubscriptionListSerializer,
)
from apps.notifications.selectors import LATEST_DELIVERIES, delivery_list, subscription_get, subscription_list
from apps.notifications.services import subscription_create, subscription_deactivate


def _principal(request: Request) -> Principal:
    principal: Principal = request.user  # type: ignore[assignment]
    return principal


def present_subscription(http: Request, subscription: WebhookSubscriptionSummary) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "description": subscription.description,
        "active": subscription.active,
        "created_at": iso(subscription.created_at),
        "last_outcome": subscription.last_outcome or None,
        "last_attempt_at": iso(subscription.last_attempt_at),
        "deliveries_url": http.build_absolute_uri(
            reverse("v1:webhook-deliveries", kwargs={"subscription_id": subscription.id})
        ),
    }


def present_delivery(delivery: WebhookDeliverySummary) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_outcome": delivery.last_outcome or None,
        "last_error": outcome_description(delivery.last_outcome),
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
        "payload": delivery.payload,
    }


def _own_subscription(request: Request, subscription_id: str) -> WebhookSubscriptionSummary:
    subscription = subscription_get(
        subscription_id=subscription_id, client_id=_principal(request).client_id, active_only=True
    )
    if subscription is None:
        raise NotFound(f"No webhook subscription {subscription_id}.")
    return subscription


# What a subscription's id leads to (OpenAPI links).
SUBSCRIPTION_OPERATIONS = ("webhooks_retrieve", "webhooks_deliveries_list", "webhooks_deactivate")


class WebhookCollectionView(APIView):
    """``POST`` a subscription (201, with its secret, shown only here); ``GET`` the client's."""

    required_scopes = (WEBHOOKS_ADMIN,)
    openapi_links = {
        "POST": {"201": links_to(SUBSCRIPTION_OPERATIONS, subscription_id="$response.body#/id")},
        "GET": {"200": links_to(SUBSCRIPTION_OPERATIONS, subscription_id="$response.body#/results/0/id")},
    }

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to events",
        request=SubscriptionInputSerializer,
        responses={
            201: SubscriptionCreatedSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="The body is invalid (`validation_error`), including what the schema cannot say: "
                "a `url` whose host does not resolve, or resolves to an address webhooks may not reach.",
            ),
        },
        examples=[
            OpenApiExample(
                "Every event",
                value={"url": "https://hooks.example.com/bespoke", "events": [], "description": "ops"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = SubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = subscription_create(
            client_id=_principal(request).client_id,
            url=serializer.validated_data["url"],
            events=serializer.validated_data["events"],
            description=serializer.validated_data["description"],
        )
        url = request.build_absolute_uri(
            reverse("v1:webhook-detail", kwargs={"subscription_id": issued.subscription.id})
        )
        return Response(
            SubscriptionCreatedSerializer(
                {**present_subscription(request, issued.subscription), "secret": issued.secret}
            ).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": url},
        )

    @extend_schema(operation_id="webhooks_list", summary="List subscriptions", responses=SubscriptionListSerializer)
    def get(self, request: Request) -> Response:
        subscriptions = subscription_list(client_id=_principal(request).client_id, active_only=True)
        return page_response(
            SubscriptionListSerializer,
            count=len(subscriptions),
            results=[present_subscription(request, s) for s in subscriptions],
        )


class WebhookDetailView(APIView):
    """``GET`` a subscription with its latest deliveries; ``DELETE`` deactivates it (204):
    from then on it answers 404."""

    required_scopes = (WEBHOOKS_ADMIN,)

    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="A subscription and its latest deliveries",
        responses=SubscriptionDetailSerializer,
    )
    def get(self, request: Request, subscription_id: str) -> Response:
        subscription = _own_subscription(request, subscription_id)
        _, latest = delivery_list(subscription_id=subscription.id, limit=LATEST_DELIVERIES)
        document = {**present_subscription(request, subscription), "deliveries": [present_delivery(d) for d in latest]}
        return Response(SubscriptionDetailSerializer(document).data)

    @extend_schema(operation_id="webhooks_deactivate", summary="Deactivate a subscription", responses={204: None})
    def delete(self, request: Request, subscription_id: str) -> Response:
        subscription = _own_subscription(request, subscription_id)
        subscription_deactivate(subscription_id=subscription.id, client_id=_principal(request).client_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(APIView):
    """A subscription's deliveries, newest first (``limit``/``offset``)."""

    required_scopes = (WEBHOOKS_ADMIN,)

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="A subscription's deliveries",
        parameters=[DeliveryListQuerySerializer],
        responses=DeliveryListSerializer,
    )
    def get(self, request: Request, subscription_id: str) -> Response:
        subscription = _own_subscription(request, subscription_id)
        query = page_query(DeliveryListQuerySerializer, request)
        total, deliveries = delivery_list(subscription_id=subscription.id, limit=query["limit"], offset=query["offset"])
        return page_response(DeliveryListSerializer, count=total, results=[present_delivery(d) for d in deliveries])
