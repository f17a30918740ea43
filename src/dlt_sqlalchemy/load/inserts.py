"""Batched INSERTs through the driver's `executemany`, with no per-row SQLAlchemy work.

SQLAlchemy compiles the statement once; its bind processors are applied column by column
(`map` over a column's values, not a Python loop per row); rows reach the driver as tuples.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.json import json

# drivers whose DBAPI takes `%s` though SQLAlchemy addresses them with `%(name)s`
_POSITIONAL_ALTERNATIVE = {"pyformat": "format", "named": "numeric"}

TProcessor = Optional[Callable[[Any], Any]]

BIND_ERRORS = (ValueError, TypeError, ArithmeticError)
"""What a bind processor (a dialect's or a user's `TypeDecorator`) or a driver's own conversion
raises for a value it cannot send: `OverflowError` and `decimal.InvalidOperation` are
`ArithmeticError`s. No retry can change the value, so such a failure is terminal."""


class BindRefused(Exception):
    """A bind processor refused a value of `column`: raised before the driver saw the batch, so
    the column is known for sure."""

    def __init__(self, column: str, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.column = column
        self.cause = cause


class BatchInserter:
    """Inserts column-major batches of values into one table.

    dlt `json` columns arrive as Python objects or, with `json_is_text`, as JSON text (parquet).
    A native JSON or string column gets JSON text exactly once (serialized by us, with dlt's
    encoder that knows dates and decimals); a `TypeDecorator` a mapper chose (like the spec's
    `JSONString`) gets Python objects and serializes them itself.
    """

    def __init__(
        self,
        connection: sa.Connection,
        table: sa.Table,
        json_columns: Sequence[str] = (),
        json_is_text: bool = False,
        prepare_cursor: Optional[Callable[[Any], None]] = None,
    ) -> None:
        self.connection = connection
        self.prepare_cursor = prepare_cursor
        self.table = table
        dialect = connection.dialect
        self.sql = compile_positional_insert(table, dialect)
        self.processors: List[TProcessor] = []
        self.names = [column.name for column in table.columns]
        for column in table.columns:
            processor: TProcessor = column.type.dialect_impl(dialect).bind_processor(dialect)
            if column.name in json_columns:
                processor = _json_processor(column.type, processor, json_is_text)
            self.processors.append(_passing_nulls(processor))

    @property
    def column_count(self) -> int:
        return len(self.processors)

    def insert(self, columns: Sequence[List[Any]]) -> int:
        """Inserts one batch given as a list of values per table column; returns the row count."""
        converted = [
            self._converted(name, processor, values)
            for name, processor, values in zip(self.names, self.processors, columns)
        ]
        rows = list(zip(*converted))
        if not rows:
            return 0
        cursor = self.connection.connection.cursor()
        if self.prepare_cursor is not None:
            self.prepare_cursor(cursor)
        try:
            cursor.executemany(self.sql, rows)
        finally:
            cursor.close()
        return len(rows)

    @staticmethod
    def _converted(name: str, processor: TProcessor, values: List[Any]) -> List[Any]:
        if processor is None:
            return values
        try:
            return list(map(processor, values))
        except BIND_ERRORS as ex:  # one try per column and batch, none per value
            raise BindRefused(name, ex) from ex


def compile_positional_insert(table: sa.Table, dialect: sa.engine.interfaces.Dialect) -> str:
    """`INSERT INTO table (all columns) VALUES (...)`, positional placeholders in column order."""
    if not dialect.positional:
        alternative = _POSITIONAL_ALTERNATIVE.get(dialect.paramstyle)
        if alternative is None:
            raise NotImplementedError(f"no positional paramstyle for `{dialect.paramstyle}`")
        dialect = copy.copy(dialect)
        dialect.paramstyle = alternative
        dialect.positional = True
    compiled = sa.insert(table).compile(dialect=dialect)
    expected = [column.key for column in table.columns]
    assert list(compiled.positiontup or []) == expected, "placeholders follow the column order"
    return str(compiled)


def _json_processor(
    type_: sa.types.TypeEngine[Any], processor: TProcessor, json_is_text: bool
) -> TProcessor:
    if isinstance(type_, sa.types.TypeDecorator):  # a user type serializes objects itself
        if not json_is_text:
            return processor
        if processor is None:
            return _from_json_text
        bound = processor
        return lambda value: bound(_from_json_text(value))
    # native JSON, or a plain string type a mapper chose for JSON: JSON text, serialized once
    return None if json_is_text else _to_json_text


def _to_json_text(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(value)


def _from_json_text(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _passing_nulls(processor: TProcessor) -> TProcessor:
    """`processor`, or a wrapper sending NULL past it where it cannot take None itself
    (sqlalchemy-firebird's BLOB processor raises TypeError): decided once per column, so the
    processors that handle None, nearly all, still run through `map` with no check per value."""
    if processor is None:
        return None
    try:
        processor(None)
        return processor
    except BIND_ERRORS:
        inner = processor
        return lambda value: None if value is None else inner(value)
