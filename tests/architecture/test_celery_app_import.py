"""``celery -A project worker`` imports the Celery application before Django is set up:
the module must import on its own (a model imported at its top stops every worker at
start, with nothing but a traceback in its log)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_celery_app_imports_before_django_is_set_up() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import project.celery as c; print(c.app.main)"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.local"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "bespoke"
