"""Dataset reads as Arrow: native readers per dialect, values and types exactly today's.

"Today's" is dlt's own reader (`DBApiCursorImpl.iter_arrow`: rows fetched as Python objects,
then `row_tuples_to_arrow`), which every test here runs on the same data to compare against.
"""

from __future__ import annotations

import json
from typing import Any, List

import pytest
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.sql_client import DBApiCursorImpl

import test_types as all_types
from conftest import Backend, make_rows
from dlt_sqlalchemy.client.sql_client import SqlalchemySqlClient
from dlt_sqlalchemy.dialects.type_mapper import TypedCursor
from dlt_sqlalchemy.reads import DbApiArrowReader
from dlt_sqlalchemy.reads.cursor import DeferredCursor


def todays_arrow(relation: Any, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Any:
    """What dlt's own reader makes of `relation` (rows, then `row_tuples_to_arrow`)."""
    with monkeypatch.context() as patch:
        patch.setattr(DeferredCursor, "iter_arrow", DBApiCursorImpl.iter_arrow)
        return relation.arrow(**kwargs)


NATIVE = {
    "postgresql": "adbc",
    "duckdb": "duckdb-arrow",
    "sqlite": "adbc",
    "mariadb": "mysqlclient-text",
}


@pytest.mark.parametrize("which", ["native", "dbapi"])
@pytest.mark.parametrize("file_format", all_types.FORMATS)
def test_arrow_equals_todays_reader_for_every_type(
    backend: Backend, file_format: str, which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every dlt type reads back natively with today's Arrow type, nullability and value;
    JSON is the same document (its text may be spaced differently). `dbapi`: the generic
    reader that every dialect falls back to, alone."""
    if which == "dbapi":
        monkeypatch.setattr(SqlalchemySqlClient, "arrow_readers", lambda self: [DbApiArrowReader()])
    pipeline = all_types.run_all_types(backend, file_format)
    # dlt's own reader sizes wei as a 38-digit decimal: wider values fail there (test_types)
    columns = [
        n for n in all_types.COLUMNS if n != "wei" or all_types.WEI_DIGITS[backend.name] <= 38
    ]
    relation = pipeline.dataset()["types"].select(*columns).order_by("id")
    expected = todays_arrow(relation, monkeypatch)

    with monkeypatch.context() as patch:
        used: List[str] = []
        patch.setattr(TypedCursor, "fetchall", _refuse)
        patch.setattr(TypedCursor, "fetchmany", _refuse)
        original = DeferredCursor._open

        def recording(self: DeferredCursor, reader: Any, target: Any) -> Any:
            opened = original(self, reader, target)
            if opened is not None:
                used.append(reader.name)
            return opened

        patch.setattr(DeferredCursor, "_open", recording)
        table = relation.arrow()
        frame = relation.df()
    assert used[0] == (NATIVE[backend.name] if which == "native" else "dbapi"), used

    assert table.schema.equals(expected.schema), f"{table.schema}\n!=\n{expected.schema}"
    assert table.num_rows == expected.num_rows == 3
    for name in columns:
        got, want = table.column(name), expected.column(name)
        if name == "js":
            assert _documents(got) == _documents(want)
        else:
            assert got.equals(want), f"{name}: {got} != {want}"
    assert list(frame.columns) == columns
    assert frame["id"].tolist() == [1, 2, 3]


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the Arrow read fetched Python rows through the cursor")


def _documents(column: Any) -> List[Any]:
    return [None if v is None else json.loads(v) for v in column.to_pylist()]


def test_iter_arrow_chunks_and_empty_results(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`iter_arrow(chunk_size)` yields tables of exactly `chunk_size` rows as today, `arrow()`
    of an empty result is an empty table with the schema, chunked reads of it yield nothing."""
    pipeline = backend.pipeline()
    pipeline.run(make_rows(25), table_name="t")
    relation = pipeline.dataset()["t"].select("id", "name").order_by("id")
    empty = relation.where("id", "lt", 0)
    want_empty = todays_arrow(empty, monkeypatch)
    with pipeline.sql_client() as client, client.execute_query(relation.to_sql()) as cursor:
        cursor.columns_schema = relation.columns_schema
        assert cursor.arrow().num_rows == 25
        # read to its end, as a DB-API cursor would be: nothing more, no error
        assert cursor.arrow().num_rows == 0
        assert cursor.fetchall() == []

    monkeypatch.setattr(TypedCursor, "fetchall", _refuse)
    monkeypatch.setattr(TypedCursor, "fetchmany", _refuse)

    chunks = list(relation.iter_arrow(chunk_size=10))
    assert [c.num_rows for c in chunks] == [10, 10, 5]
    assert [i for c in chunks for i in c.column("id").to_pylist()] == list(range(25))
    frames = list(relation.iter_df(chunk_size=20))
    assert [len(f) for f in frames] == [20, 5]

    table = empty.arrow()
    assert table is not None and table.num_rows == 0
    assert table.schema.equals(want_empty.schema)
    assert list(empty.iter_arrow(chunk_size=10)) == []


def test_a_select_runs_when_read_or_left_unread(backend: Backend) -> None:
    """The SELECT waits for the first read (to know whether rows or Arrow are wanted), and one
    nobody reads still runs when its block ends: its error is raised there."""
    pipeline = backend.pipeline()
    pipeline.run(make_rows(2), table_name="t")
    pipeline.run(make_rows(2), table_name="gone")
    with pipeline.sql_client() as client:
        client.drop_tables("gone")  # still in the schema: the read runs and fails
        missing = client.make_qualified_table_name("missing")
        reached = False
        with (
            pytest.raises(DatabaseUndefinedRelation),
            client.execute_query(f"SELECT * FROM {missing}"),
        ):
            reached = True
        assert reached
        with pytest.raises(DatabaseUndefinedRelation):
            pipeline.dataset()["gone"].arrow()
        # the connection is still usable after both
        table = client.make_qualified_table_name("t")
        assert client.execute_sql(f"SELECT COUNT(*) FROM {table}")[0][0] == 2


def test_arrow_in_a_transaction_sees_its_uncommitted_rows(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a transaction the read stays on the client's connection (a reader with its own
    connection, ADBC, would not see the rows the transaction has not committed)."""
    pipeline = backend.pipeline()
    pipeline.run(make_rows(2), table_name="t")
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("t")
        with client.begin_transaction():
            client.execute_sql(f"DELETE FROM {table} WHERE id = 1")
            monkeypatch.setattr(TypedCursor, "fetchall", _refuse)
            monkeypatch.setattr(TypedCursor, "fetchmany", _refuse)
            with client.execute_query(f"SELECT id FROM {table}") as cursor:
                cursor.columns_schema = {"id": {"name": "id", "data_type": "bigint"}}
                result = cursor.arrow()
            assert result.column("id").to_pylist() == [0]
            client.rollback_transaction()


def test_sqlite_adbc_type_change_midway_reads_by_dbapi(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's ADBC driver types a column by its first batch: text after a batch of NULLs
    fails there, and the whole read starts over on the DB-API reader with the same result;
    chunked reads never start on it."""
    import dlt_sqlalchemy.dialects.sqlite.reads as sqlite_reads
    from conftest import backend_url

    monkeypatch.setattr(sqlite_reads, "BATCH_ROWS", 2)
    backend = Backend("sqlite", backend_url("sqlite", tmp_path), tmp_path)
    pipeline = backend.pipeline()
    rows = [{"id": i, "v": None if i < 3 else f"v{i}"} for i in range(1, 6)]
    pipeline.run(rows, table_name="t", columns={"v": {"data_type": "text"}})
    relation = pipeline.dataset()["t"].select("id", "v").order_by("id")
    expected = todays_arrow(relation, monkeypatch)

    used: List[str] = []
    original = DeferredCursor._open

    def recording(self: DeferredCursor, reader: Any, target: Any) -> Any:
        used.append(reader.name)
        return original(self, reader, target)

    monkeypatch.setattr(DeferredCursor, "_open", recording)
    monkeypatch.setattr(TypedCursor, "fetchall", _refuse)
    monkeypatch.setattr(TypedCursor, "fetchmany", _refuse)
    table = relation.arrow()
    assert used == ["adbc", "dbapi"]
    assert table.equals(expected)

    used.clear()
    chunks = list(relation.iter_arrow(chunk_size=2))
    assert used == ["dbapi"]
    assert [c.num_rows for c in chunks] == [2, 2, 1]
    assert chunks[2].column("v").to_pylist() == ["v5"]
