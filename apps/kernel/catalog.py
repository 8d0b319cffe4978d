"""The step catalog: every workflow step, declared once by the context that runs it.

A context lists its steps as ``StepDeclaration``s in its ``contracts.py`` (plain data: the
functions are named by dotted path, so declarations import nothing heavy) and hands them
to ``declare`` when Django starts it (its ``AppConfig.ready``). Everything else is built
from the catalog: the workflow's plans (which context runs a step, what it waits for,
its legacy name), the dry-run plan (``describe``), the blueprint check (``check_params``)
and ``verify`` (``read_back``). A deployable that loads one context (the peeled network
function) knows that context's steps only.

No Django imports here.
"""

import copy
import functools
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from apps.kernel import metrics
from apps.kernel.contracts import StepDeclaration
from apps.kernel.errors import StepError, WaitForQuota

_DECLARED: dict[str, StepDeclaration] = {}


class UnknownStep(KeyError):
    """A name no loaded context declares."""


def declare(declarations: Iterable[StepDeclaration]) -> None:
    """Add a context's steps to the catalog. Declaring the same step again (a reloaded
    app) is harmless; two contexts declaring one name is a programming error."""
    for declaration in declarations:
        existing = _DECLARED.get(declaration.name)
        if existing is not None and existing != declaration:
            raise ValueError(
                f"Step {declaration.name!r} is declared twice: by {existing.context} and by {declaration.context}."
            )
        _DECLARED[declaration.name] = declaration


def get(name: str) -> StepDeclaration:
    try:
        return _DECLARED[name]
    except KeyError:
        raise UnknownStep(name) from None


def known(name: str) -> bool:
    return name in _DECLARED


def all_steps() -> tuple[StepDeclaration, ...]:
    """Every declared step, in declaration order (contexts in the order Django loads them)."""
    return tuple(_DECLARED.values())


def names(*, placement: str | None = None) -> tuple[str, ...]:
    return tuple(d.name for d in _DECLARED.values() if placement is None or d.placement == placement)


def contexts() -> tuple[str, ...]:
    """The contexts that run steps (each has a step runner on its queue)."""
    return tuple(dict.fromkeys(d.context for d in _DECLARED.values()))


def resolve(path: str) -> Any:
    """The function (or value) at ``package.module:name``, imported on first use (read at
    each call, so a test can replace it)."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def runner(name: str) -> Callable[..., Any]:
    """The step function of ``name``."""
    function: Callable[..., Any] = resolve(get(name).run)
    return function


def default_params(name: str) -> dict[str, Any]:
    """A copy of ``name``'s default parameters (what a blueprint that names none gets)."""
    path = get(name).default_params
    return copy.deepcopy(dict(resolve(path))) if path else {}


class _Runners(Mapping[str, Callable[..., Any]]):
    """The step functions of one context, by step name (resolved on first use)."""

    def __init__(self, context: str) -> None:
        self.context = context

    def __getitem__(self, name: str) -> Callable[..., Any]:
        declared = _DECLARED.get(name)
        if declared is None or declared.context != self.context:
            raise KeyError(name)
        return measured(name, runner(name))

    def __iter__(self) -> Iterator[str]:
        return iter([d.name for d in _DECLARED.values() if d.context == self.context])

    def __len__(self) -> int:
        return sum(1 for d in _DECLARED.values() if d.context == self.context)


def runners(context: str) -> Mapping[str, Callable[..., Any]]:
    """What ``execute_step`` runs for ``context``: its declared steps' functions."""
    return _Runners(context)


def measured(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` counted and timed in ``bespoke_step_attempts`` and
    ``bespoke_step_duration_seconds`` by its outcome: ``succeeded``, ``waiting`` (for a
    quota), ``retrying`` (a transient error), ``failed`` (a permanent one) or ``error``
    (anything else)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with metrics.timed("bespoke_step_duration_seconds", step=name, outcome="error") as labels:
            try:
                result = function(*args, **kwargs)
            except WaitForQuota:
                labels["outcome"] = "waiting"
                raise
            except StepError as error:
                labels["outcome"] = "retrying" if error.retryable else "failed"
                raise
            else:
                labels["outcome"] = "succeeded"
                return result
            finally:
                metrics.inc("bespoke_step_attempts", **labels)

    return run
