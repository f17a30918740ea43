"""MySQL and MariaDB: `LOAD DATA LOCAL INFILE`, fed through a named pipe.

Arrow renders the load file as CSV batch by batch; a feeder thread writes the text into a FIFO
that the client library reads as the "local file", so nothing is buffered whole and nothing
lands on disk (a platform without FIFOs gets a temporary file instead).

Two settings must allow it: the server's `local_infile` and the client's LOCAL_FILES capability
(mysqlclient built on MariaDB Connector/C and MariaDB Connector/Python have it on, PyMySQL needs
`local_infile=True` in `connect_args`, mysql-connector-python `allow_local_infile=True`,
libmysqlclient builds `local_infile=1`). The path checks both and steps aside otherwise; it
never changes a server setting.

With LOCAL the server cannot stop the client mid-file, so it downgrades data errors (a value too
long, NULL for a NOT NULL column, a duplicate key) to warnings even in strict mode and loads the
row anyway. The path reads the warnings after the statement and raises the first one as the
error an INSERT would have raised: the job's transaction rolls the whole file back.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from dlt_sqlalchemy.load.arrow_values import decimal_text
from dlt_sqlalchemy.load.bulk import (
    PYARROW_HINT,
    RowCounter,
    arrow_batches,
    csv_chunks,
    execute_text_statements,
    has_pyarrow,
    hex_text,
    plain_types,
    prefetching,
    python_rows_at,
    replace_columns,
    sql_literals,
)
from dlt_sqlalchemy.load.bulk import (
    driver_connection as _driver,
)
from dlt_sqlalchemy.load.path import BatchFailed, LoadPath, LoadRequest
from dlt_sqlalchemy.sql_text import compile_text

if TYPE_CHECKING:
    import pyarrow as pa

# the drivers whose connection object both Arrow-fed paths know how to drive
LOAD_DATA_DRIVERS = ("mysqldb", "pymysql", "mysqlconnector", "mariadbconnector")
# the top-level modules of those drivers' exceptions
_DRIVER_MODULES = ("MySQLdb", "pymysql", "mysql.connector", "mariadb")
_CLIENT_LOCAL_FILES = 128  # CLIENT_LOCAL_FILES capability flag of the MySQL protocol
_SERVER_SETTING_KEY = "dlt_sqlalchemy.local_infile"

# warnings LOAD DATA LOCAL gives for what would be an error of an INSERT in strict mode
_NULL_INTO_NOT_NULL = 1263
_NOT_NULL_ERROR = 1048
_WARNING_ROW = re.compile(r"\bat row (\d+)")
_WARNING_COLUMN = re.compile(r"column '((?:[^']|'')+)'", re.IGNORECASE)


class LoadDataLocalInfile(Executable, ClauseElement):
    """`LOAD DATA LOCAL INFILE` of Arrow's CSV into all columns of `table`, every identifier
    quoted; binary columns travel as hex text and are decoded by `UNHEX()`."""

    inherit_cache = False

    def __init__(self, table: sa.Table, file_name: str, hex_columns: Sequence[str]) -> None:
        self.table = table
        self.file_name = file_name
        self.hex_columns = set(hex_columns)


@compiles(LoadDataLocalInfile)
def _compile_load_data(element: LoadDataLocalInfile, compiler: Any, **kw: Any) -> str:
    preparer = compiler.preparer
    targets: List[str] = []
    decoded: List[str] = []
    for i, column in enumerate(element.table.columns):
        if column.name in element.hex_columns:
            targets.append(f"@hex{i}")
            decoded.append(f"{preparer.format_column(column)} = UNHEX(@hex{i})")
        else:
            targets.append(preparer.format_column(column))
    file_name = compiler.render_literal_value(element.file_name, sa.String())
    # separators as hex literals: they mean the same with or without NO_BACKSLASH_ESCAPES
    sql = (
        f"LOAD DATA LOCAL INFILE {file_name} INTO TABLE {preparer.format_table(element.table)}"
        " CHARACTER SET utf8mb4"
        " FIELDS TERMINATED BY 0x2c OPTIONALLY ENCLOSED BY 0x22 ESCAPED BY ''"
        " LINES TERMINATED BY 0x0a"
        f" ({', '.join(targets)})"
    )
    if decoded:
        sql += " SET " + ", ".join(decoded)
    return sql


def _prepare_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Values in the forms MySQL reads: 1/0 for booleans, UTC wall time for aware timestamps
    (as `UtcDateTime` stores them), positional decimals, hex for binary."""
    import pyarrow as pa

    arrays = []
    for array in batch.columns:
        kind = array.type
        if pa.types.is_boolean(kind):
            array = array.cast(pa.int8())
        elif pa.types.is_timestamp(kind) and kind.tz is not None:
            array = array.cast(pa.timestamp(kind.unit))
        elif pa.types.is_decimal(kind):
            array = decimal_text(array)
        elif pa.types.is_binary(kind):
            array = hex_text(array)
        arrays.append(array)
    return replace_columns(batch, arrays)


class MysqlLoadDataPath(LoadPath):
    """CSV through `LOAD DATA LOCAL INFILE`, when server and client both allow LOCAL."""

    name = "load_data"
    file_formats = ("typed-jsonl", "parquet")

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        reason = _arrow_path_obstacle(request)
        if reason is not None:
            return reason
        connection = request.connection
        if not _client_flags(_driver(connection)) & _CLIENT_LOCAL_FILES:
            option = (
                "allow_local_infile"
                if connection.dialect.driver == "mysqlconnector"
                else "local_infile"
            )
            return (
                f"the client has LOCAL INFILE off: pass `{option}` in `connect_args`"
                " (engine_kwargs)"
            )
        if not _server_allows_local_infile(connection):
            return "the server has `local_infile` off"
        return None

    def load(self, request: LoadRequest) -> int:
        hex_columns = [
            column.name
            for column, dlt_column in zip(request.table.columns, request.columns)
            if dlt_column.get("data_type") == "binary"
        ]
        counter = RowCounter()
        chunks = csv_chunks(counter.count(arrow_batches(request)), _prepare_csv, "NULL")
        connection = request.connection
        cursor = _driver(connection).cursor()
        try:
            with tempfile.TemporaryDirectory(prefix="dlt_sqla_load_") as folder:
                file_name = os.path.join(folder, "rows.csv")
                sql = compile_text(
                    LoadDataLocalInfile(request.table, file_name, hex_columns), connection.dialect
                )
                if hasattr(os, "mkfifo"):
                    _load_through_fifo(cursor, sql, file_name, chunks)
                else:
                    with open(file_name, "wb") as f:
                        for chunk in chunks:
                            f.write(chunk)
                    cursor.execute(sql)
            self._raise_warnings(request, cursor)
        except BatchFailed:
            raise
        except Exception as ex:
            if _is_driver_error(ex):
                raise BatchFailed(ex, _failed_row(request, ex)) from ex
            raise
        finally:
            cursor.close()
        return counter.rows

    def _raise_warnings(self, request: LoadRequest, cursor: Any) -> None:
        cursor.execute("SHOW WARNINGS")
        problems = [row for row in cursor.fetchall() if str(row[0]).lower() != "note"]
        if not problems:
            return
        _, code, message = problems[0]
        code = int(code)
        dbapi = request.connection.dialect.loaded_dbapi
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        if code == _NULL_INTO_NOT_NULL:
            column = _WARNING_COLUMN.search(message)
            name = column.group(1) if column else "?"
            error = _driver_error(
                dbapi, "IntegrityError", _NOT_NULL_ERROR, f"Column '{name}' cannot be null{more}"
            )
        else:
            error = _driver_error(dbapi, "DataError", code, f"{message}{more}")
        row = _WARNING_ROW.search(message)
        failed = python_rows_at(request, int(row.group(1)) - 1) if row else None
        raise BatchFailed(error, failed)


def _arrow_path_obstacle(request: LoadRequest) -> Optional[str]:
    """Why neither Arrow-fed MySQL path can load this table, or None: both send the driver text
    they rendered themselves, so they need a driver they know and no Python-side type processing."""
    from dlt_sqlalchemy.dialects.type_mapper import UtcDateTime

    dialect = request.connection.dialect
    if dialect.driver not in LOAD_DATA_DRIVERS:
        return f"driver `{dialect.driver}` is not one of {', '.join(LOAD_DATA_DRIVERS)}"
    if not has_pyarrow():
        return f"pyarrow is not installed: {PYARROW_HINT}"
    if not plain_types(request.table, dialect, (UtcDateTime,)):
        return "a column type processes its values in Python"
    return None


def _load_through_fifo(cursor: Any, sql: str, fifo: str, chunks: Iterator[bytes]) -> None:
    os.mkfifo(fifo, 0o600)
    feeder = _FifoFeeder(fifo, chunks)
    feeder.start()
    try:
        cursor.execute(sql)
    finally:
        feeder.finish()
    if feeder.error is not None:
        # the file was cut short: what the server loaded is rolled back with the transaction
        raise feeder.error


class _FifoFeeder(threading.Thread):
    """Writes CSV chunks into the FIFO the client library reads as the local file.

    Arrow renders CSV without the GIL, and the client library reads the pipe in C, so the two
    sides work in parallel.
    """

    def __init__(self, fifo: str, chunks: Iterator[bytes]) -> None:
        super().__init__(name="dlt-sqlalchemy-load-data", daemon=True)
        self.fifo = fifo
        self.chunks = chunks
        self.error: Optional[BaseException] = None
        self.opened = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            with open(self.fifo, "wb") as pipe:  # blocks until the client opens the file
                self.opened.set()
                for chunk in self.chunks:
                    if self.stopped.is_set():
                        break
                    pipe.write(chunk)
        except BrokenPipeError:
            pass  # the statement ended early: its own error tells why
        except BaseException as ex:
            self.error = ex

    def finish(self) -> None:
        self.stopped.set()
        if not self.opened.is_set():
            # the statement failed before it read the file, and the feeder may be waiting in
            # open(): hold a read end until it is through, then close it, so that its writes
            # fail with a broken pipe
            reader = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
            try:
                while self.is_alive() and not self.opened.wait(0.05):
                    pass
            finally:
                os.close(reader)
        self.join()


def _server_allows_local_infile(connection: sa.Connection) -> bool:
    """`@@GLOBAL.local_infile`, asked once per pooled connection."""
    info = connection.connection.info
    if _SERVER_SETTING_KEY not in info:
        cursor = _driver(connection).cursor()
        try:
            cursor.execute("SELECT @@GLOBAL.local_infile")
            (value,) = cursor.fetchone()
        finally:
            cursor.close()
        info[_SERVER_SETTING_KEY] = str(value).upper() in ("1", "ON")
    return bool(info[_SERVER_SETTING_KEY])


def _client_flags(driver_connection: Any) -> int:
    """The capability flags the client announced: each driver keeps them under its own name."""
    for name in ("client_flag", "client_flags", "client_capabilities"):
        flags = getattr(driver_connection, name, None)
        if isinstance(flags, int):
            return flags
    return 0


def _driver_error(dbapi: Any, kind: str, errno: int, message: str) -> Exception:
    """The driver's own `kind` exception for a server warning, as the driver would raise it for
    the same error of an INSERT: error number and message where each driver keeps them."""
    cls = getattr(dbapi, kind)
    if (getattr(dbapi, "__name__", "") or "").startswith("mysql.connector"):
        error: Exception = cls(msg=message, errno=errno)
        return error
    error = cls(errno, message)
    return error


def _is_driver_error(ex: Exception) -> bool:
    module = type(ex).__module__ or ""
    return module.startswith(_DRIVER_MODULES)


def _failed_row(request: LoadRequest, ex: Exception) -> Optional[Any]:
    match = _WARNING_ROW.search(str(ex))
    return python_rows_at(request, int(match.group(1)) - 1) if match else None


# --- multi-row INSERT with values rendered by Arrow --------------------------------------------

# statement size: far below MySQL's default max_allowed_packet (MariaDB 16 MB, MySQL 64 MB)
INSERT_STATEMENT_BYTES = 4 * 1024 * 1024
INSERT_BATCH_ROWS = 16_384  # rows rendered at a time: memory stays at a few statements


class MysqlInsertValuesPath(LoadPath):
    """Multi-row INSERT statements whose VALUES Arrow renders, for when LOAD DATA is off.

    mysqlclient's own `executemany` also sends multi-row INSERTs, but formats and escapes each
    row in Python. Here every column becomes SQL literals in one pass of Arrow's string kernels
    (strings quoted with `'` doubled and, unless the session has NO_BACKSLASH_ESCAPES, `\\`
    doubled; binary as `X'..'`; NULL as NULL), rows are joined in C and sent in statements of
    about 4 MB. Only for utf8/utf8mb4 connections, where no multi-byte character can contain a
    quote or a backslash byte.
    """

    name = "insert_values"
    file_formats = ("typed-jsonl", "parquet")

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        reason = _arrow_path_obstacle(request)
        if reason is not None:
            return reason
        if not _numpy_imports():
            # it cuts the rendered rows into statements of about 4 MB
            return 'numpy is not installed: pip install "dlt-sqlalchemy[mysql]"'
        connection = request.connection
        charset = _connection_charset(_driver(connection))
        if charset not in ("utf8", "utf8mb4", "utf8mb3"):
            return f"the connection character set is {charset}, not utf8mb4"
        return None

    def load(self, request: LoadRequest) -> int:

        connection = request.connection
        # bytes throughout: a VALUES text with one emoji would become a 4-byte-per-character
        # Python str, three times (the join, the prefix, the driver's encode): ~40 MB a statement
        prefix = _insert_prefix(request.table, connection.dialect).encode("utf-8")
        cursor = _driver(connection).cursor()
        # MariaDB Connector/Python takes statements as str only
        text_only = connection.dialect.driver == "mariadbconnector"
        rows = 0
        try:
            cursor.execute("SELECT @@SESSION.sql_mode")
            (sql_mode,) = cursor.fetchone()
            backslashes = "NO_BACKSLASH_ESCAPES" not in str(sql_mode).upper()
            with prefetching(arrow_batches(request, INSERT_BATCH_ROWS)) as batches:
                for batch in batches:
                    rows += execute_text_statements(
                        cursor,
                        batch,
                        _rendered_rows(batch, backslashes),
                        lambda part: _insert_statement(prefix, part, text_only),
                        INSERT_STATEMENT_BYTES,
                    )
        finally:
            cursor.close()
        return rows


def _insert_statement(prefix: bytes, tuples: pa.Array, text_only: bool) -> Any:
    """`INSERT ... VALUES (..),(..)` of rendered tuples, as bytes (or str for drivers that
    take only that)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets = pa.array([0, len(tuples)], pa.int32())
    values = pc.binary_join(pa.ListArray.from_arrays(offsets, tuples), ",")[0]
    statement = b"".join((prefix, values.as_buffer()))
    return statement.decode("utf-8") if text_only else statement


def _numpy_imports() -> bool:
    """Whether numpy imports (found is not enough: a broken install fails only on import)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def _rendered_rows(batch: pa.RecordBatch, backslashes: bool) -> pa.Array:
    """`(v1,v2,...)` per row of `batch`, as UTF-8 text; intermediates freed as soon as used."""
    import pyarrow.compute as pc

    body = pc.binary_join_element_wise(*[_sql_literals(a, backslashes) for a in batch.columns], ",")
    return pc.binary_join_element_wise("(", body, ")", "")


def _sql_literals(array: pa.Array, backslashes: bool) -> pa.Array:
    """MySQL literals of a column; with `backslashes` (the session lacks
    `NO_BACKSLASH_ESCAPES`) backslashes are doubled and NUL written as `\\0`."""
    return sql_literals(array, rewrite=_escape_backslashes if backslashes else None)


def _escape_backslashes(kind: pa.DataType, text: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    text = pc.replace_substring(text, "\\", "\\\\")
    return pc.replace_substring(text, "\x00", "\\0")


def _insert_prefix(table: sa.Table, dialect: sa.engine.interfaces.Dialect) -> str:
    """`INSERT INTO table (columns) VALUES ` as SQLAlchemy renders it, identifiers quoted."""
    statement = compile_text(sa.insert(table), dialect)
    head, _, _ = statement.rpartition(" VALUES ")
    return f"{head} VALUES "


def _connection_charset(driver_connection: Any) -> str:
    """mysqlclient: `character_set_name()`; MariaDB Connector: `character_set_name` (a str);
    PyMySQL and mysql-connector-python: `charset`."""
    name = getattr(driver_connection, "character_set_name", None)
    if callable(name):
        charset = name()
    elif isinstance(name, str):
        charset = name
    else:
        charset = getattr(driver_connection, "charset", "")
    return str(charset).lower()
