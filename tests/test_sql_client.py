"""The SQL client on live backends: datasets, tables, transactions, reads."""

from __future__ import annotations

from typing import Any

import pytest
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from conftest import Backend


def _client_after_load(backend: Backend) -> Any:
    pipeline = backend.pipeline()
    pipeline.run([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], table_name="t")
    return pipeline, pipeline.sql_client()


def test_dataset_lifecycle(backend: Backend) -> None:
    """A dataset can be created, detected and dropped, staging included."""
    pipeline = backend.pipeline()
    pipeline.run([{"id": 1}], table_name="t")
    with pipeline.sql_client() as client:
        assert client.has_dataset()
        with client.with_staging_dataset():
            assert not client.has_dataset()
            client.create_dataset()
            assert client.has_dataset()
            client.drop_dataset()
            assert not client.has_dataset()
        client.drop_dataset()
        assert not client.has_dataset()
        with pytest.raises(DatabaseUndefinedRelation):
            client.execute_sql(f"SELECT * FROM {client.make_qualified_table_name('t')}")


def test_truncate_and_drop_tables(backend: Backend) -> None:
    """Truncate empties a table and keeps it; drop removes it and tolerates a missing one."""
    _, client = _client_after_load(backend)
    with client:
        table = client.make_qualified_table_name("t")
        client.truncate_tables("t")
        assert client.execute_sql(f"SELECT count(*) FROM {table}")[0][0] == 0
        client.drop_tables("t", "never_existed")
        with pytest.raises(DatabaseUndefinedRelation):
            client.execute_sql(f"SELECT count(*) FROM {table}")


def test_transaction_rolls_back_on_error(backend: Backend) -> None:
    """Statements in a failed transaction leave no trace; outside one they commit alone."""
    pipeline, client = _client_after_load(backend)
    with client:
        table = client.make_qualified_table_name("t")
        with pytest.raises(ZeroDivisionError), client.begin_transaction():
            client.execute_sql(f"DELETE FROM {table}")
            raise ZeroDivisionError()
        assert client.execute_sql(f"SELECT count(*) FROM {table}")[0][0] == 2
        client.execute_sql(f"DELETE FROM {table} WHERE id = %s", 1)
    with pipeline.sql_client() as other:
        assert other.execute_sql(f"SELECT id FROM {table}") == [(2,)]


def test_failed_statement_does_not_poison_the_connection(backend: Backend) -> None:
    """After an error outside a transaction the connection keeps working (PostgreSQL aborts)."""
    _, client = _client_after_load(backend)
    with client:
        with pytest.raises(DatabaseUndefinedRelation):
            client.execute_sql(f"SELECT * FROM {client.make_qualified_table_name('missing')}")
        assert (
            client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name('t')}")[0][
                0
            ]
            == 2
        )


def test_dataset_reads_df_arrow_fetchall(backend: Backend) -> None:
    """`pipeline.dataset()` reads back as rows, a pandas frame and an arrow table."""
    pipeline, _ = _client_after_load(backend)
    relation = pipeline.dataset().t
    assert sorted(r[0] for r in relation.select("id").fetchall()) == [1, 2]
    frame = relation.df()
    assert sorted(frame["name"].tolist()) == ["a", "b"]
    table = relation.arrow()
    assert table.num_rows == 2
    assert set(table.column_names) >= {"id", "name", "_dlt_id", "_dlt_load_id"}
    assert pipeline.dataset().row_counts().fetchall()
