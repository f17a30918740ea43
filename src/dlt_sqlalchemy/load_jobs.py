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
from dlt.destinations.exceptions import DatabaseTerminalException

from dlt_sqlalchemy.capabilities import DEFAULT_BATCH_ROWS
from dlt_sqlalchemy.errors import column_of, driver_message, is_value_error
from dlt_sqlalchemy.exceptions import ValueNotStorable
from dlt_sqlalchemy.inserts import BatchInserter

if TYPE_CHECKING:
    from dlt_sqlalchemy.job_client import SqlalchemyJobClient

TColumns = List[List[Any]]
TDecoder = Optional[Callable[[Any], Any]]

# dlt types that typed-jsonl carries as PUA-tagged strings
_PUA_TYPES = frozenset({"timestamp", "date", "time", "decimal", "wei", "binary"})


def _json_value(value: Any) -> Any:
    """A `json` column's value with dlt's typed markers (dates, decimals) decoded inside it."""
    return None if value is None else custom_pua_decode_nested(value)


class InsertLoadJob(RunnableLoadJob, HasFollowupJobs):
    """Inserts the rows of one file into the job's table (the staging dataset where dlt says)."""

    json_is_text = False
    """The reader hands `json` columns over as JSON text rather than Python objects."""

    _job_client: SqlalchemyJobClient

    def run(self) -> None:
        client = self._job_client
        sql_client = client.sql_client
        table = client.sa_table(self.load_table_name)
        batch_rows = client.capabilities.max_rows_per_insert or DEFAULT_BATCH_ROWS
        # dlt columns in the order of the table's columns (an `adapt_table` hook may reorder them)
        columns: List[Dict[str, Any]] = table.info["dlt_columns"]
        json_columns = [
            c.name for c, d in zip(table.columns, columns) if d.get("data_type") == "json"
        ]
        with sql_client.begin_transaction():
            inserter = BatchInserter(
                sql_client.native_connection, table, json_columns, self.json_is_text
            )
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
        """Names the table, and the column where we can find it, of a value that does not fit.

        Only errors caused by the data become `ValueNotStorable`: a terminal error of the
        statement itself (no INSERT permission, a column missing in the database) keeps dlt's
        plain terminal type, so that it is not blamed on a value.
        """
        sql_client = self._job_client.sql_client
        translated = sql_client._translated(ex)
        if not isinstance(translated, DatabaseTerminalException) or not is_value_error(ex):
            return translated
        reason = sql_client._scrub(driver_message(ex))
        column = (
            _known_column(column_of(ex), columns)
            or _column_in_message(reason, self.load_table_name, columns)
            or _overlong_text_column(table, columns, batch)
            or _out_of_range_column(table, columns, batch)
        )
        return ValueNotStorable(self.load_table_name, column, reason, translated.dbapi_exception)


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

    json_is_text = True  # dlt writes `json` columns to parquet as JSON strings

    def read_batches(
        self, columns: Sequence[Dict[str, Any]], batch_rows: int
    ) -> Iterator[TColumns]:
        import pyarrow.parquet as pq
        from dlt.common.libs.pyarrow import pyarrow  # noqa: F401 - clear error without pyarrow

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
        return _json_value
    return None


def _columns_of(
    rows: Sequence[Dict[str, Any]], names: Sequence[str], decoders: Sequence[TDecoder]
) -> TColumns:
    columns: TColumns = []
    for name, decoder in zip(names, decoders):
        values = [row.get(name) for row in rows]
        columns.append(values if decoder is None else list(map(decoder, values)))
    return columns


def _known_column(name: Optional[str], columns: Sequence[Dict[str, Any]]) -> Optional[str]:
    """`name` as the schema spells it, if it is one of the loaded columns (case-folded or not)."""
    if name:
        for column in columns:
            if str(column["name"]).lower() == name.lower():
                return str(column["name"])
    return None


def _column_in_message(
    message: str, table_name: str, columns: Sequence[Dict[str, Any]]
) -> Optional[str]:
    """Most drivers name the offending column: quoted (MySQL, PostgreSQL) or as `table.column`
    (SQLite, DuckDB). Longest names first, so `id` does not claim a message about `game_id`."""
    for column in sorted(columns, key=lambda c: -len(c["name"])):
        name = re.escape(column["name"])
        quoted = rf"[\"'`]{name}[\"'`]"
        qualified = rf"(?<![\w$]){re.escape(table_name)}\.{name}(?![\w$])"
        if re.search(f"{quoted}|{qualified}", message, re.IGNORECASE):
            return str(column["name"])
    return None


def _overlong_text_column(
    table: sa.Table, columns: Sequence[Dict[str, Any]], batch: TColumns
) -> Optional[str]:
    """Finds a text or binary column whose declared length a value of the failed batch exceeds.

    PostgreSQL's "value too long for type character varying(5)" names no column; the table we
    created knows every length.
    """
    for sa_column, column, values in zip(table.columns, columns, batch, strict=False):
        limit = getattr(sa_column.type, "length", None) or column.get("precision")
        if column.get("data_type") not in ("text", "binary") or not limit:
            continue
        if any(isinstance(v, (str, bytes)) and len(v) > limit for v in values):
            return str(column["name"])
    return None


# bits of the integer types SQLAlchemy can give a column, by the type's visit name
_INTEGER_BITS = {
    "TINYINT": 8,
    "small_integer": 16,
    "SMALLINT": 16,
    "MEDIUMINT": 24,
    "integer": 32,
    "INTEGER": 32,
    "INT": 32,
    "big_integer": 64,
    "BIGINT": 64,
}


def _out_of_range_column(
    table: sa.Table, columns: Sequence[Dict[str, Any]], batch: TColumns
) -> Optional[str]:
    """Finds an integer or decimal column that a value of the failed batch overflows.

    PostgreSQL's "smallint out of range" and "numeric field overflow" name no column.
    """
    for sa_column, column, values in zip(table.columns, columns, batch, strict=False):
        data_type = column.get("data_type")
        if data_type == "bigint":
            bits = column.get("precision") or _INTEGER_BITS.get(sa_column.type.__visit_name__)
            if bits and any(
                isinstance(v, int) and not -(2 ** (bits - 1)) <= v < 2 ** (bits - 1) for v in values
            ):
                return str(column["name"])
        elif data_type in ("decimal", "wei"):
            precision = getattr(sa_column.type, "precision", None)
            scale = getattr(sa_column.type, "scale", None) or 0
            if precision and any(_too_many_digits(v, precision - scale) for v in values):
                return str(column["name"])
    return None


def _too_many_digits(value: Any, integer_digits: int) -> bool:
    if value is None or isinstance(value, bool):
        return False
    try:
        return bool(abs(value) >= 10**integer_digits)
    except TypeError:  # a text-encoded decimal: not ours to judge
        return False
