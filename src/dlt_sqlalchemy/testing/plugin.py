"""pytest plugin of the conformance kit: `--dlt-sqla-url` and a `conformance_target` fixture.

Load it with `-p dlt_sqlalchemy.testing.plugin` (or `pytest_plugins = [...]` in a conftest).
At the end of the run it prints which capabilities hold for each URL.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

import pytest

from dlt_sqlalchemy.testing.checks import CHECKS, CheckResult, run_check
from dlt_sqlalchemy.testing.target import ConformanceTarget

_OUTCOMES: List[Tuple[str, CheckResult]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dlt-sqla-url",
        action="append",
        default=[],
        help="SQLAlchemy URL of a database to run the dlt-sqlalchemy conformance kit against"
        " (repeat for several). The password is never printed.",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_url" in metafunc.fixturenames:
        urls = metafunc.config.getoption("--dlt-sqla-url")
        metafunc.parametrize("conformance_url", urls, ids=[_safe(u) for u in urls])
    if "conformance_check" in metafunc.fixturenames:
        metafunc.parametrize("conformance_check", list(CHECKS), ids=list(CHECKS))


@pytest.fixture
def conformance_target(conformance_url: str, tmp_path: Any) -> Iterator[ConformanceTarget]:
    target = ConformanceTarget(conformance_url, str(tmp_path))
    yield target
    target.cleanup()


def check_and_record(name: str, target: ConformanceTarget) -> CheckResult:
    """Runs a check, remembers it for the summary, and turns its outcome into pytest's."""
    result = run_check(name, target)
    _OUTCOMES.append((_safe(str(target.credentials)), result))
    if result.outcome == "not applicable":
        pytest.skip(result.detail)
    if result.outcome == "failed":
        pytest.fail(f"{name}: {result.detail}", pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _OUTCOMES:
        return
    by_url: Dict[str, List[CheckResult]] = {}
    for url, result in _OUTCOMES:
        by_url.setdefault(url, []).append(result)
    terminalreporter.section("dlt-sqlalchemy conformance")
    for url, results in by_url.items():
        terminalreporter.write_line(url)
        for result in results:
            detail = f"  ({result.detail})" if result.detail else ""
            terminalreporter.write_line(f"  {result.outcome:15} {result.check}{detail}")


def _safe(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"
