"""What the accounts API accepts: list filters and the bodies of commands."""

from typing import Any

from rest_framework import serializers

from apps.accounts.contracts import COMMAND_ADOPT, COMMAND_CLOSE, COMMAND_MOVE, COMMAND_REAPPLY, COMMANDS
from apps.accounts.models import AccountCommand, ManagedAccount
from apps.kernel.rest import PageQuerySerializer, StrictSerializer
from apps.workflow import api as workflow

PAYER_NAME = r"^[a-z0-9][a-z0-9-]{0,9}$"
ENVIRONMENT = r"^[a-z0-9][a-z0-9-]{0,19}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"
OU_ID = r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"


class AccountListQuerySerializer(PageQuerySerializer):
    payer = serializers.RegexField(PAYER_NAME, required=False)
    environment = serializers.RegexField(ENVIRONMENT, required=False)
    status = serializers.ChoiceField(choices=ManagedAccount.Status.choices, required=False)
    source = serializers.ChoiceField(choices=ManagedAccount.Source.values, required=False)  # type: ignore[assignment]
    tag = serializers.CharField(max_length=400, required=False, help_text="key, or key=value")

    def validate_tag(self, value: str) -> tuple[str, str | None]:
        key, separator, tag_value = value.partition("=")
        if not key or len(key) > 128 or len(tag_value) > 256:
            raise serializers.ValidationError("key or key=value: a key of 1-128 characters, a value of at most 256.")
        return key, tag_value if separator else None


class CommandNameSerializer(serializers.Serializer):  # type: ignore[type-arg]
    command = serializers.ChoiceField(choices=COMMANDS)


class ReapplySerializer(StrictSerializer):
    command = serializers.ChoiceField(choices=[COMMAND_REAPPLY])
    steps = serializers.ListField(
        child=serializers.ChoiceField(choices=workflow.blueprint_steps()),
        min_length=1,
        max_length=len(workflow.blueprint_steps()),
    )


class AdoptSerializer(StrictSerializer):
    command = serializers.ChoiceField(choices=[COMMAND_ADOPT])
    environment = serializers.RegexField(ENVIRONMENT)
    region = serializers.RegexField(REGION)
    payer = serializers.RegexField(PAYER_NAME, required=False)


class MoveSerializer(StrictSerializer):
    command = serializers.ChoiceField(choices=[COMMAND_MOVE])
    ou = serializers.RegexField(OU_ID, error_messages={"invalid": "An OU id: ou-xxxx-xxxxxxxx."})


class CloseSerializer(StrictSerializer):
    command = serializers.ChoiceField(choices=[COMMAND_CLOSE])
    confirm = serializers.CharField(max_length=12, help_text="The account's 12-digit AWS account id, repeated.")


class CommandRejectSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, min_length=1)


COMMAND_SERIALIZERS: dict[str, type[StrictSerializer]] = {
    COMMAND_REAPPLY: ReapplySerializer,
    COMMAND_ADOPT: AdoptSerializer,
    COMMAND_MOVE: MoveSerializer,
    COMMAND_CLOSE: CloseSerializer,
}


def command_data(data: Any) -> dict[str, Any]:
    """The validated body of a command (raises ``ValidationError``: a 400)."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    name = CommandNameSerializer(data=data)
    name.is_valid(raise_exception=True)
    body = COMMAND_SERIALIZERS[name.validated_data["command"]](data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


# --- What the accounts API answers (the views render their documents through these) -------


class AccountCommandSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    account_id = serializers.CharField()
    command = serializers.ChoiceField(choices=COMMANDS)
    params = serializers.DictField(help_text="The command's body, without `command`.")
    status = serializers.ChoiceField(choices=AccountCommand.Status.choices)
    status_url = serializers.URLField()
    requested_by = serializers.CharField(allow_null=True, help_text="Who issued it (client:<name> or user:<name>).")
    approved_by = serializers.CharField(allow_null=True, help_text="Who approved or rejected it, if it waited.")
    approved_at = serializers.DateTimeField(allow_null=True)
    failure = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    run = workflow.RunWithStepsSerializer(
        allow_null=True, help_text="The run carrying the command out, with its steps."
    )


class AccountCommandListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = AccountCommandSerializer(many=True)


class ManagedAccountSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    aws_account_id = serializers.CharField(allow_blank=True, help_text="Blank until AWS has created the account.")
    payer = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=ManagedAccount.Status.choices)
    source = serializers.ChoiceField(choices=ManagedAccount.Source.values)  # type: ignore[assignment]
    environment = serializers.CharField(allow_blank=True)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True))
    ou_id = serializers.CharField(allow_blank=True)
    request_id = serializers.CharField(allow_null=True, help_text="The account request that vended it, if any.")
    failure_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    url = serializers.URLField()


class ManagedAccountListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = ManagedAccountSerializer(many=True)


class ManagedAccountDetailSerializer(ManagedAccountSerializer):
    provisioning = workflow.RunWithStepsSerializer(
        allow_null=True, help_text="The run that vended the account, if any."
    )
    commands = AccountCommandSerializer(many=True)
