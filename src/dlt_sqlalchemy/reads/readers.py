"""Arrow readers: how a dataset query's result reaches Arrow without a Python object per value.

Each dialect lists its readers, fastest first, in `DialectCapabilities.arrow_readers()`; the
cursor takes the first one available here. `DbApiArrowReader` works on every dialect and driver
and ends every list: it fetches the driver's rows in batches (`fetchmany`) and builds each column
of a batch at once, so at most one batch of rows lives as Python objects.

A reader yields `pyarrow.RecordBatch`es in the driver's own types; `reads.conform` makes them the
types dlt's reader gives today. Readers that run the query on a connection of their own (ADBC)
see committed data only, so the cursor uses them only outside a transaction.
"""

from __future__ import annotations

import contextlib
import gc
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, List, Protocol

from dlt.common import logger

from dlt_sqlalchemy.load.bulk import driver_connection, has_module

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa
    from dlt.common.destination import DestinationCapabilitiesContext

    from dlt_sqlalchemy.reads.conform import ArrowTarget

DBAPI_BATCH_ROWS = 50_000
"""Rows per `fetchmany` of the DB-API reader: a few tens of MB of Python objects at most."""


class ReadClient(Protocol):
    """What readers and the deferred cursor use of the SQL client (a protocol, so that the
    readers, and the dialects that list them, do not import the client)."""

    @property
    def native_connection(self) -> sa.Connection: ...

    @property
    def capabilities(self) -> DestinationCapabilitiesContext: ...

    @property
    def in_transaction(self) -> bool: ...

    def executing_text(
        self, sql: str, stream: bool = False
    ) -> contextlib.AbstractContextManager[sa.CursorResult[Any]]: ...

    def rows_cursor(self, sql: str, stack: contextlib.ExitStack) -> Any: ...

    def arrow_readers(self) -> List[ArrowReader]: ...

    def translated(self, ex: Exception) -> Exception: ...

    def translating(self, items: Iterator[Any]) -> Iterator[Any]: ...

    def scrubbed(self, text: str) -> str: ...


class ArrowReader(ABC):
    """A way to run a SELECT and get its result as Arrow batches."""

    name: ClassVar[str]
    own_connection: ClassVar[bool] = False
    """True when the reader opens a connection of its own (it sees committed data only)."""
    may_fail_midway: ClassVar[bool] = False
    """True when a result the reader started may still fail on its data later (SQLite's ADBC
    driver infers types from the first batch): the cursor uses it only to read a whole result,
    which it can start over on the next reader."""

    def is_available(self, client: ReadClient) -> bool:
        """Whether this reader can run here (driver installed, connection kind)."""
        return True

    @abstractmethod
    def read(
        self, client: ReadClient, sql: str, target: ArrowTarget
    ) -> contextlib.AbstractContextManager[Iterator[pa.RecordBatch]]:
        """Runs `sql`; the batches of its result in the driver's Arrow types (or already in the
        target's). Errors are the driver's: the cursor translates them."""


class DbApiArrowReader(ArrowReader):
    """Any driver: `fetchmany` batches built column by column into the target types.

    The query runs with SQLAlchemy's `stream_results`, so drivers that would otherwise buffer
    the whole result as Python objects on `execute` (mysqlclient, PyMySQL) stream it from the
    server (an unbuffered cursor); psycopg uses a server-side cursor the same way.
    """

    name = "dbapi"

    def __init__(self, batch_rows: int = DBAPI_BATCH_ROWS, stream: bool = True) -> None:
        self.batch_rows = batch_rows
        self.stream = stream

    @contextlib.contextmanager
    def read(
        self, client: ReadClient, sql: str, target: ArrowTarget
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        with client.executing_text(sql, stream=self.stream) as result:
            yield self._batches(result, target)

    def _batches(self, result: Any, target: ArrowTarget) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        # through SQLAlchemy's result, not its DB-API cursor: a streaming result has already
        # buffered the first rows from that cursor
        while True:
            with gc_paused():
                rows = result.fetchmany(self.batch_rows)
                if not rows:
                    return
                columns: List[Any] = list(zip(*rows))
                del rows
            yield pa.RecordBatch.from_arrays(
                [target.python_column(i, values) for i, values in enumerate(columns)],
                schema=target.schema,
            )


class DuckdbArrowReader(ArrowReader):
    """DuckDB's own Arrow export (`fetch_record_batch`) on the client's connection."""

    name = "duckdb-arrow"

    def __init__(self, batch_rows: int = 1_000_000) -> None:
        self.batch_rows = batch_rows

    def is_available(self, client: ReadClient) -> bool:
        return client.native_connection.dialect.name == "duckdb" and has_module("pyarrow")

    @contextlib.contextmanager
    def read(
        self, client: ReadClient, sql: str, target: ArrowTarget
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        connection = driver_connection(client.native_connection)
        # the same DuckDB connection (and transaction) as every other statement of the client
        relation = connection.sql(sql)
        # a relation streams its result; DuckDB 2.x names it `to_arrow_reader`, 1.x
        # `fetch_arrow_reader`
        fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        reader = fetch(self.batch_rows)
        try:
            yield iter(reader)
        finally:
            reader.close()


class AdbcPostgresqlReader(ArrowReader):
    """PostgreSQL through ADBC (`adbc-driver-postgresql`): binary COPY straight into Arrow."""

    name = "adbc"
    own_connection = True

    def is_available(self, client: ReadClient) -> bool:
        return has_module("adbc_driver_postgresql") and has_module("pyarrow")

    @contextlib.contextmanager
    def read(
        self, client: ReadClient, sql: str, target: ArrowTarget
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        import adbc_driver_postgresql.dbapi as adbc

        url = client.native_connection.engine.url.set(drivername="postgresql")
        with (
            adbc.connect(url.render_as_string(hide_password=False)) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute(sql)
            yield iter(cursor.fetch_record_batch())


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a batch of rows is made and transposed.

    A batch is some 500,000 new tuples and values, none of them in a cycle; each 700 new
    containers start a collection that walks the young ones, and the older generations' get
    costlier as the process holds more: at a million rows that was half the read.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def reader_failed(reader: ArrowReader, ex: Exception, client: ReadClient) -> None:
    """Logs (scrubbed of secrets) why a reader gave up before its first batch."""
    logger.info(
        f"Arrow reader `{reader.name}` unavailable ({type(ex).__name__}:"
        f" {client.scrubbed(str(ex))}); trying the next one"
    )


def is_select(query: Any) -> bool:
    """True for SQL text that reads (SELECT / WITH ... SELECT / VALUES), the only statements a
    cursor may run later, at the first fetch, instead of at once."""
    if not isinstance(query, str):
        return False
    text = query.lstrip().lstrip("(").lstrip()
    head = text[:6].upper()
    return head.startswith(("SELECT", "WITH", "VALUES"))
