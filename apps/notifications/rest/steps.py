"""The callbacks of ``http`` integration steps: an endpoint that answered ``202`` reports
here that the step's work is done (``complete``, with outputs) or failed (``fail``).

The caller is the integration endpoint, not an API client: what authenticates it is the
callback token Bespoke sent it in the signed POST (the call's id signed with Bespoke's
secret key), as a webhook's signature authenticates Bespoke to its receiver. A forged or
unknown token answers 404; a callback after the step's deadline, or a second one, 409.
"""

import re
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.kernel.rest import StrictSerializer
from apps.notifications.integrations.calls import call_complete, call_fail
from apps.notifications.models import IntegrationCall

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class CompleteInputSerializer(StrictSerializer):
    outputs = serializers.DictField(required=False, default=dict, help_text="What the step reports (its outputs).")


class FailInputSerializer(StrictSerializer):
    message = serializers.CharField(max_length=1000, help_text="Why the work failed, in words for operators.")
    code = serializers.RegexField(_CODE, required=False, default="integration_failed", help_text="snake_case")


class CallbackAnswerSerializer(serializers.Serializer):  # type: ignore[type-arg]
    call_id = serializers.CharField()
    step = serializers.CharField()
    status = serializers.CharField()


def _answer(call: IntegrationCall) -> Response:
    return Response({"call_id": call.id, "step": call.step, "status": call.status})


class _CallbackView(APIView):
    # Authenticated by the token in the path, not by an API token (see the module docstring).
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    required_scopes = ()


class StepCompleteView(_CallbackView):
    @extend_schema(
        operation_id="steps_callback_complete",
        summary="An integration step's work is done",
        request=CompleteInputSerializer,
        responses={200: CallbackAnswerSerializer},
    )
    def post(self, request: Request, token: str) -> Response:
        data = CompleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(call_complete(token=token, outputs=dict(data.validated_data["outputs"])))


class StepFailView(_CallbackView):
    @extend_schema(
        operation_id="steps_callback_fail",
        summary="An integration step's work failed",
        request=FailInputSerializer,
        responses={200: CallbackAnswerSerializer},
    )
    def post(self, request: Request, token: str) -> Response:
        data = FailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(call_fail(token=token, message=data.validated_data["message"], code=data.validated_data["code"]))
