"""SQLite: Arrow columns bound by ADBC's driver, or `executemany` of tuples Arrow converted.

SQLite runs in-process; what made loading slow was the Python work per value: SQLAlchemy's bind
processors format every timestamp, date and decimal in Python. Here Arrow's casts produce those
same texts (`2024-05-06 05:08:09.123456`, positional decimals as `ExactDecimal` stores them),
whole columns at a time. Then either

- ADBC's SQLite driver (`adbc-driver-sqlite`) binds the Arrow columns in C, in a transaction
  of its own on the dataset's file that commits once at the end of the file: no Python object
  per value at all, three times faster than the tuples on the benchmark table. SQLite has one
  writer, so it steps aside when the job's own transaction already writes (a staging table's
  cleanup), for in-memory databases and under `rows_per_commit`; any failure rolls it back and
  the tuples load the file, with errors that name the column and value;
- or the converted columns are zipped into tuples straight into `sqlite3`'s `executemany`, in
  the job's transaction, never held as a list.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

import sqlalchemy as sa
from dlt.common import logger
from sqlalchemy.sql.sqltypes import _Binary

from dlt_sqlalchemy.load.adbc import AdbcIngestPath, batch_reader
from dlt_sqlalchemy.load.arrow_values import decimal_text
from dlt_sqlalchemy.load.bulk import PYARROW_HINT, arrow_batches, has_pyarrow, prefetching
from dlt_sqlalchemy.load.bulk import driver_connection as _driver
from dlt_sqlalchemy.load.inserts import compile_positional_insert
from dlt_sqlalchemy.load.path import BatchFailed, LoadPath, LoadRequest

if TYPE_CHECKING:
    import pyarrow as pa

TColumnConverter = Callable[["pa.Array"], List[Any]]
TArrayConverter = Callable[["pa.Array"], "pa.Array"]

ADBC_HINT = "pip install adbc-driver-sqlite (or dlt-sqlalchemy[sqlite])"
ADBC_BUSY_TIMEOUT_MS = 5_000  # as long as `sqlite3` waits for a lock by default


class SqliteAdbcPath(AdbcIngestPath):
    """Arrow columns bound in C by ADBC's SQLite driver, on a connection of its own; the tuples
    in the job's transaction when it fails."""

    file_formats = ("typed-jsonl", "parquet")
    driver_module = "adbc_driver_sqlite"
    install_hint = ADBC_HINT

    def dialect_reason(self, request: LoadRequest) -> Optional[str]:
        reason = SqliteTuplesPath().unavailable_reason(request)
        if reason is not None:
            return reason
        if _database_file(request, "main") is None:
            # and so are its datasets (see `capabilities`)
            return "the database is in memory: another connection cannot reach it"
        if _driver(request.connection).in_transaction:
            # its write lock would keep ADBC's connection waiting until the job gave up
            return "the job's transaction already writes to the database, and SQLite has one writer"
        return None

    def fallback(self) -> LoadPath:
        return SqliteTuplesPath()

    def ingest(self, request: LoadRequest) -> int:
        import adbc_driver_sqlite.dbapi as adbc
        import pyarrow as pa

        converters = _array_converters(request)
        assert converters is not None
        database_file = _database_file(request, request.table.schema or "main")
        if database_file is None:
            raise LookupError(f"no database file is attached as `{request.table.schema}`")
        names = [str(c.name) for c in request.table.columns]
        nan_watch = _NanWatch(request)
        reader = batch_reader(
            pa.RecordBatch.from_arrays(
                [convert(a) for convert, a in zip(converters, nan_watch.seen(batch).columns)],
                names=names,
            )
            for batch in arrow_batches(request)
        )
        if reader is None:
            return 0
        # ADBC's driver brings its own copy of SQLite, and locks of one copy are invisible to
        # the other within a process (POSIX locks are per process; each copy keeps its own
        # table of them). So the job's connection takes the write lock first, through the
        # sqlite3 copy every other connection of this process uses, and other processes see it
        # too: no one else writes while ADBC does. It waits for another writer as the tuples
        # would (the engine's `timeout`).
        job_connection = _driver(request.connection)
        job_connection.execute("BEGIN IMMEDIATE")
        try:
            with adbc.connect(database_file) as conn:
                with conn.cursor() as cursor:
                    cursor.execute(f"PRAGMA busy_timeout = {ADBC_BUSY_TIMEOUT_MS}")
                    cursor.fetchall()
                    rows = cursor.adbc_ingest(str(request.table.name), reader, mode="append")
                conn.commit()
        except BaseException:
            # closing ADBC's file handle dropped this process's locks on the file: end the
            # (empty) write transaction, the tuples take the lock again for themselves
            job_connection.rollback()
            raise
        return int(rows)


def _database_file(request: LoadRequest, schema: str) -> Optional[str]:
    """The file attached as `schema` to the job's connection (`main`: the main database); None
    for one in memory or not attached."""
    cursor = _driver(request.connection).cursor()
    try:
        listed = cursor.execute("PRAGMA database_list").fetchall()
    finally:
        cursor.close()
    for _, name, path in listed:
        if name == schema:
            return str(path) if path and os.path.exists(path) else None
    return None


class SqliteTuplesPath(LoadPath):
    """Arrow-converted tuples through `sqlite3`'s `executemany`."""

    name = "tuples"
    file_formats = ("typed-jsonl", "parquet")

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        if request.connection.dialect.driver != "pysqlite":
            return "the driver is not the standard library's sqlite3"
        if not has_pyarrow():
            return f"pyarrow is not installed: {PYARROW_HINT}"
        if _converters(request) is None:
            return "a column type processes its values in Python"
        return None

    def load(self, request: LoadRequest) -> int:
        converters = _converters(request)
        assert converters is not None
        sql = compile_positional_insert(request.table, request.connection.dialect)
        cursor = _driver(request.connection).cursor()
        rows = 0
        nan_watch = _NanWatch(request)
        try:
            converted = (
                [convert(a) for convert, a in zip(converters, nan_watch.seen(batch).columns)]
                for batch in _at_most(arrow_batches(request), request.batch_rows)
            )
            with prefetching(converted) as prefetched:
                for columns in prefetched:
                    try:
                        cursor.executemany(sql, zip(*columns))
                    except Exception as ex:
                        raise BatchFailed(ex, columns) from ex
                    rows += len(columns[0]) if columns else 0
        finally:
            cursor.close()
        return rows


class _NanWatch:
    """SQLite has no NaN: it stores a NaN double as NULL. Says so once per column of a file,
    naming table and column, instead of changing data without a word (parquet carries NaN;
    typed-jsonl cannot, JSON has none)."""

    def __init__(self, request: LoadRequest) -> None:
        self.table = str(request.table.name)
        columns = enumerate(request.columns)
        self.doubles = {i: str(c["name"]) for i, c in columns if c.get("data_type") == "double"}

    def seen(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.doubles:
            return batch
        import pyarrow.compute as pc

        for index, name in list(self.doubles.items()):
            array = batch.column(index)
            if _is_floating(array) and pc.any(pc.is_nan(array)).as_py():
                logger.warning(
                    f"SQLite has no NaN: NaN values of column `{name}` of table `{self.table}`"
                    " are stored as NULL. Replace them before loading to keep them apart from"
                    " missing values, or load into a database with NaN (DuckDB, PostgreSQL)."
                )
                del self.doubles[index]
        return batch


def _is_floating(array: pa.Array) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_floating(array.type))


def _at_most(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Slices of at most `rows` rows: `max_rows_per_insert` caps each `executemany` here too."""
    for batch in batches:
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)


def _converters(request: LoadRequest) -> Optional[List[TColumnConverter]]:
    """Per column, how an Arrow array becomes the values SQLAlchemy's processors would bind;
    None if some column type is one this path does not reproduce."""
    data_types = _data_types(request)
    return None if data_types is None else [_BY_DATA_TYPE[t] for t in data_types]


def _array_converters(request: LoadRequest) -> Optional[List[TArrayConverter]]:
    """Per column, the Arrow array ADBC binds to store what the tuples store."""
    data_types = _data_types(request)
    if data_types is None:
        return None
    return [_ADBC_ARRAYS.get(t, _ARRAYS_BY_DATA_TYPE[t]) for t in data_types]


def _data_types(request: LoadRequest) -> Optional[List[str]]:
    """The dlt type of each column, or None if a column's SQLAlchemy type binds its values in
    some way the converters do not reproduce."""
    from dlt_sqlalchemy.dialects.sqlite.types import ExactDecimal
    from dlt_sqlalchemy.dialects.type_mapper import UtcDateTime

    dialect = request.connection.dialect
    data_types: List[str] = []
    for column, dlt_column in zip(request.table.columns, request.columns):
        impl = column.type.dialect_impl(dialect)
        data_type = str(dlt_column.get("data_type"))
        if data_type not in _ARRAYS_BY_DATA_TYPE:
            return None
        if isinstance(impl, sa.types.TypeDecorator):
            if not isinstance(impl, (UtcDateTime, ExactDecimal)):
                return None
        elif isinstance(impl, sa.types.UserDefinedType) or not _native_for(data_type, impl):
            return None
        data_types.append(data_type)
    return data_types


def _native_for(data_type: Any, impl: sa.types.TypeEngine[Any]) -> bool:
    """The column's SQLAlchemy type binds values as the converter renders them."""
    expected: Dict[str, Any] = {
        "text": (sa.String,),
        "json": (sa.JSON, sa.String),
        "bigint": (sa.Integer,),
        "double": (sa.Float,),
        "bool": (sa.Boolean,),
        "timestamp": (sa.DateTime,),
        "date": (sa.Date,),
        "time": (sa.Time,),
        "binary": (_Binary,),
    }
    return isinstance(impl, expected.get(str(data_type), ()))


def _same(array: pa.Array) -> pa.Array:
    return array


def _as_text(array: pa.Array) -> pa.Array:
    """Timestamps, dates and times in SQLAlchemy's SQLite storage format (microseconds always
    written), aware timestamps as naive UTC."""
    import pyarrow as pa

    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        array = array.cast(pa.timestamp(array.type.unit))
    return array.cast(pa.string())


def _valid_text(array: pa.Array) -> pa.Array:
    """Strings whose UTF-8 is checked: parquet may hold invalid bytes, which `sqlite3` refuses
    (naming the column) and ADBC would store as they are."""
    array.validate(full=True)
    return array


def _as_integer(array: pa.Array) -> pa.Array:
    """Booleans as the 0 and 1 that `sqlite3` stores for Python's False and True."""
    import pyarrow as pa

    return array.cast(pa.int64())


_ARRAYS_BY_DATA_TYPE: Dict[str, TArrayConverter] = {
    "text": _same,
    "json": _same,
    "bigint": _same,
    "double": _same,
    "bool": _same,
    "binary": _same,
    "timestamp": _as_text,
    "date": _as_text,
    "time": _as_text,
    "decimal": decimal_text,
    "wei": decimal_text,
}
"""Per dlt type, the Arrow array holding what SQLAlchemy's bind processors would bind."""


_ADBC_ARRAYS: Dict[str, TArrayConverter] = {
    "bool": _as_integer,
    "text": _valid_text,
    "json": _valid_text,
}
"""Where ADBC binds other arrays than the tuples' conversions: `sqlite3` decodes strings (and
fails on invalid UTF-8) and binds Python's booleans as 0 and 1."""


def _python_values(to_array: TArrayConverter) -> TColumnConverter:
    def convert(array: pa.Array) -> List[Any]:
        return to_array(array).to_pylist()  # type: ignore[no-any-return]

    return convert


_BY_DATA_TYPE: Dict[str, TColumnConverter] = {
    data_type: _python_values(to_array) for data_type, to_array in _ARRAYS_BY_DATA_TYPE.items()
}
"""Per dlt type, the Python values `executemany` binds."""
