"""The cursor of a dataset query: it runs the query only once it knows how it will be read.

dlt's relation (`dlt.dataset.relation.Relation._cursor`) calls `execute_query(sql)`, sets the
cursor's `columns_schema`, then calls `fetchall()` or `arrow()` / `iter_arrow()` / `df()`. A
driver that runs the query on `execute` buffers the whole result (psycopg and mysqlclient keep
every row), which is the cost a native Arrow read must avoid; so a SELECT given as text waits:
- a row method (`fetchall`, `fetchmany`, `fetchone`, `description`) runs it as before;
- an Arrow method runs it through the first available reader of the dialect
  (`DialectCapabilities.arrow_readers()`), typed as dlt's reader types it (`reads.conform`);
- a cursor left unread runs it when the `with` block ends, so its side effects and errors
  happen as they would have (errors then leave the `with` block).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Generator, Iterator, List, Optional, Tuple

from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.schema.typing import TTableSchemaColumns

from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TypedCursor
from dlt_sqlalchemy.reads.conform import ArrowTarget, all_typed, rechunked, table_of
from dlt_sqlalchemy.reads.readers import ArrowReader, ReadClient, reader_failed

if TYPE_CHECKING:
    import pyarrow as pa


class DeferredCursor(TypedCursor):
    """A `TypedCursor` whose SELECT runs at the first read, by rows or natively as Arrow."""

    def __init__(
        self,
        client: ReadClient,
        sql: str,
        stack: contextlib.ExitStack,
        mapper: Optional[SqlalchemyTypeMapper],
    ) -> None:
        # no super().__init__: it reads `description`, which would run the query now
        self._client = client
        self._sql = sql
        self._stack = stack
        self._mapper = mapper
        self._process_row = None
        self._native: Any = None
        self._ran = False
        self._schema: Optional[TTableSchemaColumns] = None
        self.arrow_reader: Optional[str] = None
        """Name of the reader that fetched the result as Arrow (None: read as rows)."""

    # --- running as rows ----------------------------------------------------------------------

    @property
    def native_cursor(self) -> Any:
        if not self._ran:
            self._run_as_rows()
        return self._native

    @native_cursor.setter
    def native_cursor(self, value: Any) -> None:
        self._native = value

    def _run_as_rows(self) -> None:
        self._ran = True
        self._native = self._client.rows_cursor(self._sql, self._stack)
        if self._schema is not None and self._mapper is not None:
            self._process_row = self._mapper.row_processor(self._get_columns(), self._schema)

    def ensure_ran(self) -> None:
        """Runs a query nobody read (the `with` block ends): its effects and errors still
        happen."""
        if not self._ran:
            self._run_as_rows()

    @property
    def columns_schema(self) -> TTableSchemaColumns:
        if self._schema is None:
            return {c: {"name": c, "nullable": True} for c in self._get_columns()}
        return self._schema

    @columns_schema.setter
    def columns_schema(self, value: TTableSchemaColumns) -> None:
        self._schema = value
        if self._ran and self._native is not None and self._mapper is not None:
            self._process_row = self._mapper.row_processor(self._get_columns(), value)

    # --- reading as Arrow ---------------------------------------------------------------------

    def iter_arrow(self, chunk_size: Optional[int] = None) -> Generator[pa.Table, None, None]:
        if self._ran or not all_typed(self._schema):
            yield from super().iter_arrow(chunk_size)  # type: ignore[arg-type]
            return
        target = self._target()
        for reader in self._client.arrow_readers():
            if chunk_size and reader.may_fail_midway:
                continue  # chunks already returned could not be taken back
            opened = self._open(reader, target)
            if opened is None:
                continue
            batches, scope = opened
            self.arrow_reader = reader.name
            if not reader.may_fail_midway:
                yield from self._client.translating(
                    rechunked((target.conform(b) for b in batches), target.schema, chunk_size)
                )
                return
            # the whole result in one table: a reader that fails on the data midway (SQLite's
            # driver meeting a value of another type) leaves it to the next one
            try:
                table = table_of([target.conform(b) for b in batches], target.schema)
            except Exception as ex:
                scope.close()
                self._ran, self._native = False, None  # the next reader starts afresh
                reader_failed(reader, ex, self._client)
                continue
            yield table
            return
        yield from super().iter_arrow(chunk_size)  # type: ignore[arg-type]

    def _target(self) -> ArrowTarget:
        assert self._schema is not None
        caps: DestinationCapabilitiesContext = self._client.capabilities
        mapper = self._mapper
        processors = [
            mapper.result_processor(column) if mapper is not None else None
            for column in self._schema.values()
        ]
        return ArrowTarget(self._schema, caps, processors)

    def _open(
        self, reader: ArrowReader, target: ArrowTarget
    ) -> Optional[Tuple[Iterator[pa.RecordBatch], contextlib.ExitStack]]:
        """The reader's batches (the query started) and what closes them; None when the reader
        could not start and the next one should try (a failure of the query itself, on the
        client's own connection, is raised, translated)."""
        scope = contextlib.ExitStack()
        try:
            batches = scope.enter_context(reader.read(self._client, self._sql, target))
        except Exception as ex:
            scope.close()
            if not reader.own_connection:
                raise self._client.translated(ex)  # noqa: B904 - the client decides the chain
            reader_failed(reader, ex, self._client)
            return None
        self._ran = True
        self._native = _Consumed(target.names)
        self._stack.push(scope)
        return batches, scope


class _Consumed:
    """The rows cursor of a result already read as Arrow: later reads find no more rows, as
    they would on a DB-API cursor read to its end."""

    def __init__(self, names: List[str]) -> None:
        self.description = [(name, None, None, None, None, None, None) for name in names]

    def fetchall(self) -> List[Tuple[Any, ...]]:
        return []

    def fetchmany(self, size: Optional[int] = None) -> List[Tuple[Any, ...]]:
        return []

    def fetchone(self) -> Optional[Tuple[Any, ...]]:
        return None

    def close(self) -> None:
        pass
