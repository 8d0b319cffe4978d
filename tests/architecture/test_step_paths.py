"""Every step is declared once, by dotted paths: each of them names something that exists,
so a module split or a renamed function fails here rather than in a run."""

from collections.abc import Mapping

import pytest

from apps.kernel import catalog
from apps.kernel.contracts import StepDeclaration

PATH_FIELDS = ("run", "default_params", "check_params", "describe", "read_back")


def test_every_context_that_runs_steps_declares_some() -> None:
    assert set(catalog.contexts()) >= {"accounts", "baseline", "network", "compliance"}


@pytest.mark.parametrize("declaration", catalog.all_steps(), ids=lambda d: d.name)
def test_every_declared_path_resolves(declaration: StepDeclaration) -> None:
    for field in PATH_FIELDS:
        path = getattr(declaration, field)
        if not path:
            continue
        assert ":" in path, f"{declaration.name}.{field} is not 'package.module:name': {path!r}"
        try:
            catalog.resolve(path)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"{declaration.name}.{field} = {path!r} does not resolve: {error}")


@pytest.mark.parametrize("declaration", catalog.all_steps(), ids=lambda d: d.name)
def test_every_step_runs_a_function_and_defaults_to_a_mapping(declaration: StepDeclaration) -> None:
    assert callable(catalog.resolve(declaration.run))
    for field in ("check_params", "describe", "read_back"):
        path = getattr(declaration, field)
        assert not path or callable(catalog.resolve(path)), f"{declaration.name}.{field} is not callable"
    if declaration.default_params:
        assert isinstance(catalog.resolve(declaration.default_params), Mapping)
