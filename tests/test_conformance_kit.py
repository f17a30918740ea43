"""The conformance kit passes on our four live backends (it is what dialect authors will run)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any, Dict, Iterator, Set

import pytest

from conftest import Backend
from dlt_sqlalchemy.dialects import (
    _REGISTRY,
    get_dialect_capabilities,
    register_dialect_capabilities,
)
from dlt_sqlalchemy.testing import CHECKS, ConformanceTarget
from dlt_sqlalchemy.testing.checks import fitting_decimal, run_check

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


@pytest.fixture
def saved_registry() -> Iterator[None]:
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_kit_samples_fit_what_the_dialect_declares(
    backend: Backend, saved_registry: None, tmp_path: Any
) -> None:
    """A dialect declaring 18-digit decimals (Firebird's NUMERIC) is right to refuse 38 digits:
    the kit's decimal samples use the declared precision and scale, not more."""
    builtin = type(get_dialect_capabilities("postgresql"))

    class EighteenDigits(builtin):  # type: ignore[valid-type,misc]
        def adjust_capabilities(self, caps: Any, dialect: Any) -> None:
            super().adjust_capabilities(caps, dialect)
            caps.decimal_precision = (18, 4)
            caps.wei_precision = (18, 0)

    register_dialect_capabilities("postgresql", EighteenDigits)
    target = ConformanceTarget(backend.url, str(tmp_path / "kit"))
    for check in ("types.decimal", "types.wei"):
        result = run_check(check, target)
        assert result.outcome == "passed", result
    assert fitting_decimal(18, 4) == Decimal("-12345678901234.1234")
    assert fitting_decimal(38, 9) == Decimal("-12345678901234567890123456789.123456789")
