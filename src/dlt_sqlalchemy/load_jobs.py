"""Load jobs: stream a file in batches and insert each file in one transaction.

A job never holds a whole file: typed-jsonl is read line by line (each line is one JSON array of
rows), parquet row group by row group. Values are decoded column by column, only for the columns
whose dlt type needs it. A failure rolls the file's transaction back: no partial rows remain.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.client import HasFollowupJobs, RunnableLoadJob
from dlt.common.json import custom_pua_decode, custom_pua_decode_nested, json
from dlt.common.storages import FileStorage

from dlt_sqlalchemy.capabilities import DEFAULT_BATCH_ROWS
from dlt_sqlalchemy.errors import classify
from dlt_sqlalchemy.exceptions import ValueNotStorable
from dlt_sqlalchemy.inserts import BatchInserter

if TYPE_CHECKING:
    from dlt_sqlalchemy.job_client import SqlalchemyJobClient

TColumns = List[List[Any]]
TDecoder = Optional[Callable[[Any], Any]]

# dlt types that typed-jsonl carries as PUA-tagged strings
_PUA_TYPES = frozenset({"timestamp", "date", "time", "decimal", "wei", "binary"})


def _json_text(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(custom_pua_decode_nested(value))


class InsertLoadJob(RunnableLoadJob, HasFollowupJobs):
    """Inserts the rows of one file into the job's table (in the staging dataset when dlt says so)."""

    _job_client: "SqlalchemyJobClient"

    def run(self) -> None:
        client = self._job_client
        sql_client = client.sql_client
        table = client.sa_table(self.load_table_name)
        batch_rows = client.capabilities.max_rows_per_insert or DEFAULT_BATCH_ROWS
        columns = list(table.info["dlt_columns"].values())
        with sql_client.begin_transaction():
            inserter = BatchInserter(sql_client.native_connection, table)
            for batch in self.read_batches(columns, batch_rows):
                try:
                    inserter.insert(batch)
                except Exception as ex:
                    raise self._failure(ex, table, columns, batch) from ex

    def read_batches(
        self, columns: Sequence[Dict[str, Any]], batch_rows: int
    ) -> Iterator[TColumns]:
        raise NotImplementedError

    def _failure(
        self, ex: Exception, table: sa.Table, columns: Sequence[Dict[str, Any]], batch: TColumns
    ) -> Exception:
        """Names the table, and the column where we can find it, of a value that does not fit."""
        sql_client = self._job_client.sql_client
        translated = sql_client._translated(ex)
        if classify(ex, sql_client.dialect_caps) != "terminal":
            return translated
        message = sql_client._scrub(str(getattr(ex, "orig", ex))).splitlines()[0]
        column = _column_in_message(message, columns) or _overlong_text_column(columns, batch)
        return ValueNotStorable(self.load_table_name, column, message)


class TypedJsonlInsertJob(InsertLoadJob):
    """Loads dlt's typed-jsonl files (one JSON array of row objects per line)."""

    def read_batches(
        self, columns: Sequence[Dict[str, Any]], batch_rows: int
    ) -> Iterator[TColumns]:
        names = [c["name"] for c in columns]
        decoders: List[TDecoder] = [_jsonl_decoder(c.get("data_type")) for c in columns]
        pending: List[Dict[str, Any]] = []
        with FileStorage.open_zipsafe_ro(self._file_path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                pending.extend(json.loadb(line))
                while len(pending) >= batch_rows:
                    yield _columns_of(pending[:batch_rows], names, decoders)
                    del pending[:batch_rows]
        if pending:
            yield _columns_of(pending, names, decoders)


class ParquetInsertJob(InsertLoadJob):
    """Loads parquet files row group by row group through batched INSERTs."""

    def read_batches(
        self, columns: Sequence[Dict[str, Any]], batch_rows: int
    ) -> Iterator[TColumns]:
        from dlt.common.libs.pyarrow import pyarrow  # noqa: F401 - clear error without pyarrow
        import pyarrow.parquet as pq

        with pq.ParquetFile(self._file_path) as parquet:
            present = set(parquet.schema_arrow.names)
            wanted = [c["name"] for c in columns if c["name"] in present]
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
                size = batch.num_rows
                yield [
                    batch.column(c["name"]).to_pylist() if c["name"] in present else [None] * size
                    for c in columns
                ]


def _jsonl_decoder(data_type: Optional[str]) -> TDecoder:
    if data_type in _PUA_TYPES:
        return custom_pua_decode
    if data_type == "json":
        return _json_text
    return None


def _columns_of(rows: Sequence[Dict[str, Any]], names: Sequence[str], decoders: Sequence[TDecoder]) -> TColumns:
    columns: TColumns = []
    for name, decoder in zip(names, decoders):
        values = [row.get(name) for row in rows]
        columns.append(values if decoder is None else list(map(decoder, values)))
    return columns


def _column_in_message(message: str, columns: Sequence[Dict[str, Any]]) -> Optional[str]:
    """Most drivers quote the offending column's name in the message (MySQL, PostgreSQL)."""
    for column in sorted(columns, key=lambda c: -len(c["name"])):
        if re.search(rf"[\"'`]{re.escape(column['name'])}[\"'`]", message):
            return str(column["name"])
    return None


def _overlong_text_column(columns: Sequence[Dict[str, Any]], batch: TColumns) -> Optional[str]:
    """Finds a text column whose declared length a value of the failed batch exceeds."""
    for column, values in zip(columns, batch):
        limit = column.get("precision")
        if column.get("data_type") == "text" and limit:
            if any(isinstance(v, str) and len(v) > limit for v in values):
                return str(column["name"])
    return None
