"""Arrow reads on SQLite through ADBC (`adbc-driver-sqlite`): the C driver fills Arrow itself.

The Python `sqlite3` module makes a Python object of every value before anything can become
Arrow; the ADBC driver steps the statement in C and writes Arrow buffers directly. It opens the
same database file on a connection of its own, so the cursor uses it only outside a transaction
(it sees committed data only), and attaches the same dataset files under the same names as the
client's connection (each dataset of ours is a file ATTACHed next to the main one).

SQLite has no column types, so the driver infers each column's Arrow type from the values of
its first batch; a value of another storage class later on (text in a column whose first batch
held only NULLs) makes it fail. So it serves whole results only (`.arrow()`, `.df()`), which
start over on the next reader when that happens; `iter_arrow(chunk_size)` reads by DB-API.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator, List, Tuple

from dlt_sqlalchemy.load.bulk import driver_connection, has_module
from dlt_sqlalchemy.reads.readers import ArrowReader, ReadClient

if TYPE_CHECKING:
    import pyarrow as pa

    from dlt_sqlalchemy.reads.conform import ArrowTarget

ADBC_SQLITE_HINT = 'pip install "dlt-sqlalchemy[sqlite]" (adbc-driver-sqlite)'

BATCH_ROWS = 262_144
"""Rows per Arrow batch of the driver; also the rows it infers the column types from."""


class AdbcSqliteReader(ArrowReader):
    """SQLite files through `adbc-driver-sqlite`, with the client's datasets attached."""

    name = "adbc"
    own_connection = True
    may_fail_midway = True

    def is_available(self, client: ReadClient) -> bool:
        if not (has_module("adbc_driver_sqlite") and has_module("pyarrow")):
            return False
        return _main_file(client) is not None

    @contextlib.contextmanager
    def read(
        self, client: ReadClient, sql: str, target: ArrowTarget
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        import adbc_driver_sqlite.dbapi as adbc

        main = _main_file(client)
        assert main is not None
        attached = _attached_files(client)
        with adbc.connect(main) as conn, conn.cursor() as cursor:
            for name, path in attached:
                quoted = '"' + name.replace('"', '""') + '"'
                cursor.execute(f"ATTACH DATABASE ? AS {quoted}", (path,))
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
            cursor.execute(sql)
            reader = cursor.fetch_record_batch()
            # the first batch fixes the types: a failure there still lets the next reader try
            first = reader.read_next_batch() if reader is not None else None
            yield _chained(first, reader)


def _chained(first: Any, reader: Any) -> Iterator[pa.RecordBatch]:
    if first is None:
        return
    yield first
    yield from reader


def _main_file(client: ReadClient) -> Any:
    """The main database file of the client's connection; None for an in-memory database."""
    rows = _database_list(client)
    for _, name, path in rows:
        if name == "main":
            return path or None
    return None


def _attached_files(client: ReadClient) -> List[Tuple[str, str]]:
    return [
        (name, path)
        for _, name, path in _database_list(client)
        if name not in ("main", "temp") and path
    ]


def _database_list(client: ReadClient) -> List[Tuple[int, str, str]]:
    cursor = driver_connection(client.native_connection).cursor()
    try:
        return [tuple(row) for row in cursor.execute("PRAGMA database_list").fetchall()]
    finally:
        cursor.close()
