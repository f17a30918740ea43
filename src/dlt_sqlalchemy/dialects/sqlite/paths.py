"""SQLite: `executemany` of ready tuples, converted by Arrow, in the job's one transaction.

SQLite runs in-process and its `executemany` is the bulk path; what made it slow was the Python
work per value before it: SQLAlchemy's bind processors format every timestamp, date and decimal
in Python. Here Arrow's casts produce those same texts (`2024-05-06 05:08:09.123456`, positional
decimals as `ExactDecimal` stores them), whole columns at a time, and the rows are zipped straight
into the driver, never held as a list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

import sqlalchemy as sa
from dlt.common import logger
from sqlalchemy.sql.sqltypes import _Binary

from dlt_sqlalchemy.load.arrow_values import decimal_text
from dlt_sqlalchemy.load.bulk import PYARROW_HINT, arrow_batches, has_pyarrow, prefetching
from dlt_sqlalchemy.load.bulk import driver_connection as _driver
from dlt_sqlalchemy.load.inserts import compile_positional_insert
from dlt_sqlalchemy.load.path import BatchFailed, LoadPath, LoadRequest

if TYPE_CHECKING:
    import pyarrow as pa

TColumnConverter = Callable[["pa.Array"], List[Any]]


class SqliteTuplesPath(LoadPath):
    """Arrow-converted tuples through `sqlite3`'s `executemany`."""

    name = "tuples"
    file_formats = ("typed-jsonl", "parquet")

    def is_available(self, request: LoadRequest) -> bool:
        return self.unavailable_reason(request) is None

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
    from dlt_sqlalchemy.dialects.sqlite.types import ExactDecimal
    from dlt_sqlalchemy.dialects.type_mapper import UtcDateTime

    dialect = request.connection.dialect
    converters: List[TColumnConverter] = []
    for column, dlt_column in zip(request.table.columns, request.columns):
        impl = column.type.dialect_impl(dialect)
        data_type = dlt_column.get("data_type")
        converter = _BY_DATA_TYPE.get(str(data_type))
        if converter is None:
            return None
        if isinstance(impl, sa.types.TypeDecorator):
            if not isinstance(impl, (UtcDateTime, ExactDecimal)):
                return None
        elif isinstance(impl, sa.types.UserDefinedType) or not _native_for(data_type, impl):
            return None
        converters.append(converter)
    return converters


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


def _plain(array: pa.Array) -> List[Any]:
    return array.to_pylist()  # type: ignore[no-any-return]


def _text(array: pa.Array) -> List[Any]:
    """Timestamps, dates and times in SQLAlchemy's SQLite storage format (microseconds always
    written), aware timestamps as naive UTC."""
    import pyarrow as pa

    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        array = array.cast(pa.timestamp(array.type.unit))
    return array.cast(pa.string()).to_pylist()  # type: ignore[no-any-return]


def _decimal(array: pa.Array) -> List[Any]:
    return decimal_text(array).to_pylist()  # type: ignore[no-any-return]


_BY_DATA_TYPE: Dict[str, TColumnConverter] = {
    "text": _plain,
    "json": _plain,
    "bigint": _plain,
    "double": _plain,
    "bool": _plain,
    "binary": _plain,
    "timestamp": _text,
    "date": _text,
    "time": _text,
    "decimal": _decimal,
    "wei": _decimal,
}
