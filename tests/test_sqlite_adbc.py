"""SQLite's `adbc` load path: a connection of its own, so it must share the one writer's lock.

The values it stores are checked with every other path in `test_load_paths.py`; here is what is
particular to a second connection on a database that has one writer at a time.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa

from conftest import Backend, make_rows
from dlt_sqlalchemy.dialects.sqlite.paths import SqliteAdbcPath, SqliteTuplesPath
from dlt_sqlalchemy.load.path import LoadRequest, choose_load_path
from test_load_paths import paths_used

pytest.importorskip("adbc_driver_sqlite")

COLUMNS: List[Dict[str, Any]] = [{"name": "id", "data_type": "bigint"}]


def _request(connection: sa.Connection, **kwargs: Any) -> LoadRequest:
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.BigInteger))
    return LoadRequest(
        connection=connection,
        table=table,
        columns=COLUMNS,
        file_path="unused.parquet",
        file_format="parquet",
        batch_rows=1_000,
        **kwargs,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'main.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id BIGINT)")
    yield engine
    engine.dispose()


def test_taken_for_a_file_database_outside_a_write(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        request = _request(conn)
        assert SqliteAdbcPath().unavailable_reason(request) is None
        assert choose_load_path([SqliteAdbcPath(), SqliteTuplesPath()], request).name == "adbc"


def test_steps_aside_when_the_job_transaction_already_writes(engine: sa.Engine) -> None:
    """Its write lock would keep ADBC's connection waiting: the tuples load in that transaction."""
    with engine.connect() as conn:
        conn.exec_driver_sql("DELETE FROM t")  # what cleaning a staging table does first
        request = _request(conn)
        assert "one writer" in (SqliteAdbcPath().unavailable_reason(request) or "")
        assert choose_load_path([SqliteAdbcPath(), SqliteTuplesPath()], request).name == "tuples"
        conn.rollback()


def test_steps_aside_for_rows_per_commit_and_in_memory(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        reason = SqliteAdbcPath().unavailable_reason(_request(conn, commits_with_job=True))
        assert "rows_per_commit" in (reason or "")
    memory = sa.create_engine("sqlite://")
    with memory.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id BIGINT)")
        assert "in memory" in (SqliteAdbcPath().unavailable_reason(_request(conn)) or "")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_waits_for_another_writer_and_loads_by_adbc(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection of this process writing to the dataset delays the load until it
    commits. ADBC's own copy of SQLite cannot see that connection's lock (POSIX locks are per
    process): without the job's connection taking the lock first, both would write at once."""
    pipeline = backend.pipeline()
    pipeline.run(make_rows(10), table_name="players", loader_file_format="parquet")
    with pipeline.sql_client() as client:
        listed = client.native_connection.exec_driver_sql("PRAGMA database_list").fetchall()
    dataset_file = next(path for _, name, path in listed if name == pipeline.dataset_name)

    def no_fallback(self: Any, request: Any) -> int:
        raise AssertionError("ADBC gave up and the tuples loaded the file")

    monkeypatch.setattr(SqliteTuplesPath, "load", no_fallback)
    pipeline.extract(make_rows(2_000), table_name="players", loader_file_format="parquet")
    pipeline.normalize()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        other = sqlite3.connect(dataset_file, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        # a row in the file's last pages, as ADBC's rows will be
        other.execute(
            'INSERT INTO "players" (id, name, _dlt_load_id, _dlt_id)'
            f" VALUES (-1, '{'x' * 2_000}', 'other', 'other')"
        )
        locked.set()
        release.wait(1.0)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(10)
    try:
        info = pipeline.load()
    finally:
        release.set()
        holder.join()
    assert paths_used(info, "players") == {"adbc"}
    table = backend.qualified(pipeline.dataset_name, "players")
    assert tuple(backend.query(f"SELECT COUNT(*) FROM {table}")[0]) == (2_011,)
    with sqlite3.connect(dataset_file) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
