"""The architecture holds: contexts meet only through api.py/contracts.py and messages."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS = ["kernel", "clients", "intake", "accounts", "workflow", "baseline", "network", "notifications", "compliance"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_context_has_a_public_surface(context: str) -> None:
    assert (ROOT / "apps" / context / "contracts.py").exists()
    if context != "kernel":  # the kernel's modules are all shared
        assert (ROOT / "apps" / context / "api.py").exists()


@pytest.mark.parametrize("path", sorted((ROOT / "apps").glob("*/contracts.py")), ids=lambda p: p.parent.name)
def test_contracts_are_plain_python(path: Path) -> None:
    """Contracts travel to every deployable: no Django, no models, no third-party code."""
    allowed_roots = {"dataclasses", "datetime", "typing", "collections", "apps"}
    for module in imported_modules(path):
        assert module.split(".")[0] in allowed_roots, f"{path.relative_to(ROOT)} imports {module}"
        if module.startswith("apps."):
            # The kernel's errors are plain Python too: what a contract may raise is part of it.
            assert module in ("apps.kernel", "apps.kernel.errors") or module.endswith(".contracts"), (
                f"{path.relative_to(ROOT)} imports {module}"
            )


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
