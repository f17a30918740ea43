"""The conformance kit passes on our four live backends (it is what dialect authors will run)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, Set

import pytest

from conftest import Backend
from dlt_sqlalchemy.testing import CHECKS, ConformanceTarget
from dlt_sqlalchemy.testing.checks import run_check

# what a backend does not declare (yet), so the kit must report "not applicable" there: since
# the native merge strategies landed, every live backend declares every check's capability
NOT_DECLARED: Dict[str, Set[str]] = {}


@pytest.mark.parametrize("check", list(CHECKS))
def test_kit_check_on_live_backend(backend: Backend, check: str, tmp_path: Any) -> None:
    """Each check passes where the capability is declared and says so where it is not."""
    target = ConformanceTarget(backend.url, str(tmp_path / "kit"))
    result = run_check(check, target)
    if backend.name in NOT_DECLARED.get(check, set()):
        assert result.outcome == "not applicable", result
    else:
        assert result.outcome == "passed", result


def test_kit_runs_as_a_pytest_plugin(tmp_path: Any) -> None:
    """A dialect author's command line: the plugin, the suite, a URL; a summary at the end."""
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "dlt_sqlalchemy.testing.plugin",
            "--pyargs",
            "dlt_sqlalchemy.testing.suite",
            "--dlt-sqla-url",
            url,
            "-k",
            "append or types.bool or replace",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "dlt-sqlalchemy conformance" in completed.stdout
    assert "passed          append" in completed.stdout
