"""v1's request rules with Tailor's longer limits (those of its code, which its clients
were held to): a long project name up to 50 characters, a department up to 100, an
external transaction id up to 500 and a comment up to 200. Everything else is v1's."""

from rest_framework import serializers

from apps.intake.rest.serializers import (
    PRINTABLE,
    AccountRequestInputSerializer,
    RequestorSerializer,
    TagsSerializer,
    text,
)

MAX_EXTERNAL_TRANSACTION_ID = 500


class LegacyTagsSerializer(TagsSerializer):
    project_name = text(min_length=3, max_length=50)


class LegacyRequestorSerializer(RequestorSerializer):
    department = serializers.CharField(max_length=100, allow_blank=True, validators=[PRINTABLE])


class LegacyAccountRequestInputSerializer(AccountRequestInputSerializer):
    tags = LegacyTagsSerializer()
    requestor = LegacyRequestorSerializer()
    external_transaction_id = text(max_length=MAX_EXTERNAL_TRANSACTION_ID, required=False, default="")
    comment = text(max_length=200, required=False, default="")


# Tailor's account-update bodies: what each of its per-service PUTs names.
ACCOUNT_ID = r"^[0-9]{12}$"


class AccountIdSerializer(serializers.Serializer):  # type: ignore[type-arg]
    accountId = serializers.RegexField(ACCOUNT_ID)


class VpcFlowLogsSerializer(AccountIdSerializer):
    region = serializers.RegexField(r"^[a-z]{2}(-[a-z]+)+-\d$")
    stackName = serializers.RegexField(r"^[0-9a-z|_-]{4,35}$")


class VpcDnsSerializer(AccountIdSerializer):
    region = serializers.RegexField(r"^[a-z]{2}(-[a-z]+)+-\d$")
    vpcId = serializers.RegexField(r"^vpc-[0-9a-f]{8,17}$")


class AccountUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """``{"accountUpdate": {...}}``: the account's tags Tailor's requests set."""

    accountTagCostCenter = serializers.RegexField(r"^[0-9]{10}$", required=False)
    accountTagLongProjectName = text(min_length=3, max_length=50, required=False)

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        if not attrs:
            raise serializers.ValidationError("Name accountTagCostCenter or accountTagLongProjectName.")
        return attrs


class AccountUpdateEnvelopeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    accountUpdate = AccountUpdateSerializer()


# --- Answers, as documented in the OpenAPI schema --------------------------------------


class LegacyAccountSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Tailor's account lookup (by IP address: without ``costCenter``, ``environment`` and
    ``department``, with ``vpcCidr`` by region)."""

    accountId = serializers.CharField()
    accountStatus = serializers.CharField()
    emailAddress = serializers.CharField()
    regulated = serializers.BooleanField()
    accountName = serializers.CharField()
    costCenter = serializers.CharField(required=False)
    environment = serializers.CharField(required=False)
    department = serializers.CharField(required=False)
    requestorName = serializers.CharField()
    technicalContactName = serializers.CharField()
    vpcCidr = serializers.DictField(child=serializers.CharField(), required=False)


class LegacyAccountIdsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    accountCbAlias = serializers.CharField()
    accountIds = serializers.ListField(child=serializers.CharField())
    count = serializers.IntegerField()
