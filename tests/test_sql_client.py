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


def test_dbapi_and_positional_parameters(backend: Backend) -> None:
    """`dbapi` is the driver's module; positional values bind with its paramstyle's placeholder
    (and `%s` everywhere), `%%` is a literal percent, quoted `?` and `%s` are left alone."""
    from dlt.destinations.exceptions import DatabaseException

    pipeline = backend.pipeline()
    pipeline.run([{"id": 1, "name": "x%y"}, {"id": 2, "name": "?"}], table_name="t")
    with pipeline.sql_client() as client:
        dbapi = client.dbapi
        assert dbapi is not None and hasattr(dbapi, "Error")  # duckdb-engine: a class
        assert dbapi.paramstyle in ("qmark", "numeric_dollar", "format", "pyformat")
        placeholder = "?" if dbapi.paramstyle == "qmark" else "%s"
        table = client.make_qualified_table_name("t")
        name = client.escape_column_name("name")
        assert client.execute_sql(f"SELECT id FROM {table} WHERE id = {placeholder}", 1) == [(1,)]
        # `%%` is a literal percent where the placeholders are `%s`
        rows = client.execute_sql(f"SELECT id FROM {table} WHERE id = %s AND {name} = 'x%%y'", 1)
        assert rows == [(1,)]
        assert client.execute_sql(f"SELECT id FROM {table} WHERE {name} = %s", "x%y") == [(1,)]
        quoted = f"SELECT id FROM {table} WHERE {name} = '?' AND id = %s"
        assert client.execute_sql(quoted, 2) == [(2,)]
        with client.execute_query(f"SELECT id FROM {table} WHERE id > %s ORDER BY id", 0) as cur:
            assert [tuple(r) for r in cur.fetchall()] == [(1,), (2,)]
        # values by name: `%(name)s` (pyformat) or SQLAlchemy's `:name`
        assert client.execute_sql(f"SELECT id FROM {table} WHERE id = %(x)s", x=2) == [(2,)]
        assert client.execute_sql(f"SELECT id FROM {table} WHERE id = :x", x=2) == [(2,)]
        # a missing or an extra value: the driver's own error, as a dlt database exception
        for args in ((), (1, 10)):
            with pytest.raises(DatabaseException) as ex:
                client.execute_sql(f"SELECT id FROM {table} WHERE id = {placeholder}", *args)
            assert client.is_dbapi_exception(ex.value.dbapi_exception)


def test_client_is_built_the_dlt_way_for_another_thread(backend: Backend) -> None:
    """`Class(dataset, staging dataset, credentials, capabilities)`, as dlt's code copies a
    client: the copy has its own connection and transaction."""
    import threading

    pipeline = backend.pipeline()
    pipeline.run([{"id": 1}], table_name="t")
    with pipeline.sql_client() as client:
        copy = type(client)(
            client.dataset_name,
            client.staging_dataset_name,
            client.credentials,
            client.capabilities,
        )
        assert copy.dialect_caps.backend_name == client.dialect_caps.backend_name
        table = client.make_qualified_table_name("t")
        seen = []

        def other_thread() -> None:
            with copy:
                seen.extend(copy.execute_sql(f"SELECT id FROM {table}") or [])

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(60)
        assert seen == [(1,)]
        assert copy.native_connection is None  # closed after its `with`


def test_create_existing_dataset_raises(backend: Backend) -> None:
    """dlt checks `has_dataset` before `create_dataset`: a second create is an error everywhere,
    SQLite's attached files included, and leaves the dataset and its tables as they were."""
    from dlt.destinations.exceptions import DatabaseException

    pipeline = backend.pipeline()
    pipeline.run([{"id": 1}], table_name="t")
    with pipeline.sql_client() as client:
        with pytest.raises(DatabaseException):
            client.create_dataset()
        assert client.execute_sql(f"SELECT id FROM {client.make_qualified_table_name('t')}") == [
            (1,)
        ]


@pytest.mark.parametrize("create_primary_keys", [True, False])
def test_reflect_table(backend: Backend, create_primary_keys: bool) -> None:
    """`reflect_table` gives the stored table (columns, types, primary key where reflection
    tells), None for a missing one; DuckDB, whose reflection fails, gets its columns from our
    schema reader."""
    import sqlalchemy as sa

    pipeline = backend.pipeline(
        destination=backend.destination(create_primary_keys=create_primary_keys)
    )
    pipeline.run([{"id": 1, "value": "X", "n": 1.5}], table_name="with_pk", primary_key="id")
    with pipeline.sql_client() as client:
        metadata = sa.MetaData()
        table = client.reflect_table("with_pk", metadata=metadata)
        assert table is not None and table.metadata is metadata
        assert [c.name for c in table.columns] == ["id", "value", "n", "_dlt_load_id", "_dlt_id"]
        assert isinstance(table.c.id.type, sa.Integer)
        assert isinstance(table.c.value.type, sa.String)
        assert isinstance(table.c.n.type, sa.Float)
        assert table.c.id.nullable is False
        if backend.name != "duckdb":
            assert bool(table.c.id.primary_key) is create_primary_keys
        only = client.reflect_table("with_pk", include_columns=["id"])
        assert only is not None and [c.name for c in only.columns] == ["id"]
        assert client.reflect_table("no_such_table") is None
        assert isinstance(client.engine, sa.Engine)
