"""No module in apps/ grows past 400 lines: one that does is telling us where its seams are
(CONVENTIONS.md, rule 13). Migrations are generated and do not count."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400


def test_no_module_in_apps_is_over_400_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "apps").rglob("*.py"))
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"Split these along their seams: {too_long}"
