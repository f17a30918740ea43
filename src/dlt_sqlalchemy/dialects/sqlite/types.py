"""SQLite's type mapper: exact decimals kept as text, aware timestamps stored as UTC text."""

from __future__ import annotations

import decimal
from typing import Any, Optional

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema

from dlt_sqlalchemy.dialects.type_mapper import (
    SqlalchemyTypeMapper,
    TSaType,
    UtcDateTime,
    _is_tz_aware,
)


class DecimalText(sa.types.UserDefinedType[str]):
    """The storage type of `ExactDecimal`: `DECIMAL_TEXT_<p>_<s>`.

    SQLite gives any declared type containing "TEXT" text affinity, so the digits are stored as
    written; the `DECIMAL` prefix and the precision let our schema reader map the column back to
    `decimal` (or `wei`) instead of `text`. No parentheses: SQLAlchemy's own SQLite reflection
    would read `(18, 4)` as a TEXT length and collation and fail to render it (Alembic would).
    """

    cache_ok = True

    def __init__(self, precision: Optional[int] = None, scale: Optional[int] = None) -> None:
        self.precision = precision
        self.scale = scale

    def get_col_spec(self, **kw: Any) -> str:
        if self.precision is None:
            return "DECIMAL_TEXT"
        return f"DECIMAL_TEXT_{self.precision}_{self.scale or 0}"


class ExactDecimal(sa.types.TypeDecorator[decimal.Decimal]):
    """A decimal kept as text where the database has no exact numeric type (SQLite).

    SQLite's NUMERIC affinity turns `0.1` into a binary float; text keeps every digit.
    """

    impl = DecimalText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, decimal.Decimal):
            # through str: a float's shortest repr, not its binary expansion
            value = decimal.Decimal(str(value))
        # positional notation: `1E+2` would read back fine but sorts and compares oddly as text
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        return decimal.Decimal(str(value))


class SqliteTypeMapper(SqlalchemyTypeMapper):
    """SQLite stores timestamps as text: aware values go in as UTC and come back aware."""

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return UtcDateTime() if _is_tz_aware(column) else sa.DateTime()

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return ExactDecimal(*self.decimal_precision(column))

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return ExactDecimal(*self.capabilities.wei_precision)
