"""Validation of webhook subscriptions: known event types, a URL of sane length (whether it
may receive webhooks is the service's to say: the egress guard, in ``subscription_create``)."""

from rest_framework import serializers

from apps.kernel.rest import PageQuerySerializer, StrictSerializer
from apps.notifications.contracts import WEBHOOK_EVENT_TYPES

MAX_URL_LENGTH = 2000


class SubscriptionInputSerializer(StrictSerializer):
    url = serializers.CharField(max_length=MAX_URL_LENGTH, trim_whitespace=False)
    events = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=len(WEBHOOK_EVENT_TYPES)
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_events(self, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(WEBHOOK_EVENT_TYPES))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(WEBHOOK_EVENT_TYPES)}."
            )
        return list(dict.fromkeys(value))


class DeliveryListQuerySerializer(PageQuerySerializer):
    pass


# --- Answers, as documented in the OpenAPI schema -------------------------------------


class DeliverySerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    state = serializers.CharField()
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(
        allow_null=True, help_text="The receiver's HTTP status, when it answered the last attempt."
    )
    last_outcome = serializers.CharField(
        allow_null=True,
        help_text=(
            "What the last attempt came to: http_<status> (http_2xx: delivered), redirect (never followed), "
            "timeout, connection_failed, tls_error, refused_address (the host is not at a public address), "
            "subscription_inactive or not_sent. Null before the first attempt."
        ),
    )
    last_error = serializers.CharField(allow_null=True, help_text="The last outcome in words, unless it delivered.")
    created_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.DictField()


class SubscriptionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)
    last_outcome = serializers.CharField(
        allow_null=True, help_text="What the latest attempt of any delivery came to (as a delivery's last_outcome)."
    )
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    deliveries_url = serializers.URLField()


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown only in this answer.")


class SubscriptionDetailSerializer(SubscriptionSerializer):
    deliveries = DeliverySerializer(many=True, help_text="The latest deliveries, newest first.")


class SubscriptionListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = SubscriptionSerializer(many=True)


class DeliveryListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = DeliverySerializer(many=True)
