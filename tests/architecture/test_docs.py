"""The docs hold together: the README stays a short map, every relative link lands on a
file (and an anchor on a heading), every ``manage.py`` command they name exists, and the
configuration page names real settings — all of them."""

import ast
import re
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
PAGES = sorted([README, *(ROOT / "docs").glob("*.md"), ROOT / "bench" / "README.md", ROOT / "deploy" / "README.md"])
SETTINGS_MODULES = sorted((ROOT / "project" / "settings").glob("*.py"))

README_MAX_LINES = 250
# tests/e2e/test_quickstart.py runs these README blocks word for word.
QUICKSTART_MARKERS = ("request", "status", "tenants")

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
_COMMAND = re.compile(r"manage\.py\s+([a-z_][a-z0-9_]*)")
_BACKTICKED_NAME = re.compile(r"`([A-Z][A-Z0-9_]{2,})`")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """The page without its code: what a reader follows as links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text())):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _relative_links(path: Path) -> list[str]:
    return [
        target
        for target in _LINK.findall(_prose(path.read_text()))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_the_readme_is_a_short_map() -> None:
    lines = README.read_text().count("\n")
    assert lines < README_MAX_LINES, f"README.md has {lines} lines: move what serves one reader to docs/"


@pytest.mark.parametrize("marker", QUICKSTART_MARKERS)
def test_the_quickstart_blocks_are_in_the_readme(marker: str) -> None:
    assert re.search(rf"<!-- quickstart:{marker} -->\s*```bash\n", README.read_text()), marker


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {_name(linked)}")
    assert not broken, f"{_name(page)}: " + "; ".join(broken)


def test_every_manage_py_command_the_docs_name_exists() -> None:
    known = set(get_commands())
    named = {(_name(page), command) for page in PAGES for command in _COMMAND.findall(page.read_text())}
    assert named, "the docs name no manage.py command: the pattern is broken"
    unknown = sorted(f"{page}: manage.py {command}" for page, command in named if command not in known)
    assert not unknown, unknown


def _settings_names() -> tuple[set[str], set[str]]:
    """Every name ``project/settings`` assigns or spells as a string (settings, environment
    variables), and the environment variables it reads through the typed helpers."""
    names: set[str] = set()
    read: set[str] = set()
    for module in SETTINGS_MODULES:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.startswith("env_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                read.add(str(node.args[0].value))
    return names, read


def test_every_setting_on_the_configuration_page_exists() -> None:
    names, _ = _settings_names()
    written = set(_BACKTICKED_NAME.findall(CONFIGURATION.read_text()))
    assert written, "the configuration page names no setting: the pattern is broken"
    unknown = sorted(written - names)
    assert not unknown, "not in project/settings: " + ", ".join(unknown)


def test_every_environment_variable_the_settings_read_is_on_the_configuration_page() -> None:
    _, read = _settings_names()
    written = set(_BACKTICKED_NAME.findall(CONFIGURATION.read_text()))
    missing = sorted(read - written)
    assert not missing, "undocumented in docs/configuration.md: " + ", ".join(missing)
