"""The rows an admin request changes, for its audit entry: model signals, connected once,
that act only while a request's audit scope (a contextvar the middleware opens) is open,
so saves by workers, commands or other threads are never attributed to a request."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

# Rows that are bookkeeping of the request itself, not an operator's change.
_IGNORED_MODELS = frozenset({"audit.auditentry", "sessions.session", "admin.logentry"})


@dataclass
class Scope:
    """The rows changed while one request is being audited."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    snapshots: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)


_scope: ContextVar[Scope | None] = ContextVar("audit_scope", default=None)


@contextmanager
def audit_scope() -> Iterator[Scope]:
    scope = Scope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def _json_safe(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return str(value)


def _fields(instance: models.Model) -> dict[str, Any]:
    return {f.attname: _json_safe(f.value_from_object(instance)) for f in instance._meta.concrete_fields}


def _tracked(sender: type[models.Model]) -> Scope | None:
    scope = _scope.get()
    if scope is None or sender._meta.label_lower in _IGNORED_MODELS:
        return None
    return scope


def _before_save(sender: type[models.Model], instance: models.Model, using: str, **_: Any) -> None:
    scope = _tracked(sender)
    if scope is None or instance.pk is None or instance._state.adding:
        return
    old = sender._base_manager.using(using).filter(pk=instance.pk).first()
    scope.snapshots[(sender._meta.label_lower, str(instance.pk))] = _fields(old) if old is not None else None


def _after_save(sender: type[models.Model], instance: models.Model, created: bool, **_: Any) -> None:
    scope = _tracked(sender)
    if scope is None:
        return
    label, pk = sender._meta.label_lower, str(instance.pk)
    before = None if created else scope.snapshots.pop((label, pk), None)
    after = _fields(instance)
    if before is not None:
        changed = [name for name, value in after.items() if before.get(name) != value]
        if not changed:
            return
        before = {name: before.get(name) for name in changed}
        after = {name: after[name] for name in changed}
    scope.changes.append({"model": label, "pk": pk, "before": before, "after": after})


def _after_delete(sender: type[models.Model], instance: models.Model, **_: Any) -> None:
    scope = _tracked(sender)
    if scope is None:
        return
    scope.changes.append(
        {"model": sender._meta.label_lower, "pk": str(instance.pk), "before": _fields(instance), "after": None}
    )


def connect_model_signals() -> None:
    pre_save.connect(_before_save, dispatch_uid="audit.before_save")
    post_save.connect(_after_save, dispatch_uid="audit.after_save")
    post_delete.connect(_after_delete, dispatch_uid="audit.after_delete")
