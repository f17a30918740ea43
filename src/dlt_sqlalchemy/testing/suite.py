"""The conformance suite: one test per check and URL (`--dlt-sqla-url`)."""

from __future__ import annotations

from dlt_sqlalchemy.testing.plugin import check_and_record
from dlt_sqlalchemy.testing.target import ConformanceTarget


def test_conformance(conformance_target: ConformanceTarget, conformance_check: str) -> None:
    """The named capability holds on the database under test."""
    check_and_record(conformance_check, conformance_target)
