"""Validation of account requests: Tailor's field rules, strictly typed.

Unknown fields are refused (a typo must not be silently ignored), booleans and integers
must be JSON booleans and integers, and the payer decides which environments and regions
are allowed.
"""

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from apps.accounts import api as accounts
from apps.kernel.rest import StrictSerializer
from apps.workflow import api as workflow

USERNAME = RegexValidator(r"^[a-z_]{3,20}$", "3-20 lower-case letters or underscores.")
COST_CENTER = RegexValidator(r"^[0-9]{10}$", "Exactly 10 digits.")
SHORT_NAME = RegexValidator(r"^[a-z0-9]{2,15}$", "2-15 lower-case letters or digits.")
PRINTABLE = RegexValidator(r"^[^\x00-\x1f\x7f]*$", "Control characters are not allowed.")

AZ_COUNTS = (2, 3)
PREFIX_LENGTHS = (23, 24)
MAX_ACCESS_LIST = 50
MAX_REGIONS = 10
REGION_REQUIRED = "This field is required (or give regions)."


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictChoiceIntegerField(serializers.IntegerField):
    """An integer (not a string of digits) from a fixed set."""

    def __init__(self, *, choices: tuple[int, ...], **kwargs: Any) -> None:
        self.allowed = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        if data not in self.allowed:
            raise serializers.ValidationError(f"Must be one of {', '.join(map(str, self.allowed))}.")
        return data


class StrictChoiceIntegerSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """In the OpenAPI schema: an integer from the field's choices."""

    target_class = StrictChoiceIntegerField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "integer", "enum": list(self.target.allowed)}


def text(*, min_length: int = 0, max_length: int, required: bool = True, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        min_length=min_length or None,
        max_length=max_length,
        required=required,
        allow_blank=not required,
        validators=[PRINTABLE, *kwargs.pop("validators", [])],
        **kwargs,
    )


def username() -> serializers.CharField:
    return serializers.CharField(max_length=20, validators=[USERNAME])


class VpcSerializer(StrictSerializer):
    az_count = StrictChoiceIntegerField(choices=AZ_COUNTS)
    prefix_length = StrictChoiceIntegerField(choices=PREFIX_LENGTHS)


class TagsSerializer(StrictSerializer):
    cost_center = serializers.CharField(max_length=10, validators=[COST_CENTER])
    project_name = text(min_length=3, max_length=30)
    project_short_name = serializers.CharField(max_length=15, validators=[SHORT_NAME])


class TechnicalContactSerializer(StrictSerializer):
    full_name = text(min_length=3, max_length=50)
    username = username()


class RequestorSerializer(StrictSerializer):
    full_name = text(min_length=3, max_length=50)
    username = username()
    manager = text(min_length=3, max_length=50)
    department = text(min_length=3, max_length=50)
    email = serializers.EmailField(max_length=254)


class AccountRequestInputSerializer(StrictSerializer):
    payer = serializers.CharField(max_length=10)
    regulated = StrictBooleanField()
    environment = serializers.CharField(max_length=20)
    region = serializers.CharField(
        max_length=30, required=False, help_text="The one region to build in (or give `regions`)."
    )
    regions = serializers.ListField(
        child=serializers.CharField(max_length=30),
        min_length=1,
        max_length=MAX_REGIONS,
        required=False,
        help_text="The regions to build the VPC and AWS Config in, the primary region first.",
    )
    vpc = VpcSerializer()
    tags = TagsSerializer()
    user_access_list = serializers.ListField(child=username(), min_length=1, max_length=MAX_ACCESS_LIST)
    technical_contact = TechnicalContactSerializer()
    requestor = RequestorSerializer()
    external_transaction_id = text(max_length=50, required=False, default="")
    comment = text(max_length=100, required=False, default="")
    monthly_budget_usd = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="The account's monthly cost budget in USD instead of its environment's; at most the payer's maximum.",
    )

    def validate_user_access_list(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Usernames must not repeat.")
        return value

    def validate_regions(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Regions must not repeat.")
        return value

    def to_internal_value(self, data: Any) -> Any:
        # ``region`` is required unless ``regions`` is given: said with the other missing
        # fields, not after them.
        missing = isinstance(data, dict) and "region" not in data and "regions" not in data
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if missing and isinstance(error.detail, dict):
                error.detail.setdefault("region", [ErrorDetail(REGION_REQUIRED, code="required")])
            raise
        if missing:
            raise serializers.ValidationError({"region": [REGION_REQUIRED]})
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A request names its regions one way or the other (both only when ``region`` is
        # the first of ``regions``); ``region`` is then always the primary region.
        region_field = "regions" if "regions" in attrs else "region"
        regions: list[str] = attrs.get("regions") or [attrs["region"]]
        if attrs.get("region", regions[0]) != regions[0]:
            raise serializers.ValidationError({"region": ["When regions is given, region must be its first."]})
        attrs["region"] = regions[0]
        # A payer the caller is not granted is refused (403) before anything reveals
        # whether it exists or what it allows.
        access = self.context.get("access")
        if access is not None:
            access.require(attrs["payer"], attrs["environment"])
        known = accounts.payer_for_intake(name=attrs["payer"])
        if known is None:
            raise serializers.ValidationError({"payer": [f"Unknown payer {attrs['payer']!r}."]})
        payer = known.payer
        errors: dict[str, list[str]] = {}
        if attrs["environment"] not in payer.allowed_environments:
            errors["environment"] = [
                f"Payer {payer.name} allows the environments {', '.join(payer.allowed_environments)}."
            ]
        refused = [region for region in regions if region not in payer.allowed_regions]
        if refused:
            errors[region_field] = [
                f"Payer {payer.name} does not allow {', '.join(refused)}; "
                f"it allows the regions {', '.join(payer.allowed_regions)}."
            ]
        budget, ceiling = attrs.get("monthly_budget_usd"), payer.max_monthly_budget_usd
        if budget is not None and ceiling is not None and budget > ceiling:
            errors["monthly_budget_usd"] = [f"Payer {payer.name} allows at most {ceiling} USD a month."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- Answers, as documented in the OpenAPI schema -------------------------------------


class AccountRequestAcceptedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    status = serializers.CharField()
    status_url = serializers.URLField()


class PlanStepSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    legacy_name = serializers.CharField(allow_null=True, allow_blank=True)
    context = serializers.CharField()  # type: ignore[assignment]
    depends_on = serializers.ListField(child=serializers.CharField())
    required = serializers.BooleanField()  # type: ignore[assignment]
    wave = serializers.IntegerField()
    params = serializers.DictField()
    creates = serializers.JSONField()


class BlueprintRefSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    version = serializers.IntegerField()


class AccountRequestPlanSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """What a dry run (``?dry_run=true``) answers: the plan, nothing created."""

    dry_run = serializers.BooleanField()
    account_email = serializers.EmailField()
    account_name = serializers.CharField()
    blueprint = BlueprintRefSerializer(allow_null=True)
    waves = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    steps = PlanStepSerializer(many=True)
    cidr = serializers.CharField(allow_null=True, help_text="The primary region's VPC block.")
    cidrs = serializers.DictField(
        child=serializers.CharField(allow_null=True), help_text="Each region's VPC block (null: no room)."
    )
    warnings = serializers.ListField(child=serializers.CharField())


class AccountRequestListItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    status = serializers.CharField()
    payer = serializers.CharField()
    environment = serializers.CharField()
    region = serializers.CharField()
    account_email = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.URLField()


class AccountRequestListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = AccountRequestListItemSerializer(many=True)


class AccountRefSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    email = serializers.CharField()


class AccountRequestStatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The status document: the request, its run's steps and, once created, the account."""

    id = serializers.CharField()
    status = serializers.CharField()
    status_url = serializers.URLField()
    payer = serializers.CharField()
    environment = serializers.CharField()
    region = serializers.CharField()
    regions = serializers.ListField(child=serializers.CharField())
    regulated = serializers.BooleanField()
    account_email = serializers.CharField()
    external_transaction_id = serializers.CharField(allow_blank=True)
    failure = serializers.CharField(allow_null=True)
    approved_by = serializers.CharField(allow_null=True, help_text="Who approved it, if it needed approval.")
    approved_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    account = AccountRefSerializer(allow_null=True)
    run = workflow.RunSerializer(allow_null=True)
    steps = workflow.StepStatusSerializer(many=True)
    request = serializers.DictField(help_text="The request as it was accepted.")
