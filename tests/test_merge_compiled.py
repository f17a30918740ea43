"""Merge and replace SQL for dialects without a server here (SQL Server, Oracle, Trino), compiled
by the real job client from a normalized schema, then parsed by sqlglot for that dialect.

These prove the statements' shape and syntax, not their effect: the live backends do that in
test_merge.py and test_replace_strategies.py.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Dict, List, Sequence

import dlt
import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from dlt_sqlalchemy import sqlalchemy
from dlt_sqlalchemy.followup import guards
from dlt_sqlalchemy.followup.merge.job import merge_sql
from dlt_sqlalchemy.followup.replace import insert_from_staging_sql, swap_sql

URLS = {
    "mssql": "mssql+pyodbc://loader:secret@db.example:1433/dwh?driver=ODBC+Driver+18",
    "oracle": "oracle+oracledb://loader:secret@db.example:1521/?service_name=DWH",
    "trino": "trino://loader@db.example:8080/hive",
    "postgresql": "postgresql://loader:secret@db.example/dwh",
    "sqlite": "sqlite:////tmp/never_created.db",
    "duckdb": "duckdb:////tmp/never_created.duckdb",
    "mysql": "mysql+mysqldb://loader:secret@db.example/dwh",
}
SQLGLOT = {"mssql": "tsql", "oracle": "oracle", "trino": "trino", "postgresql": "postgres"}
BOUNDARY = "2024-05-01T12:30:15.123456+00:00"


def chain_sql(
    backend: str, tmp_path: Any, strategy: str, replace: str = "", **options: Any
) -> List[str]:
    """The follow-up statements for a `players` resource with a nested `titles` table."""
    hints: Dict[str, Any] = {"columns": {"deleted": {"data_type": "bool", "hard_delete": True}}}
    if replace:
        hints = {"write_disposition": "replace"}
    else:
        hints["write_disposition"] = {"disposition": "merge", "strategy": strategy, **options}
        if strategy == "scd2":
            hints["write_disposition"]["boundary_timestamp"] = BOUNDARY
            hints.pop("columns")
        else:
            hints["primary_key"] = "id"
    if "merge_key" in options:
        hints["merge_key"] = hints["write_disposition"].pop("merge_key")

    @dlt.resource(name="players", **hints)
    def players() -> Any:
        yield [{"id": 1, "day": 1, "name": "a", "deleted": False, "titles": ["t1", "t2"]}]

    destination = sqlalchemy(URLS[backend], replace_strategy=replace or None)
    pipeline = dlt.pipeline(
        pipeline_name=f"compiled_{backend}",
        destination=destination,
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.extract(players())
    pipeline.normalize()
    config = destination.configuration(destination.spec()._bind_dataset_name(dataset_name="games"))
    client = destination.client(pipeline.default_schema, config)
    chain = [client.prepare_load_table(name) for name in ("players", "players__titles")]
    if replace == "staging-optimized":
        swapped = swap_sql(chain, client)
        return ["SWAP", *[" ".join(s.split()) for s in swapped]] if swapped else ["COPY"]
    if replace:
        return insert_from_staging_sql(chain, client)
    return [" ".join(s.split()) for s in merge_sql(chain, client)]


def parse(backend: str, statements: Sequence[str]) -> List[str]:
    """Parses each statement with sqlglot (strictly); returns the expression kinds."""
    kinds = []
    for statement in statements:
        expression = sqlglot.parse_one(
            statement, read=SQLGLOT[backend], error_level=ErrorLevel.RAISE
        )
        kinds.append(type(expression).__name__)
    return kinds


def unwrap_mssql(statement: str) -> str:
    """The MERGE inside SQL Server's dynamic-SQL wrapper, unescaped."""
    match = re.fullmatch(
        r"DECLARE @dlt_merge NVARCHAR\(MAX\) = CAST\(N'(.*)' AS NVARCHAR\(MAX\)\)"
        r" \+ NCHAR\(59\) EXEC \(@dlt_merge\)",
        statement,
    )
    assert match, statement
    return match.group(1).replace("''", "'")


@pytest.mark.parametrize("backend", ["mssql", "oracle", "trino", "postgresql"])
def test_no_statement_contains_a_semicolon(backend: str, tmp_path: Any) -> None:
    """dlt's SQL job splits its file on every `;`: no strategy may produce one."""
    for strategy in ("delete-insert", "upsert", "insert-only", "scd2", "cdc"):
        statements = chain_sql(backend, tmp_path / strategy, strategy)
        assert statements
        assert not any(";" in s for s in statements), strategy


def test_mssql_upsert_is_merge_run_as_dynamic_sql(tmp_path: Any) -> None:
    """SQL Server needs `;` after MERGE, which dlt would split away: each MERGE runs as dynamic
    SQL with NCHAR(59) appended; hard deletes and removed list elements are plain DELETEs."""
    statements = chain_sql("mssql", tmp_path, "upsert")
    merges = [unwrap_mssql(s) for s in statements if s.startswith("DECLARE")]
    deletes = [s for s in statements if s.startswith("DELETE")]
    assert len(merges) == 2 and len(deletes) == 3 and len(statements) == 5
    root, nested = merges
    assert root.startswith("MERGE INTO [games].[players] AS d USING (")
    assert ") AS s ON d.[id] = s.[id] WHEN MATCHED THEN UPDATE SET " in root
    assert "WHEN NOT MATCHED THEN INSERT (" in root
    assert nested.startswith("MERGE INTO [games].[players__titles] AS d")
    assert "ON d.[_dlt_id] = s.[_dlt_id]" in nested
    assert parse("mssql", merges + deletes) == ["Merge", "Merge", "Delete", "Delete", "Delete"]


def test_mssql_insert_only_and_skip_unchanged(tmp_path: Any) -> None:
    """insert-only merges without WHEN MATCHED; skip_unchanged_rows updates only rows whose
    values differ (NULL-safe, with INTERSECT since SQL Server lacks IS DISTINCT FROM before
    2022)."""
    insert_only = [unwrap_mssql(s) for s in chain_sql("mssql", tmp_path / "i", "insert-only")]
    assert all("WHEN MATCHED" not in s for s in insert_only)
    assert all("WHEN NOT MATCHED THEN INSERT" in s for s in insert_only)
    upsert = chain_sql("mssql", tmp_path / "u", "upsert", skip_unchanged_rows=True)
    root = unwrap_mssql(next(s for s in upsert if s.startswith("DECLARE")))
    assert (
        "WHEN MATCHED AND (NOT EXISTS (SELECT d.[day] INTERSECT SELECT s.[day])"
        " OR NOT EXISTS (SELECT d.[name] INTERSECT SELECT s.[name])) THEN UPDATE SET "
    ) in root
    parse("mssql", [root, *insert_only])


def test_oracle_upsert_is_merge(tmp_path: Any) -> None:
    """Oracle MERGE: ON in parentheses, no AS before aliases, an update condition as WHERE."""
    statements = chain_sql("oracle", tmp_path, "upsert", skip_unchanged_rows=True)
    merges = [s for s in statements if s.startswith("MERGE")]
    assert len(merges) == 2
    root = merges[0]
    assert root.startswith("MERGE INTO games.players d USING (")
    assert ") s ON (d.id = s.id) WHEN MATCHED THEN UPDATE SET " in root
    assert (
        " WHERE (DECODE(d.day, s.day, 0, 1) = 1 OR DECODE(d.name, s.name, 0, 1) = 1)"
        " WHEN NOT MATCHED THEN INSERT ("
    ) in root
    assert " AS d " not in root and " AS s " not in root
    assert parse("oracle", statements) == ["Delete", "Delete", "Delete", "Merge", "Merge"]


def test_oracle_scd2_timestamps_are_valid_literals(tmp_path: Any) -> None:
    """Validity timestamps use TO_TIMESTAMP_TZ with a format that matches the literal; the
    zone-less TO_TIMESTAMP format SQLAlchemy would use rejects the offset (ORA-01830, dlt
    issue #3846)."""
    statements = chain_sql("oracle", tmp_path, "scd2")
    literals = re.findall(r"TO_TIMESTAMP_TZ\('([^']*)', '([^']*)'\)", " ".join(statements))
    assert len(literals) == 2  # the retirement and the new versions' `valid from`
    for text, fmt in literals:
        assert fmt == "YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM"
        moment = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f %z")
        assert moment == datetime.datetime.fromisoformat(BOUNDARY)
    assert "TO_TIMESTAMP('" not in " ".join(statements)
    assert parse("oracle", statements) == ["Update", "Insert", "Insert"]


def test_mssql_scd2_timestamps(tmp_path: Any) -> None:
    """SQL Server takes the boundary as an ISO literal of the validity column's type."""
    statements = chain_sql("mssql", tmp_path, "scd2")
    assert statements[0].startswith("UPDATE [games].[players] SET [_dlt_valid_to]=")
    assert "'2024-05-01 12:30:15.123456+00:00'" in statements[0]
    assert parse("mssql", statements) == ["Update", "Insert", "Insert"]


@pytest.mark.parametrize("backend", ["mssql", "oracle", "trino", "postgresql"])
def test_delete_insert_keys_delete_separately(backend: str, tmp_path: Any) -> None:
    """Primary and merge keys delete in separate statements (no OR), nested rows first; no
    temporary table is created."""
    statements = chain_sql(backend, tmp_path, "delete-insert", merge_key="day")
    deletes = [s for s in statements if s.startswith("DELETE")]
    # per key: nested rows, then root rows; then nothing else deletes
    assert len(deletes) == 4
    assert not any(" OR " in s for s in deletes)
    assert not any(re.search(r"\bCREATE\b|\bDROP\b", s) for s in statements)
    assert "players__titles" in deletes[0] and "players__titles" in deletes[2]
    assert [s.split()[0] for s in statements] == ["DELETE"] * 4 + ["INSERT"] * 2
    parse(backend, statements)


@pytest.mark.parametrize("backend", ["mssql", "oracle", "trino", "postgresql"])
def test_cdc_deletes_absent_rows_before_the_upsert(backend: str, tmp_path: Any) -> None:
    """cdc = the upsert's statements, preceded by deletes of the rows the snapshot lacks (nested
    rows first), each a NOT EXISTS on the primary key, within the loaded merge-key partitions."""
    upsert = chain_sql(backend, tmp_path / "u", "upsert", merge_key="day")
    statements = chain_sql(backend, tmp_path / "c", "cdc", merge_key="day")
    assert statements[2:] == upsert
    nested, root = statements[:2]
    assert nested.startswith("DELETE") and "players__titles" in nested.split(" WHERE ")[0]
    assert root.startswith("DELETE") and "players__titles" not in root
    for delete in (nested, root):
        assert "NOT (EXISTS (SELECT" in delete and " OR " not in delete
        assert delete.count("EXISTS (SELECT") == 2  # absent by primary key, in a loaded partition
    parse(backend, statements)


def test_trino_upsert_is_the_portable_update_then_insert(tmp_path: Any) -> None:
    """A dialect without a native upsert of its own gets UPDATE with correlated subqueries,
    then INSERT of the keys not present."""
    statements = chain_sql("trino", tmp_path, "upsert")
    kinds = [s.split()[0] for s in statements]
    assert kinds == ["DELETE", "DELETE", "DELETE", "UPDATE", "INSERT", "UPDATE", "INSERT"]
    update = statements[3]
    assert update.startswith('UPDATE "games"."players" SET "deleted"=(SELECT ')
    assert '"name"=(SELECT src."name" FROM (' in update
    assert "WHERE EXISTS (SELECT " in update
    assert "WHERE NOT (EXISTS (SELECT " in statements[4]
    parse("trino", statements)


@pytest.mark.parametrize("backend", ["mssql", "oracle", "trino"])
def test_staging_optimized_copies_where_no_atomic_swap_exists(backend: str, tmp_path: Any) -> None:
    """SQL Server (ALTER SCHEMA runs outside dlt's transaction), Oracle and Trino (DDL commits
    on its own) copy instead of swapping."""
    assert chain_sql(backend, tmp_path, "", replace="staging-optimized") == ["COPY"]


def test_postgresql_swap_statements(tmp_path: Any) -> None:
    """PostgreSQL drops the destination table and moves the staged one over, per table."""
    swap, *lines = chain_sql("postgresql", tmp_path, "", replace="staging-optimized")
    decoded = [guards.decode(line) for line in lines]
    # run again after it committed, the swap finds its staged tables gone and is skipped
    staged = guards.TablesExist(
        (("games_staging", "players"), ("games_staging", "players__titles"))
    )
    assert {g for g, _ in decoded} == {staged}
    statements = [swap, *[s for _, s in decoded]]
    assert statements == [
        "SWAP",
        'DROP TABLE "games"."players"',
        'ALTER TABLE "games_staging"."players" SET SCHEMA "games"',
        'DROP TABLE "games"."players__titles"',
        'ALTER TABLE "games_staging"."players__titles" SET SCHEMA "games"',
    ]


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"])
def test_file_databases_copy_between_schemas(backend: str, tmp_path: Any) -> None:
    """SQLite (attached files) and DuckDB (no SET SCHEMA) cannot move a table between schemas."""
    assert chain_sql(backend, tmp_path, "", replace="staging-optimized") == ["COPY"]


@pytest.mark.parametrize(
    "backend, form",
    [
        ("postgresql", "join"),
        ("duckdb", "join"),
        ("mysql", "join"),
        ("sqlite", "in"),
        ("mssql", "exists"),
    ],
)
def test_delete_insert_deletes_in_the_form_the_dialect_says(
    backend: str, form: str, tmp_path: Any
) -> None:
    """PostgreSQL, DuckDB and MySQL / MariaDB delete the replaced rows, nested ones first, by
    joining the distinct staged keys (MySQL runs a correlated subquery of a DELETE once per
    row); SQLite by an uncorrelated IN, which it evaluates once; the others test EXISTS per
    row. Their effect is tested live in test_merge.py."""
    statements = chain_sql(backend, tmp_path, "delete-insert")
    deletes = [s for s in statements if s.startswith("DELETE")]
    assert len(deletes) == 2  # nested table, then root
    nested, root = deletes
    if form == "join":
        assert "USING" in nested and "USING" in root
        assert not any("EXISTS" in s for s in deletes)
        assert "SELECT DISTINCT" in root and "JOIN" in nested
        if backend == "mysql":  # the multi-table form: DELETE FROM t USING t, (...) AS k
            assert re.match(r"DELETE FROM (\S+) USING \1, \(SELECT DISTINCT", root), root
    elif form == "in":
        assert not any("EXISTS" in s or "USING" in s for s in deletes)
        assert re.search(r'"id" IN \(SELECT DISTINCT', root), root
        assert '"_dlt_root_id" IN (SELECT' in nested
    else:
        assert "EXISTS" in nested and "EXISTS" in root and "USING" not in nested


@pytest.mark.parametrize("backend, uses_in", [("sqlite", True), ("postgresql", False)])
def test_upsert_and_scd2_test_membership_in_the_form_the_dialect_says(
    backend: str, uses_in: bool, tmp_path: Any
) -> None:
    """SQLite (and MySQL, live in test_merge.py: its upsert asks the server for unique keys)
    run a correlated [NOT] EXISTS per row: their upsert (gone list elements, hard deletes) and
    scd2 (retiring, inserting new versions) use [NOT] IN."""
    for strategy in ("upsert", "scd2"):
        statements = chain_sql(backend, tmp_path / strategy, strategy)
        text = " ".join(statements)
        if uses_in:
            assert "EXISTS (SELECT" not in text, strategy
            assert "NOT IN (SELECT" in text, strategy
        else:
            assert "NOT (EXISTS" in text, strategy
