"""Tailor's wire format, translated to and from v1 — pure functions, no rules of their own.

``to_v1`` turns ``{"accountRequest": {...camelCase...}}`` into the v1 request body, accepting
the spellings old clients sent (``"true"``/``"false"``, ``"2"``, ``"/24"``, a comma-separated
access list). It converts what it recognises and passes everything else through unchanged,
so that the v1 serializer — the one set of rules — refuses it with its own message.
``legacy_errors`` names v1's field errors by their camelCase fields again.

``legacy_status`` and ``legacy_tasks`` answer Tailor's status lookup from the v1 request
and its run. Tailor reported each task as ``in_progress`` or ``complete`` and had no way
to report a failure (one of its known weaknesses); the mapping is:

=====================  ==========================================================
v1                     legacy
=====================  ==========================================================
request accepted,      ``in_progress``
provisioning
request succeeded      ``complete`` (and the task ``READY``: ``complete``)
request failed         ``failed`` (new: Tailor's requests never completed)
request cancelled      ``cancelled`` (new)
step pending, skipped  absent: Tailor's task-status table had no row for a task
                       until it started, and a skipped step never starts
step running           ``in_progress``
step succeeded         ``complete``
step failed            ``failed`` (new; an optional step's failure is reported too)
=====================  ==========================================================

``REQUEST_VALIDATION`` is always ``complete``: a request that exists passed validation.
A step without a legacy name is reported by its v1 name in upper case. Two steps with
one legacy name report the least finished state (failed, then in_progress, then complete).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers

from apps.intake.contracts import ACCEPTED, CANCELLED, FAILED, PROVISIONING, SUCCEEDED
from apps.workflow.contracts import StepSummary

ENVELOPE = "accountRequest"

# Tailor's field → where v1 keeps it.
FIELDS: dict[str, tuple[str, ...]] = {
    "accountCbAlias": ("payer",),
    "accountRegulated": ("regulated",),
    "accountVpcAzCount": ("vpc", "az_count"),
    "accountVpcPrefix": ("vpc", "prefix_length"),
    "accountRegion": ("region",),
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
LEGACY_NAMES: dict[tuple[str, ...], str] = {path: name for name, path in FIELDS.items()}
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
REQUEST_VALIDATION = "REQUEST_VALIDATION"
READY = "READY"

_REQUEST_STATUSES = {
    ACCEPTED: IN_PROGRESS,
    PROVISIONING: IN_PROGRESS,
    SUCCEEDED: COMPLETE,
    FAILED: "failed",
    CANCELLED: "cancelled",
}
_STEP_STATES = {"running": IN_PROGRESS, "succeeded": COMPLETE, "failed": FAILED_TASK}
_LEAST_FINISHED = (FAILED_TASK, IN_PROGRESS, COMPLETE)
# The legacy tasks of account creation: their failure is Tailor's code 601.
ACCOUNT_CREATION_TASKS = ("CLA_SUBMISSION", "CLA_CREATION")
LINKED_ACCOUNT_FAILED = 601


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


_CONVERTERS = {
    "accountRegulated": _boolean,
    "accountVpcAzCount": _integer(_DIGITS),
    "accountVpcPrefix": _integer(_PREFIX),
    "accountUserAccessList": _access_list,
}


def to_v1(data: Any) -> dict[str, Any]:
    """The v1 body for a legacy body; raises ``ValidationError`` (camelCase names) when the
    envelope is wrong or names fields Tailor did not have."""
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({ENVELOPE: ['Send a JSON object {"accountRequest": {...}}.']})
    errors: dict[str, list[str]] = {name: ["Unknown field."] for name in sorted(set(data) - {ENVELOPE})}
    fields = data.get(ENVELOPE)
    if fields is None:
        errors[ENVELOPE] = ["This field is required."]
    elif not isinstance(fields, Mapping):
        errors[ENVELOPE] = ["Must be an object."]
    else:
        errors.update({name: ["Unknown field."] for name in sorted(set(fields) - set(FIELDS))})
    if errors:
        raise serializers.ValidationError(errors)
    assert isinstance(fields, Mapping)
    body: dict[str, Any] = {name: {} for name in _OBJECTS}
    for name, value in fields.items():
        if value is None and name in _OPTIONAL:
            continue
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


def legacy_status(request_status: str) -> str:
    return _REQUEST_STATUSES.get(request_status, IN_PROGRESS)


def legacy_tasks(*, request_status: str, steps: Iterable[StepSummary]) -> dict[str, str]:
    """Each started task by its legacy name, in plan order, ``REQUEST_VALIDATION`` first."""
    tasks: dict[str, str] = {REQUEST_VALIDATION: COMPLETE}
    for step in steps:
        state = _STEP_STATES.get(step.state)
        if state is None:  # pending or skipped: never started
            continue
        name = step.legacy_name or step.name.upper()
        earlier = tasks.get(name)
        if earlier is None or _LEAST_FINISHED.index(state) < _LEAST_FINISHED.index(earlier):
            tasks[name] = state
    if request_status == SUCCEEDED:
        tasks[READY] = COMPLETE
    return tasks
