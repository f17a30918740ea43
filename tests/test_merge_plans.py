"""The plans MariaDB makes for our merge statements: no subquery scans a table once per row.

MariaDB runs a subquery of an UPDATE or DELETE, or one below the window function that
deduplicates staged rows, once per outer row; when that subquery reads a whole table each time,
a merge costs destination rows x staged rows (92 s for scd2 of 5,000 rows with a nested table,
a timeout for cdc). Our statements read the keys through derived tables that MariaDB indexes
(`keys_through_derived_tables`, bounded key columns). Speed is measured by
benchmarks/merge_step.py; this test checks the plan that makes it, so that a change of SQL or of
column types that brings the per-row scan back fails here, whatever the machine's speed.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List

import dlt
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from conftest import Backend, attach_sqlite_datasets

STRATEGIES = ["delete-insert", "upsert", "cdc", "scd2", "insert-only"]


def players(rev: int, ids: range) -> List[Dict[str, Any]]:
    return [
        {
            "id": i,
            "rev": rev,
            "deleted": rev > 0 and i % 7 == 0,
            "titles": [{"t": f"t{i}.{j}", "years": [2000 + j, 2001 + j]} for j in range(3)],
        }
        for i in ids
    ]


@pytest.fixture
def captured() -> Iterator[List[str]]:
    """Every UPDATE, DELETE and INSERT ... SELECT any engine runs while the test runs."""
    statements: List[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip()[:6].upper()
        if head in ("UPDATE", "DELETE") or (head == "INSERT" and " SELECT " in statement):
            statements.append(statement)

    event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(sa.engine.Engine, "before_cursor_execute", record)


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
@pytest.mark.parametrize("merge_indexes", [False, True], ids=["no-indexes", "merge-indexes"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_merge_subquery_scans_a_table_per_row(
    backend: Backend, strategy: str, merge_indexes: bool, captured: List[str]
) -> None:
    """With `create_merge_indexes`, lookups into the destination use its indexes (a derived
    table would copy every key first); without, they go through derived tables."""
    hints: Dict[str, Any] = {"write_disposition": {"disposition": "merge", "strategy": strategy}}
    if strategy != "scd2":
        hints["primary_key"] = "id"
        hints["columns"] = {"deleted": {"data_type": "bool", "hard_delete": True}}
    pipeline = backend.pipeline(destination=backend.destination(create_merge_indexes=merge_indexes))
    pipeline.run(dlt.resource(players(0, range(300)), name="players", **hints))
    captured.clear()
    pipeline.run(dlt.resource(players(1, range(150, 450)), name="players", **hints))
    merges = [s for s in captured if "_staging" in s]
    assert merges, "no merge statement was captured"

    per_row_scans = []
    with backend.engine.connect() as conn:
        for statement in merges:
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}").mappings().all()
            for step in plan:
                if step["select_type"] == "DEPENDENT SUBQUERY" and step["type"] == "ALL":
                    per_row_scans.append((step["table"], " ".join(statement.split())[:200]))
    assert not per_row_scans, per_row_scans
    if merge_indexes and strategy == "scd2":
        inserts = [s for s in merges if s.startswith("INSERT")]
        assert inserts and not any("SELECT DISTINCT" in s.split("EXISTS")[-1] for s in inserts)


def sqlite_per_row_scans(conn: sa.Connection, statement: str) -> List[str]:
    """Tables a correlated subquery of `statement` scans whole, once per outer row."""
    plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
    correlated = {row[0] for row in plan if row[3].startswith("CORRELATED")}
    return [row[3] for row in plan if row[1] in correlated and row[3].startswith("SCAN ")]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("strategy", ["delete-insert", "upsert", "cdc", "insert-only"])
def test_sqlite_compound_keys_are_looked_up_not_listed(
    backend: Backend, strategy: str, captured: List[str]
) -> None:
    """SQLite runs a row-value `(a, b) NOT IN (SELECT ...)` as a scan of the whole list per
    row (cdc of 10k rows into 100k with a compound key: 26 s); a correlated EXISTS must find its
    keys through an index (an automatic one over a derived table of the keys)."""
    hints: Dict[str, Any] = {
        "write_disposition": {"disposition": "merge", "strategy": strategy},
        "primary_key": ["region", "id"],
        "columns": {"deleted": {"data_type": "bool", "hard_delete": True}},
    }

    def rows(rev: int, ids: range) -> List[Dict[str, Any]]:
        return [{"region": i % 4, "id": i // 4, "rev": rev, "deleted": False} for i in ids]

    pipeline = backend.pipeline()
    pipeline.run(dlt.resource(rows(0, range(300)), name="players", **hints))
    captured.clear()
    pipeline.run(dlt.resource(rows(1, range(150, 450)), name="players", **hints))
    merges = [s for s in captured if "_staging" in s]
    assert merges, "no merge statement was captured"
    listed = [s for s in merges if re.search(r"\)\)?\s+NOT IN \(", s)]
    assert not listed, listed
    with backend.engine.connect() as conn:
        attach_sqlite_datasets(conn, backend.url, backend.datasets)
        scans = [scan for s in merges for scan in sqlite_per_row_scans(conn, s)]
    assert not scans, scans
    stored = backend.rows(pipeline.dataset_name, "players", order_by="region, id")
    expected_ids = range(150, 450) if strategy == "cdc" else range(450)
    assert len(stored) == len(expected_ids)
