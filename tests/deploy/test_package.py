"""``make package`` builds lean packages with valid bytecode, offline; the peeled network
package holds no other context."""

import importlib.util
import zipfile
from pathlib import Path

import pytest

from deploy.zip_callback import FORBIDDEN_TOP_LEVEL, STRIP_TOP_LEVEL
from tests.deploy import harness

pytestmark = pytest.mark.slow

DEV_TOOLS = {"pytest", "_pytest", "pytest_django", "mypy", "ruff", "moto", "django_stubs_ext", "importlinter"}


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def top_level(entries: list[str]) -> set[str]:
    return {entry.split("/", 1)[0].removesuffix(".py") for entry in entries}


@pytest.mark.parametrize("stage", ["dev", "production-network"])
def test_package_is_lean_and_carries_valid_bytecode(packages: dict[str, Path], stage: str) -> None:
    path = packages[stage]
    entries = names(path)
    tops = top_level(entries)
    assert not tops & DEV_TOOLS
    assert not tops & FORBIDDEN_TOP_LEVEL
    assert not tops & {name.removesuffix(".pth") for name in STRIP_TOP_LEVEL}
    assert not [e for e in entries if e.startswith(("tests/", "bench/", "docs/", ".venv", "deploy/cloudformation/"))]
    assert "zappa_settings.py" in entries
    assert {"django", "rest_framework", "celery", "kombu", "boto3", "psycopg", "zappa", "deploy"} <= tops

    sources = [e for e in entries if e.endswith(".py")]
    with zipfile.ZipFile(path) as archive:
        for source in sources:
            folder, _, filename = source.rpartition("/")
            cached = f"{folder}/__pycache__/{filename[:-3]}.cpython-312.pyc".lstrip("/")
            header = archive.read(cached)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER, cached
            # PEP 552 flags: 0b01 = hash-based, without 0b10 (check_source): unchecked-hash.
            assert int.from_bytes(header[4:8], "little") == 0b01, cached
            assert header[8:16] == importlib.util.source_hash(archive.read(source)), cached
    print(
        f"{stage}: {path.stat().st_size / 2**20:.1f} MiB zipped, {harness.unpacked_size(path) / 2**20:.1f} MiB "
        f"unzipped, {len(entries)} files, {len(sources)} modules with bytecode"
    )


def test_network_package_holds_only_what_the_network_function_runs(packages: dict[str, Path]) -> None:
    entries = [e for e in names(packages["production-network"]) if "__pycache__" not in e]
    contexts = {e.split("/")[1] for e in entries if e.startswith("apps/") and e.count("/") >= 2}
    assert contexts == {"kernel", "cloud", "network", "workflow"}
    # Of workflow, only the run events network listens to (see .importlinter).
    assert sorted(e for e in entries if e.startswith("apps/workflow/")) == [
        "apps/workflow/__init__.py",
        "apps/workflow/contracts.py",
    ]
    assert "project/urls.py" not in entries
    assert "deploy/functions/network.py" in entries
    assert "project/settings/network_function.py" in entries
    dev_contexts = {e.split("/")[1] for e in names(packages["dev"]) if e.startswith("apps/") and e.count("/") >= 2}
    assert {"intake", "workflow", "accounts", "notifications"} <= dev_contexts
