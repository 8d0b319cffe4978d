"""The bounded contexts, as an allow-list: a context reaches another only through its
``api`` (calls) or ``contracts`` (plain data); the contexts' cores never call each other in
a cycle; the kernel and cloud import no context.

Edges — admin modules, REST views (``rest``, the legacy facade's views) and management
commands — are entry points, like ``tasks/``: they may call any context's ``api``. A
context's core (services, selectors, steps, handlers, its api) may not call a context
that calls it back: one of them should carry the data in its event instead.
"""

from collections import defaultdict
from graphlib import CycleError, TopologicalSorter

import grimp
import pytest

CONTEXTS = (
    "intake",
    "workflow",
    "accounts",
    "clients",
    "baseline",
    "network",
    "notifications",
    "compliance",
    "console",
    "audit",
)
FOUNDATIONS = ("kernel", "cloud")
PUBLIC = ("api", "contracts")
EDGES = ("admin", "rest", "management", "legacy.views")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("apps", cache_dir=None)


def _context(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "apps" else None


def _is_edge(module: str) -> bool:
    inner = ".".join(module.split(".")[2:])
    return any(inner == edge or inner.startswith(f"{edge}.") or f".{edge}" in f".{inner}" for edge in EDGES)


def _cross_context_imports(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    found = []
    for importer in sorted(graph.modules):
        source = _context(importer)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            target = _context(imported)
            if target is not None and target != source and target in CONTEXTS:
                found.append((importer, imported))
    return found


def test_contexts_reach_each_other_only_through_api_and_contracts(graph: grimp.ImportGraph) -> None:
    wrong = [
        f"{importer} imports {imported}"
        for importer, imported in _cross_context_imports(graph)
        if imported.split(".")[2:] not in ([name] for name in PUBLIC)
    ]
    assert wrong == []


def test_the_layers_above_reach_the_contexts_through_api_and_contracts_too() -> None:
    """The messaging layer, the deploy tooling and the project call handlers by dotted
    path and otherwise use only the contexts' public surfaces."""
    above = grimp.build_graph("apps", "tasks", "deploy", "project", cache_dir=None)
    wrong = [
        f"{importer} imports {imported}"
        for importer in sorted(above.modules)
        if importer.split(".")[0] in ("tasks", "deploy", "project")
        for imported in above.find_modules_directly_imported_by(importer)
        if _context(imported) in CONTEXTS and imported.split(".")[2:] not in ([name] for name in PUBLIC)
    ]
    assert wrong == []


def test_the_kernel_and_cloud_import_no_context(graph: grimp.ImportGraph) -> None:
    wrong = [
        f"{importer} imports {imported}"
        for importer, imported in _cross_context_imports(graph)
        if _context(importer) in FOUNDATIONS
    ]
    assert wrong == []


def core_calls(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    """Which contexts each context's core calls (imports the ``api`` of)."""
    calls: dict[str, set[str]] = defaultdict(set)
    for importer, imported in _cross_context_imports(graph):
        if not _is_edge(importer) and imported.endswith(".api"):
            calls[str(_context(importer))].add(str(_context(imported)))
    return calls


def test_no_two_contexts_call_each_other_in_a_cycle(graph: grimp.ImportGraph) -> None:
    calls = core_calls(graph)
    try:
        order = list(TopologicalSorter({context: calls.get(context, set()) for context in CONTEXTS}).static_order())
    except CycleError as cycle:
        pytest.fail(f"The contexts' cores call each other in a cycle: {' -> '.join(cycle.args[1])}")
    assert set(order) == set(CONTEXTS)


def test_the_workflow_engine_calls_no_context(graph: grimp.ImportGraph) -> None:
    """The workflow runs every context's steps; the run carries what it needs (the
    blueprint and the payer's settings come in the event that starts it)."""
    assert core_calls(graph).get("workflow", set()) == set()


def test_an_edge_is_recognised() -> None:
    assert _is_edge("apps.workflow.admin")
    assert _is_edge("apps.intake.rest.views")
    assert _is_edge("apps.intake.legacy.views")
    assert _is_edge("apps.clients.management.commands.create_client")
    assert not _is_edge("apps.workflow.handlers")
    assert not _is_edge("apps.accounts.commands")


def _with_api() -> list[str]:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "apps"
    return [context for context in CONTEXTS if (root / context / "api.py").exists()]


@pytest.mark.parametrize("context", _with_api())
def test_a_contexts_api_returns_plain_data_never_models(context: str) -> None:
    """What crosses a boundary is a dataclass from contracts.py (or plain values): a model
    instance would let the caller read and write another context's tables."""
    import importlib
    import inspect
    import typing

    from django.db import models

    api = importlib.import_module(f"apps.{context}.api")

    def leaks(annotation: object) -> bool:
        if inspect.isclass(annotation) and issubclass(annotation, models.Model | models.QuerySet):
            return True
        return any(leaks(argument) for argument in typing.get_args(annotation))

    wrong = []
    for name in getattr(api, "__all__", ()):
        function = getattr(api, name)
        if inspect.isfunction(function) and leaks(typing.get_type_hints(function).get("return")):
            wrong.append(f"{context}.api.{name}")
    assert wrong == []
