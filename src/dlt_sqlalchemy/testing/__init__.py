"""A conformance kit for dialect authors: which destination capabilities hold on your database.

Point it at a database URL and it loads real data through a dlt pipeline and reads it back:
each dlt type, schema evolution, every write disposition the capabilities declare, state sync.

From the command line (the plugin adds `--dlt-sqla-url`, repeatable)::

    pytest -p dlt_sqlalchemy.testing.plugin --pyargs dlt_sqlalchemy.testing.suite \\
        --dlt-sqla-url "exasol+websocket://sys:exasol@localhost:8563"

or from Python, without pytest::

    from dlt_sqlalchemy.testing import run_conformance
    for result in run_conformance("duckdb:///kit.duckdb", workdir="/tmp/kit"):
        print(result.check, result.outcome, result.detail)

Every check uses fresh datasets and drops them afterwards.
"""

from dlt_sqlalchemy.testing.checks import CHECKS, CheckResult, run_conformance
from dlt_sqlalchemy.testing.target import ConformanceTarget

__all__ = ["CHECKS", "CheckResult", "ConformanceTarget", "run_conformance"]
