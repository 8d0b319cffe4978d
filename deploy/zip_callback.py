"""Zappa's ``"callbacks": {"zip": "deploy.zip_callback.compile_and_strip"}``: make the
package start fast and stay lean.

Zappa ships source only, and ``/var/task`` is read-only, so every cold start would
compile every module it imports (measured: 3.0-3.5 s for this app). This callback
rewrites the zip Zappa built:

- **bytecode**: every module compiled by the interpreter Zappa runs in (the same Python
  minor version as the Lambda runtime, checked) into ``__pycache__``, with
  ``--invalidation-mode unchecked-hash``: the zip's entries carry a 1980 timestamp, so
  timestamp-checked bytecode would look stale and be ignored, and a hash check would read
  every source again. The package is immutable once built, so "unchecked" is exact.
- **lean**: deploy-time and development-only distributions are removed (Zappa's own
  build tools, pip, setuptools, gunicorn and Redis of the services mode, Celery's
  interactive shell), translations' ``.po`` sources (only compiled ``.mo`` files are
  read), and the botocore models of AWS services Bespoke never calls.

It also refuses a package that contains a development tool (pytest, mypy, ruff, moto…):
those come from the wrong virtualenv (``make package`` builds from ``.venv-package``).
"""

import compileall
import os
import py_compile
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Top-level names (site-packages is flattened into the zip's root) that Lambda never imports.
STRIP_TOP_LEVEL = frozenset(
    {
        # packaging and Zappa's deploy-time dependencies
        "pip",
        "setuptools",
        "pkg_resources",
        "_distutils_hack",
        "distutils-precedence.pth",
        "wheel",
        "troposphere",
        "cfn_flip",
        "cfn_clean",
        "cfn_tools",
        "hjson",
        "placebo",
        "tqdm",
        "argcomplete",
        "slugify",
        "text_unidecode",
        "toml",
        "kappa",
        # the services mode's web server and broker client
        "gunicorn",
        "redis",
        # an HTTP client only Zappa's command line uses (botocore brings its own urllib3)
        "requests",
        "charset_normalizer",
        # Celery's interactive shell (the celery command line is not used on Lambda)
        "click_repl",
        "prompt_toolkit",
        "wcwidth",
    }
)

# Never in a package: if one shows up, the package was built from a development virtualenv.
FORBIDDEN_TOP_LEVEL = frozenset(
    {
        "pytest",
        "_pytest",
        "pytest_django",
        "mypy",
        "mypyc",
        "ruff",
        "moto",
        "django_stubs_ext",
        "mypy_django_plugin",
        "mypy_drf_plugin",
        "importlinter",
        "grimp",
        "celery-stubs",
        "django-stubs",
        "rest_framework-stubs",
    }
)

# AWS services whose botocore models stay (every ``client("<service>")`` in apps/, tasks/,
# deploy/ and project/ — a test keeps this list complete — plus what Zappa's handler and
# kombu's SQS transport use).
AWS_SERVICES = frozenset(
    {
        "cloudtrail",
        "config",
        "directconnect",
        "ec2",
        "iam",
        "logs",
        "organizations",
        "route53",
        "s3",
        "secretsmanager",
        "ses",
        "sesv2",
        "sns",
        "sqs",
        "sts",
        "support",
    }
)

_DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-[^/-]+\.(dist|egg)-info$")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _top_level_of_dist(dist_info: Path) -> set[str]:
    """The top-level modules a distribution installed (from its ``top_level.txt`` or RECORD)."""
    names: set[str] = set()
    top_level = dist_info / "top_level.txt"
    if top_level.exists():
        names.update(line.strip() for line in top_level.read_text().splitlines() if line.strip())
    record = dist_info / "RECORD"
    if record.exists():
        for line in record.read_text().splitlines():
            first = line.split(",", 1)[0].split("/", 1)[0]
            if first and not first.endswith((".dist-info", ".egg-info")) and first != "..":
                names.add(first.removesuffix(".py"))
    return names


def strip(root: Path, *, names: Iterable[str] = STRIP_TOP_LEVEL) -> list[str]:
    """Remove the named top-level modules and their distributions' metadata; what went."""
    wanted = {_normalize(n) for n in names}
    removed: list[str] = []
    for entry in sorted(root.iterdir()):
        match = _DIST_INFO.match(entry.name)
        if (
            match
            and entry.is_dir()
            and (_normalize(match["name"]) in wanted or any(_normalize(n) in wanted for n in _top_level_of_dist(entry)))
        ):
            shutil.rmtree(entry)
            removed.append(entry.name)
    for entry in sorted(root.iterdir()):
        if _normalize(entry.name.removesuffix(".py")) in wanted or _normalize(entry.name) in wanted:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            removed.append(entry.name)
    # A ".libs" directory of vendored shared libraries belongs to the package before the dot.
    for entry in sorted(root.glob("*.libs")):
        if _normalize(entry.name.removesuffix(".libs")) in wanted:
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


def strip_translation_sources(root: Path) -> int:
    count = 0
    for po in root.glob("**/locale/*/LC_MESSAGES/*.po"):
        po.unlink()
        count += 1
    return count


def strip_botocore_models(root: Path, *, keep: Iterable[str] = AWS_SERVICES) -> list[str]:
    data = root / "botocore" / "data"
    if not data.is_dir():
        return []
    kept = set(keep)
    removed = []
    for service in sorted(p for p in data.iterdir() if p.is_dir()):
        if service.name not in kept:
            shutil.rmtree(service)
            removed.append(service.name)
    return removed


def forbidden_in(root: Path) -> list[str]:
    present = {_normalize(p.name.removesuffix(".py")) for p in root.iterdir()}
    return sorted(name for name in FORBIDDEN_TOP_LEVEL if _normalize(name) in present)


def compile_tree(root: Path) -> bool:
    """Bytecode for every module under ``root``, as Lambda will find it under /var/task."""
    return compileall.compile_dir(
        str(root),
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        stripdir=str(root),
        prependdir="/var/task",
    )


def write_zip(root: Path, destination: Path) -> None:
    tmp = destination.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for directory, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for filename in sorted(filenames):
                path = Path(directory) / filename
                info = zipfile.ZipInfo(str(path.relative_to(root)))  # 1980-01-01: reproducible
                info.create_system = 3
                info.external_attr = 0o755 << 16  # what Zappa sets; Lambda needs them readable
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    tmp.replace(destination)


def rewrite(zip_path: Path, *, runtime: str, extra_strip: Iterable[str] = ()) -> dict[str, Any]:
    """Strip, compile and re-zip ``zip_path`` in place; a summary of what was done."""
    wanted = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != wanted:
        raise RuntimeError(
            f"Bytecode is specific to the Python version: this package targets {runtime} but is being "
            f"built with {wanted}. Build it with `make package` (its virtualenv uses the runtime's Python)."
        )
    with tempfile.TemporaryDirectory(prefix="bespoke-package-") as workdir:
        root = Path(workdir) / "package"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(root)
        forbidden = forbidden_in(root)
        if forbidden:
            raise RuntimeError(f"The package contains development tools: {', '.join(forbidden)}.")
        removed = strip(root, names=STRIP_TOP_LEVEL | set(extra_strip))
        translations = strip_translation_sources(root)
        models = strip_botocore_models(root)
        compile_tree(root)
        write_zip(root, zip_path)
    return {"removed": removed, "po_files": translations, "botocore_models_removed": len(models)}


def compile_and_strip(cli: Any) -> None:
    """The Zappa callback: ``cli`` is Zappa's CLI object after ``zappa package``."""
    summary = rewrite(Path(cli.zip_path), runtime=str(cli.runtime))
    size = Path(cli.zip_path).stat().st_size
    print(
        f"deploy.zip_callback: compiled to bytecode (unchecked-hash); removed {len(summary['removed'])} "
        f"deploy-time entries, {summary['po_files']} .po files, {summary['botocore_models_removed']} unused "
        f"AWS service models; {size / 2**20:.1f} MiB zipped"
    )
