"""CI and the README agree, and browser tests cannot silently vanish from CI."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CI_SCRIPT = PROJECT_ROOT / ".ci" / "run"
README = PROJECT_ROOT / "README.md"


def test_ci_script_is_executable_and_strict():
    assert CI_SCRIPT.stat().st_mode & stat.S_IXUSR
    text = CI_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert "playwright install" not in text.replace("never `playwright install`", "")


def test_ci_runs_the_readme_commands():
    readme = README.read_text()
    assert "pip install -e . && flask demo" in readme
    assert "pip install -e '.[test]' && pytest" in readme
    assert "docs/ARCHITECTURE.md" in readme
    script = CI_SCRIPT.read_text()
    assert "python -m pip install --quiet -e '.[test]'" in script
    # The README's test command, as is, on SQLite and on PostgreSQL; then the browser tests.
    runs = re.findall(r"^(.*)run_tests (.+)$", script, re.M)
    # (the PostgreSQL run waits its turn for the shared database "test")
    assert [command for _, command in runs] == [
        "pytest", 'flock --close "$PG_LOCK" pytest', "pytest -m e2e tests/e2e"
    ]
    assert "TEST_DATABASE_URL=\"$PG_URL\"" in runs[1][0]
    assert 'PG_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"' in script


def test_browser_tests_skip_locally_but_fail_in_ci_without_chromium(monkeypatch):
    from tests.e2e import conftest as e2e

    monkeypatch.setattr(e2e, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        e2e._require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="browser tests must run in CI"):
        e2e._require_browser()


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="needs /usr/bin/chromium")
def test_browser_requirement_met_here(monkeypatch):
    from tests.e2e import conftest as e2e

    monkeypatch.setenv("CI", "true")
    e2e._require_browser()  # neither skips nor fails


def test_nothing_in_the_project_reads_the_shared_folder_beside_the_clone():
    """A fresh clone anywhere must test green: test data lives in tests/data."""
    offenders = []
    for path in PROJECT_ROOT.rglob("*"):
        if not path.is_file() or ".git" in path.parts or path.suffix in {".pyc", ".json"}:
            continue
        if any(part in {".venv", "instance", "node_modules"} for part in path.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path == Path(__file__):
            continue
        if re.search(r"\.\./shared|parents\[\d\] / \"shared\"", text):
            offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == []
    assert (PROJECT_ROOT / "tests" / "data" / "blns" / "blns.json").is_file()
    assert (PROJECT_ROOT / "tests" / "data" / "blns" / "LICENSE").is_file()


def test_ci_installs_axe_core_from_the_lock_file_before_the_browser_tests():
    script = CI_SCRIPT.read_text()
    install = script.index("npm ci --prefix tests/e2e/axe")
    assert install < script.index('run_tests pytest -m e2e tests/e2e')
    lock = (PROJECT_ROOT / "tests" / "e2e" / "axe" / "package-lock.json").read_text()
    assert '"node_modules/axe-core"' in lock and '"integrity"' in lock
    assert "/tests/e2e/axe/node_modules/" in (PROJECT_ROOT / ".gitignore").read_text()


def test_axe_checks_skip_locally_but_fail_in_ci_without_axe(monkeypatch):
    from tests.e2e import test_accessibility as a11y

    monkeypatch.setattr(a11y, "AXE_JS", Path("/nonexistent/axe.min.js"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="axe-core is not installed"):
        a11y.axe_source.__wrapped__()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="axe-core is not installed"):
        a11y.axe_source.__wrapped__()
