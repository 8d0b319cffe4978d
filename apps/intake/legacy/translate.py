"""Tailor's wire format, translated to and from v1 — pure functions, no rules of their own.

``to_v1`` turns ``{"accountRequest": {...camelCase...}}`` into the v1 request body, accepting
the spellings old clients sent (``"true"``/``"false"``, ``"2"``, ``"/24"``, a comma-separated
access list, ``accountRegion`` as a string or an array). Fields Tailor did not know are
ignored, as Tailor ignored them; what it recognises it converts and hands to the v1
serializer — the one set of rules, with Tailor's longer limits — which refuses what is
wrong. ``legacy_errors`` names v1's field errors by their camelCase fields again.

``status_document`` answers Tailor's status lookup from a run: every one of its task keys
is present from the start, ``in_progress`` until the steps Bespoke runs for it have
finished, then ``complete``. A key no step of the run reports (a task the blueprint does
not include) is ``complete`` once the whole run is. The overall ``status`` is
``complete`` when the run succeeded; ``failed`` or ``cancelled`` (Bespoke's, Tailor's
requests never finished) when it did not, and a failed step's key says ``failed``.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers

from apps.intake.contracts import CANCELLED, FAILED, SUCCEEDED
from apps.workflow.contracts import StepSummary

ENVELOPE = "accountRequest"

# Tailor's field → where v1 keeps it.
FIELDS: dict[str, tuple[str, ...]] = {
    "accountCbAlias": ("payer",),
    "accountRegulated": ("regulated",),
    "accountVpcAzCount": ("vpc", "az_count"),
    "accountVpcPrefix": ("vpc", "prefix_length"),
    "accountRegion": ("regions",),
    "accountTagCostCenter": ("tags", "cost_center"),
    "accountTagLongProjectName": ("tags", "project_name"),
    "accountTagShortProjectName": ("tags", "project_short_name"),
    "accountTagEnvironment": ("environment",),
    "accountUserAccessList": ("user_access_list",),
    "accountTechnicalContactFullName": ("technical_contact", "full_name"),
    "accountTechnicalContactUsername": ("technical_contact", "username"),
    "requestorFullName": ("requestor", "full_name"),
    "requestorUsername": ("requestor", "username"),
    "requestorManager": ("requestor", "manager"),
    "requestorDepartment": ("requestor", "department"),
    "requestorEmailAddress": ("requestor", "email"),
    "externalTransactionId": ("external_transaction_id",),
    "comment": ("comment",),
}
LEGACY_NAMES: dict[tuple[str, ...], str] = {path: name for name, path in FIELDS.items()} | {
    ("region",): "accountRegion"
}
# v1's nested objects: always present, so that v1 names the missing leaf, not the object.
_OBJECTS = ("vpc", "tags", "technical_contact", "requestor")
# Tailor's optional fields; a null there means "not given".
_OPTIONAL = ("externalTransactionId", "comment")

_DIGITS = re.compile(r"^\s*(\d{1,3})\s*$")
_PREFIX = re.compile(r"^\s*/?(\d{1,3})\s*$")

# Legacy task states.
IN_PROGRESS = "in_progress"
COMPLETE = "complete"
FAILED_TASK = "failed"
UNKNOWN_ACCOUNT = "Unknown"

# Tailor's status document: its task keys, in its order, and the legacy task names
# (``StepDeclaration.legacy_name``) whose steps report each.
TASK_KEYS: dict[str, tuple[str, ...]] = {
    "accountCreation": ("CLA_SUBMISSION", "CLA_CREATION"),
    "accountValidation": ("CLA_VALIDATION",),
    "accountAdDl": ("AD_DL",),
    "accountAdSecGroups": ("AD_SEC_GROUPS",),
    "iam": ("IAM",),
    "cloudtrail": ("CLOUDTRAIL",),
    "config": ("CONFIG", "AWSCONFIG"),
    "cloudability": ("CLOUDABILITY",),
    "enterpriseSupport": ("ENTSUPPORT",),
    "vpc": ("VPC",),
    "vpcFlowLogs": ("VPCFLOWLOGS",),
    "vpcDns": ("VPCDNS",),
    "directConnect": ("DIRECTCONNECT", "DIRECT_CONNECT"),
    "notify": ("NOTIFY", "READY"),
}
_KEY_OF_TASK = {task: key for key, tasks in TASK_KEYS.items() for task in tasks}

_RUN_STATUSES = {"succeeded": COMPLETE, "failed": FAILED_TASK, "cancelled": "cancelled"}
_REQUEST_STATUSES = {SUCCEEDED: COMPLETE, FAILED: FAILED_TASK, CANCELLED: "cancelled"}
_FINISHED_STEP = ("succeeded", "skipped")


def _boolean(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _integer(pattern: re.Pattern[str]) -> Any:
    def convert(value: Any) -> Any:
        if isinstance(value, str) and (match := pattern.match(value)):
            return int(match.group(1))
        return value

    return convert


def _access_list(value: Any) -> Any:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


def _regions(value: Any) -> Any:
    """Tailor's ``accountRegion``: one region, or an array of them (its API's type)."""
    if isinstance(value, str):
        return [value]
    return value


_CONVERTERS = {
    "accountRegion": _regions,
    "accountRegulated": _boolean,
    "accountVpcAzCount": _integer(_DIGITS),
    "accountVpcPrefix": _integer(_PREFIX),
    "accountUserAccessList": _access_list,
}


def to_v1(data: Any) -> dict[str, Any]:
    """The v1 body for a legacy body; raises ``ValidationError`` when the envelope is wrong.
    ``accountRegion`` becomes v1's ``regions`` (one region: a list of one)."""
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({ENVELOPE: ['Send a JSON object {"accountRequest": {...}}.']})
    fields = data.get(ENVELOPE)
    if fields is None:
        raise serializers.ValidationError({ENVELOPE: ["This field is required."]})
    if not isinstance(fields, Mapping):
        raise serializers.ValidationError({ENVELOPE: ["Must be an object."]})
    body: dict[str, Any] = {name: {} for name in _OBJECTS}
    for name, value in fields.items():
        if name not in FIELDS or (value is None and name in _OPTIONAL):
            continue  # Tailor ignored fields it did not know
        *parents, leaf = FIELDS[name]
        target = body
        for parent in parents:
            target = target[parent]
        target[leaf] = _CONVERTERS.get(name, lambda v: v)(value)
    return body


def _messages(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, Mapping):
        return [message for key, value in detail.items() for message in _messages(value, f"{prefix}{_entry(key)}: ")]
    if isinstance(detail, list | tuple):
        return [message for item in detail for message in _messages(item, prefix)]
    return [f"{prefix}{detail}"]


def _entry(key: Any) -> str:
    """A list item's position as a person counts (v1 reports ``{0: [...]}``)."""
    return f"item {int(key) + 1}" if isinstance(key, int) or str(key).isdigit() else str(key)


def legacy_errors(detail: Any, path: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """v1's field errors keyed by Tailor's field names; what has no legacy name keeps its
    v1 path (dotted), and errors about the whole body are ``accountRequest``'s."""
    if not isinstance(detail, Mapping):
        return {LEGACY_NAMES.get(path, ".".join(path) or ENVELOPE): _messages(detail)}
    errors: dict[str, list[str]] = {}
    for key, value in detail.items():
        child = (*path, str(key))
        if child in LEGACY_NAMES:
            found = {LEGACY_NAMES[child]: _messages(value)}
        elif key in ("non_field_errors", "__all__"):
            found = {".".join(path) or ENVELOPE: _messages(value)}
        else:
            found = legacy_errors(value, child)
        for name, messages in found.items():
            errors.setdefault(name, []).extend(messages)
    return errors


def overall_status(request_status: str) -> str:
    """An account request's status as Tailor's ``status``."""
    return _REQUEST_STATUSES.get(request_status, IN_PROGRESS)


def run_status(run_status: str) -> str:
    """A command's run status as Tailor's ``status``."""
    return _RUN_STATUSES.get(run_status, IN_PROGRESS)


def task_status(*, status: str, steps: Iterable[StepSummary], keys: Iterable[str] = TASK_KEYS) -> dict[str, str]:
    """Each of ``keys``: ``complete`` when every step reporting it finished (a key no step
    reports: when the whole run is ``complete``), ``failed`` when one of them failed,
    ``in_progress`` otherwise."""
    reported: dict[str, list[str]] = {}
    for step in steps:
        key = _KEY_OF_TASK.get(step.legacy_name)
        if key is not None:
            reported.setdefault(key, []).append(step.state)
    tasks: dict[str, str] = {}
    for key in keys:
        states = reported.get(key)
        if not states:
            tasks[key] = COMPLETE if status == COMPLETE else IN_PROGRESS
        elif "failed" in states:
            tasks[key] = FAILED_TASK
        elif all(state in _FINISHED_STEP for state in states):
            tasks[key] = COMPLETE
        else:
            tasks[key] = IN_PROGRESS
    return tasks


def keys_reported(legacy_names: Iterable[str]) -> list[str]:
    """The task keys steps with these legacy names report, in Tailor's order."""
    found = {_KEY_OF_TASK.get(name) for name in legacy_names}
    return [key for key in TASK_KEYS if key in found]


def status_document(*, status: str, account_name: str, account_id: str | None, tasks: dict[str, str]) -> dict[str, Any]:
    """Tailor's status lookup, its keys in its order."""
    return {
        "status": status,
        "accountName": account_name,
        "accountId": account_id or UNKNOWN_ACCOUNT,
        "taskStatus": tasks,
    }
