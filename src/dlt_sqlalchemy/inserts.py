"""Batched INSERTs through the driver's `executemany`, with no per-row SQLAlchemy work.

SQLAlchemy compiles the statement once; its bind processors are applied column by column
(`map` over a column's values, not a Python loop per row); rows reach the driver as tuples.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, List, Optional, Sequence

import sqlalchemy as sa

# drivers whose DBAPI takes `%s` though SQLAlchemy addresses them with `%(name)s`
_POSITIONAL_ALTERNATIVE = {"pyformat": "format", "named": "numeric"}

TProcessor = Optional[Callable[[Any], Any]]


class BatchInserter:
    """Inserts column-major batches of values into one table.

    JSON columns take JSON text: the readers serialize (or, for parquet, already have) it, so
    the JSON type's own serializer is skipped rather than applied twice.
    """

    def __init__(self, connection: sa.Connection, table: sa.Table) -> None:
        self.connection = connection
        self.table = table
        dialect = connection.dialect
        self.sql = compile_positional_insert(table, dialect)
        self.processors: List[TProcessor] = [
            None
            if _is_json(column.type)
            else column.type.dialect_impl(dialect).bind_processor(dialect)
            for column in table.columns
        ]

    @property
    def column_count(self) -> int:
        return len(self.processors)

    def insert(self, columns: Sequence[List[Any]]) -> int:
        """Inserts one batch given as a list of values per table column; returns the row count."""
        converted = [
            values if processor is None else list(map(processor, values))
            for processor, values in zip(self.processors, columns)
        ]
        rows = list(zip(*converted))
        if not rows:
            return 0
        cursor = self.connection.connection.cursor()
        try:
            cursor.executemany(self.sql, rows)
        finally:
            cursor.close()
        return len(rows)


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


def _is_json(type_: sa.types.TypeEngine[Any]) -> bool:
    if isinstance(type_, sa.types.TypeDecorator):
        return _is_json(type_.impl_instance)
    return isinstance(type_, sa.JSON)
