"""Staging tables kept in the dataset under a prefix, for logins that may not CREATE SCHEMA."""

from __future__ import annotations

import uuid
from typing import Any, List

import pytest
import sqlalchemy as sa

from conftest import Backend, require_server


def _tables(backend: Backend, dataset: str) -> List[str]:
    if backend.name == "sqlite":
        rows = backend.query(f"SELECT name FROM \"{dataset}\".sqlite_master WHERE type = 'table'")
    else:
        rows = backend.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{dataset}'"
        )
    return sorted(str(r[0]) for r in rows)


@pytest.mark.parametrize("strategy", ["insert-from-staging", "staging-optimized"])
def test_replace_through_prefixed_staging_tables(backend: Backend, strategy: str) -> None:
    """Replace from staging works with staging tables beside the real ones; no staging schema."""
    destination = backend.destination(replace_strategy=strategy, staging_table_prefix="stg__")
    pipeline = backend.pipeline(destination=destination)
    for ids in ([1, 2, 3], [7, 8]):
        rows: Any = [{"id": i, "moves": [{"san": f"m{i}"}]} for i in ids]
        pipeline.run(rows, table_name="games", write_disposition="replace")
    dataset = pipeline.dataset_name
    assert sorted(r[0] for r in pipeline.dataset().games.select("id").fetchall()) == [7, 8]
    tables = _tables(backend, dataset)
    assert "games" in tables and "games__moves" in tables
    assert "stg___dlt_version" in tables  # the staging dataset's bookkeeping, prefixed
    if strategy == "insert-from-staging":
        # staged rows stay until the next load; staging-optimized may swap them into place
        assert "stg__games" in tables and "stg__games__moves" in tables
    with pipeline.sql_client() as client, client.with_staging_dataset():
        assert client.has_dataset()  # the home dataset holds the staging tables
        assert client.make_qualified_table_name("games").endswith(
            client.escape_column_name("stg__games")
        )
    if backend.name == "sqlite":
        assert not (backend.tmp_path / f"chess__{dataset}_staging.db").exists()
    else:
        schemas = backend.query(
            "SELECT schema_name FROM information_schema.schemata"
            f" WHERE schema_name = '{dataset}_staging'"
        )
        assert schemas == []


def test_dropping_prefixed_staging_keeps_the_real_tables(backend: Backend) -> None:
    """Dropping the staging dataset drops only the prefixed tables."""
    destination = backend.destination(
        replace_strategy="insert-from-staging", staging_table_prefix="stg__"
    )
    pipeline = backend.pipeline(destination=destination)
    pipeline.run([{"id": 1}], table_name="games", write_disposition="replace")
    with pipeline.sql_client() as client, client.with_staging_dataset():
        client.drop_dataset()
    tables = _tables(backend, pipeline.dataset_name)
    assert not [t for t in tables if t.startswith("stg__")]
    assert "games" in tables
    assert pipeline.dataset().games.fetchall()


def test_login_without_create_schema_loads_with_prefix(tmp_path: Any) -> None:
    """A PostgreSQL role that may create tables in one schema, but no schemas, can still replace
    from staging when staging tables are prefixed; without the prefix it cannot."""
    url = require_server("postgresql")
    role = f"loader_{uuid.uuid4().hex[:8]}"
    dataset = f"ds_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'CREATE SCHEMA "{dataset}"')
        conn.exec_driver_sql(f'GRANT USAGE, CREATE ON SCHEMA "{dataset}" TO "{role}"')
        conn.exec_driver_sql(f'REVOKE CREATE ON DATABASE test FROM "{role}"')
        conn.commit()
    backend = Backend(
        "postgresql", sa.make_url(url).set(username=role).render_as_string(False), tmp_path
    )
    try:
        plain = backend.pipeline(
            dataset_name=dataset,
            destination=backend.destination(replace_strategy="insert-from-staging"),
        )
        with pytest.raises(Exception, match=r"(?i)permission denied"):
            plain.run([{"id": 1}], table_name="games", write_disposition="replace")
        prefixed = backend.pipeline(
            dataset_name=dataset,
            destination=backend.destination(
                replace_strategy="insert-from-staging", staging_table_prefix="stg__"
            ),
        )
        prefixed.run([{"id": 1}], table_name="games", write_disposition="replace")
        prefixed.run([{"id": 2}], table_name="games", write_disposition="replace")
        assert [r[0] for r in prefixed.dataset().games.select("id").fetchall()] == [2]
    finally:
        backend.datasets.clear()  # the role may not drop schemas: the admin cleans up below
        backend.cleanup()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE')
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{dataset}_staging" CASCADE')
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
            conn.commit()
        admin.dispose()
