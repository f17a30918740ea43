"""DDL for dialects with no server here, compiled by the real job client (no driver needed)."""

from __future__ import annotations

from typing import Any, List

import dlt
import pytest
from dlt.common.schema import Schema
from dlt.common.schema.utils import new_column, new_table

from dlt_sqlalchemy import sqlalchemy

URLS = {
    "mssql": "mssql+pyodbc://loader:secret@db.example:1433/dwh?driver=ODBC+Driver+18",
    "oracle": "oracle+oracledb://loader:secret@db.example:1521/?service_name=DWH",
    "trino": "trino://loader@db.example:8080/hive",
    "postgresql": "postgresql://loader:secret@db.example/dwh",
    "mysql": "mysql://loader:secret@db.example/dwh",
    "sqlite": "sqlite:////tmp/never_created.db",
    "duckdb": "duckdb:////tmp/never_created.duckdb",
}

EXPECTED_ALTER = {
    # one ADD without COLUMN, and NVARCHAR(max) although this dialect never connected
    "mssql": "ALTER TABLE [games].[matches] ADD [rating] BIGINT NULL, [opening] NVARCHAR(max) NULL",
    "oracle": "ALTER TABLE games.matches ADD (rating NUMBER(19), opening CLOB)",
    "trino": 'ALTER TABLE "games"."matches" ADD COLUMN "rating" BIGINT',
    "postgresql": 'ALTER TABLE "games"."matches" ADD COLUMN "rating" BIGINT',
    "mysql": "ALTER TABLE `games`.`matches` ADD COLUMN `rating` BIGINT",
    "sqlite": 'ALTER TABLE "games"."matches" ADD COLUMN "rating" BIGINT',
    "duckdb": 'ALTER TABLE "games"."matches" ADD COLUMN "rating" BIGINT',
}


def _client(backend: str) -> Any:
    schema = Schema("chess")
    schema.update_table(
        new_table(
            "matches",
            columns=[new_column("id", "bigint", nullable=False), new_column("white", "text")],
        )
    )
    destination = sqlalchemy(URLS[backend])
    config = destination.spec()._bind_dataset_name(dataset_name="games")
    config = destination.configuration(config)
    return destination.client(schema, config)


def _sql(statements: List[Any], client: Any) -> List[str]:
    rendered = []
    for statement in statements:
        if not isinstance(statement, str):
            statement = str(statement.compile(dialect=client.dialect))
        rendered.append(" ".join(statement.split()))
    return rendered


@pytest.mark.parametrize("backend", sorted(URLS))
def test_alter_table_adds_columns_in_the_dialects_syntax(backend: str) -> None:
    """New columns are added with the ALTER syntax each database accepts."""
    client = _client(backend)
    client.schema.update_table(
        new_table(
            "matches",
            columns=[new_column("rating", "bigint"), new_column("opening", "text")],
        )
    )
    new_columns = [client.schema.get_table("matches")["columns"][n] for n in ("rating", "opening")]
    statements = _sql(client._get_table_update_sql("matches", new_columns, True), client)
    assert statements[0].startswith(EXPECTED_ALTER[backend])
    assert "opening" in " ".join(statements)


@pytest.mark.parametrize("backend", sorted(URLS))
def test_create_table_quotes_every_identifier(backend: str) -> None:
    """CREATE TABLE names the dataset-qualified table; columns keep their nullability."""
    client = _client(backend)
    columns = list(client.schema.get_table("matches")["columns"].values())
    (create,) = _sql(client._get_table_update_sql("matches", columns, False), client)
    assert create.startswith("CREATE TABLE")
    assert "matches" in create and "games" in create
    assert "NOT NULL" in create


def test_clients_build_without_any_driver() -> None:
    """Building clients and DDL for these URLs needed no DBAPI driver (pyodbc, oracledb)."""
    for module in ("pyodbc", "oracledb"):
        with pytest.raises(ImportError):
            __import__(module)
    assert dlt.__version__.startswith("1.31")


@pytest.mark.parametrize(
    "backend, key_type",
    [("mysql", "VARCHAR(191)"), ("mssql", "NVARCHAR(450)"), ("postgresql", "TEXT")],
)
def test_key_text_columns_are_bounded_where_the_database_needs_it(
    backend: str, key_type: str
) -> None:
    """dlt's row, parent and root keys and scd2's row version are joined on by every merge:
    MySQL/MariaDB index them (in the derived tables merges read keys from) only when bounded,
    SQL Server cannot index NVARCHAR(max). PostgreSQL indexes and joins TEXT as it is. Unhinted
    text stays unbounded."""
    client = _client(backend)
    hints = ["row_key", "parent_key", "root_key", "x-row-version", "unique"]
    columns = [
        {**new_column(f"k_{hint.replace('-', '_')}", "text", nullable=False), hint: True}
        for hint in hints
    ] + [new_column("note", "text")]
    client.schema.update_table(new_table("keys", columns=columns))  # type: ignore[arg-type]
    stored = client.schema.get_table("keys")["columns"].values()
    (create,) = _sql(client._get_table_update_sql("keys", list(stored), False), client)
    quote = {"mysql": "`", "mssql": "]", "postgresql": '"'}[backend]
    for hint in hints:
        assert f"k_{hint.replace('-', '_')}{quote} {key_type} NOT NULL" in create, create
    assert f"note{quote} {key_type}" not in create or backend == "postgresql"
