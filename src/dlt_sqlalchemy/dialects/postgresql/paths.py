"""PostgreSQL: `COPY ... FROM STDIN` through the driver's copy API, and ADBC ingestion of parquet.

COPY streams the file as CSV: Arrow reads and converts it batch by batch and its C++ writer
renders each batch; nothing holds more than one batch. psycopg 3 (`cursor.copy()`), psycopg2
(`copy_expert`) and pg8000 (`execute(..., stream=chunks)`, one CopyData message per chunk) run
it, inside the job's transaction.

ADBC ingestion (`adbc-driver-postgresql`) sends parquet's Arrow batches in PostgreSQL's binary
COPY format, skipping the text round trip. It needs a connection of its own, so it loads in a
transaction of its own that commits once at the end of the file: the file is still all or
nothing. Any failure rolls that transaction back and the file is loaded again by COPY in the
job's transaction, whose errors name the column and value a user needs to see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, List, Optional

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from dlt_sqlalchemy.load.adbc import AdbcIngestPath, batch_reader
from dlt_sqlalchemy.load.bulk import (
    PYARROW_HINT,
    RowCounter,
    arrow_batches,
    copy_failed_row,
    csv_chunks,
    has_pyarrow,
    hex_text,
    plain_types,
    prefetching,
    replace_columns,
)
from dlt_sqlalchemy.load.path import BatchFailed, LoadPath, LoadRequest
from dlt_sqlalchemy.sql_text import compile_text

if TYPE_CHECKING:
    import pyarrow as pa

COPY_DRIVERS = ("psycopg", "psycopg2", "pg8000")
ADBC_BATCH_ROWS = 16_384  # rows per Arrow batch handed to ADBC: its COPY buffer holds one
ADBC_HINT = "pip install adbc-driver-postgresql (or dlt-sqlalchemy[postgres])"


class CopyFromStdin(Executable, ClauseElement):
    """`COPY table (columns) FROM STDIN WITH (FORMAT csv)`, every identifier quoted."""

    inherit_cache = False

    def __init__(self, table: sa.Table) -> None:
        self.table = table


@compiles(CopyFromStdin)
def _compile_copy(element: CopyFromStdin, compiler: Any, **kw: Any) -> str:
    preparer = compiler.preparer
    columns = ", ".join(preparer.format_column(c) for c in element.table.columns)
    return f"COPY {preparer.format_table(element.table)} ({columns}) FROM STDIN WITH (FORMAT csv)"


def _prepare_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    """PostgreSQL reads Arrow's renderings as they are (`true`, `1E-9`, `23:59:58.123456`) but
    two: bytea takes `\\x` and hex digits, and aware timestamps are written as UTC wall time
    plus `Z` (Arrow renders zoned timestamps through its time zone database, five times slower
    than the naive rendering of the same instant)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    changed = False
    for array in batch.columns:
        kind = array.type
        if pa.types.is_binary(kind):
            array = hex_text(array, b"\\x")
        elif pa.types.is_timestamp(kind) and kind.tz is not None:
            naive = array.cast(pa.timestamp(kind.unit)).cast(pa.string())
            array = pc.binary_join_element_wise(naive, "Z", "")
        else:
            arrays.append(array)
            continue
        changed = True
        arrays.append(array)
    return replace_columns(batch, arrays) if changed else batch


class PostgresqlCopyPath(LoadPath):
    """CSV through `COPY FROM STDIN`, streamed from the load file."""

    name = "copy"
    file_formats = ("typed-jsonl", "parquet")

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        dialect = request.connection.dialect
        if dialect.driver not in COPY_DRIVERS:
            return f"driver `{dialect.driver}` is not one of {', '.join(COPY_DRIVERS)}"
        if not has_pyarrow():
            return f"pyarrow is not installed: {PYARROW_HINT}"
        if not plain_types(request.table, dialect):
            return "a column type processes its values in Python"
        encoding = _client_encoding(request.connection)
        if encoding not in ("utf8", "unicode"):
            return f"the client encoding is {encoding}, not UTF-8"
        return None

    def load(self, request: LoadRequest) -> int:
        connection = request.connection
        sql = compile_text(CopyFromStdin(request.table), connection.dialect)
        counter = RowCounter()
        csv = csv_chunks(counter.count(arrow_batches(request)), _prepare_csv)
        driver_connection: Any = connection.connection.driver_connection
        try:
            with prefetching(csv) as chunks:
                _copy(driver_connection, connection.dialect.driver, sql, chunks)
        except Exception as ex:
            if not _is_database_error(ex):
                raise
            raise BatchFailed(ex, copy_failed_row(request, ex)) from ex
        return counter.rows


def _copy(driver_connection: Any, driver: str, sql: str, chunks: Iterator[bytes]) -> None:
    """Streams `chunks` into `COPY ... FROM STDIN` with the driver's own copy API."""
    if driver == "psycopg":
        with driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
            for chunk in chunks:
                copy.write(chunk)
    elif driver == "pg8000":
        # an iterable stream: pg8000 sends each item as it comes, no buffer of the whole file
        cursor = driver_connection.cursor()
        try:
            cursor.execute(sql, stream=chunks)
        finally:
            cursor.close()
    else:
        cursor = driver_connection.cursor()
        try:
            cursor.copy_expert(sql, _ChunkReader(chunks), size=1 << 20)
        finally:
            cursor.close()


class _ChunkReader:
    """A file-like object over CSV chunks, for psycopg2's `copy_expert`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def read(self, size: int = -1) -> bytes:
        return next(self.chunks, b"")

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _is_database_error(ex: Exception) -> bool:
    module = type(ex).__module__ or ""
    if module.startswith("pg8000"):
        # the server's error fields come as a dict in args[0]; InterfaceError has a plain text
        args: Any = ex.args
        return bool(args) and isinstance(args[0], dict)
    return module.startswith(("psycopg", "psycopg2")) and hasattr(ex, "diag")


def _client_encoding(connection: sa.Connection) -> str:
    driver_connection: Any = connection.connection.driver_connection
    if connection.dialect.driver == "psycopg":
        encoding = driver_connection.info.encoding
    elif connection.dialect.driver == "pg8000":
        # pg8000 keeps no public record of it: ask the session
        cursor = driver_connection.cursor()
        try:
            cursor.execute("SHOW client_encoding")
            (encoding,) = cursor.fetchone()
        finally:
            cursor.close()
    else:
        encoding = driver_connection.encoding
    return str(encoding).lower().replace("_", "-").replace("utf-8", "utf8")


class PostgresqlAdbcPath(AdbcIngestPath):
    """Parquet through ADBC ingestion (binary COPY), when `adbc-driver-postgresql` is installed;
    COPY in the job's transaction when it fails."""

    file_formats = ("parquet",)
    driver_module = "adbc_driver_postgresql"
    install_hint = ADBC_HINT

    def dialect_reason(self, request: LoadRequest) -> Optional[str]:
        dialect = request.connection.dialect
        if dialect.driver not in COPY_DRIVERS:
            return f"driver `{dialect.driver}` is not one of {', '.join(COPY_DRIVERS)}"
        if _adbc_types(request.table, dialect) is None:
            return "a column type has no binary COPY counterpart or processes values in Python"
        return None

    def fallback(self) -> LoadPath:
        return PostgresqlCopyPath()

    def ingest(self, request: LoadRequest) -> int:
        import adbc_driver_postgresql.dbapi as adbc
        import pyarrow as pa

        types = _adbc_types(request.table, request.connection.dialect)
        assert types is not None
        names = [c.name for c in request.table.columns]
        reader = batch_reader(
            pa.RecordBatch.from_arrays(
                [_cast_for_adbc(a, t) for a, t in zip(batch.columns, types)], names=names
            )
            for batch in arrow_batches(request, ADBC_BATCH_ROWS)
        )
        if reader is None:
            return 0
        url = request.connection.engine.url.set(drivername="postgresql")
        with adbc.connect(url.render_as_string(hide_password=False)) as conn:
            with conn.cursor() as cursor:
                rows = cursor.adbc_ingest(
                    request.table.name, reader, mode="append", db_schema_name=request.table.schema
                )
            conn.commit()
        return int(rows)


def _adbc_types(table: sa.Table, dialect: sa.engine.interfaces.Dialect) -> Optional[List[Any]]:
    """The Arrow type that binary COPY needs for each column, or None if one has no such type.

    Binary COPY takes no conversions: an int64 for a smallint column is refused, text for jsonb
    too (jsonb wants Arrow's JSON extension type).
    """
    import pyarrow as pa
    from sqlalchemy.dialects import postgresql as pg

    if not plain_types(table, dialect):
        return None
    types: List[Any] = []
    for column in table.columns:
        impl = column.type.dialect_impl(dialect)
        if isinstance(impl, sa.SmallInteger):
            types.append(pa.int16())
        elif isinstance(impl, sa.BigInteger):
            types.append(pa.int64())
        elif isinstance(impl, sa.Integer):
            types.append(pa.int32())
        elif isinstance(impl, pg.REAL):
            types.append(pa.float32())
        elif isinstance(impl, sa.Float):
            types.append(pa.float64())
        elif isinstance(impl, sa.Boolean):
            types.append(pa.bool_())
        elif isinstance(impl, sa.DateTime):
            types.append(pa.timestamp("us", tz="UTC" if impl.timezone else None))
        elif isinstance(impl, sa.Date):
            types.append(pa.date32())
        elif isinstance(impl, sa.Time) and not getattr(impl, "timezone", False):
            types.append(pa.time64("us"))
        elif isinstance(impl, sa.Numeric) and not isinstance(impl, sa.Float):
            types.append(None)  # decimals pass as parquet has them: PostgreSQL checks precision
        elif isinstance(impl, (pg.JSONB, pg.JSON)):
            types.append(pa.json_(pa.string()))
        elif isinstance(impl, sa.LargeBinary):
            types.append(pa.binary())
        elif isinstance(impl, sa.String) and not isinstance(impl, sa.Enum):
            types.append(pa.string())
        else:
            return None
    return types


def _cast_for_adbc(array: pa.Array, target: Any) -> pa.Array:
    import pyarrow as pa

    if target is None:
        if not pa.types.is_decimal(array.type):
            raise TypeError(f"decimal column as {array.type}: binary COPY needs Arrow decimals")
        return array
    if isinstance(target, pa.ExtensionType):
        return pa.ExtensionArray.from_storage(target, array.cast(target.storage_type))
    return array if array.type == target else array.cast(target)
