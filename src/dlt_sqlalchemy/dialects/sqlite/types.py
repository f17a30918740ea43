"""Type mappers of the built-in dialects (each a small variation on the generic mapper)."""

from __future__ import annotations

import decimal
from typing import Any, Optional

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema
from sqlalchemy.dialects import mysql, postgresql

from dlt_sqlalchemy.type_mapper import SqlalchemyTypeMapper, TSaType, UtcDateTime, _is_tz_aware


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


class NativeDecimal(sa.Numeric[decimal.Decimal]):
    """NUMERIC for drivers that take and return `Decimal` although the dialect says they cannot.

    duckdb-engine declares no native decimal support, so SQLAlchemy would bind through `float`
    and read through `float` formatting, rounding away digits beyond the 15th; DuckDB's driver
    binds and returns `Decimal` exactly, so both conversions are skipped.
    """

    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> None:
        return None


class SqliteTypeMapper(SqlalchemyTypeMapper):
    """SQLite stores timestamps as text: aware values go in as UTC and come back aware."""

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return UtcDateTime() if _is_tz_aware(column) else sa.DateTime()

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return ExactDecimal(*self.decimal_precision(column))

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return ExactDecimal(*self.capabilities.wei_precision)


class MysqlTypeMapper(SqlalchemyTypeMapper):
    """MySQL / MariaDB: DATETIME(fsp) without time zone, LONGTEXT, bounded key columns."""

    key_text_length = 255  # utf8mb4 index limit is 3072 bytes: 768 characters at most

    def _db_type_from_text_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        type_ = super()._db_type_from_text_type(column, table)
        if isinstance(type_, sa.Text) or (
            isinstance(type_, sa.String) and (type_.length or 0) > 16383
        ):
            return mysql.LONGTEXT()
        return type_

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        inner = mysql.DATETIME(fsp=self.timestamp_precision(column))
        return UtcDateTime(inner) if _is_tz_aware(column) else inner

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return mysql.TIME(fsp=self.timestamp_precision(column))

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        length = column.get("precision")
        return mysql.VARBINARY(length) if length else mysql.LONGBLOB()

    def _db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return mysql.DOUBLE(asdecimal=False)  # MySQL DOUBLE reads as Decimal unless told


class PostgresqlTypeMapper(SqlalchemyTypeMapper):
    """PostgreSQL: TIMESTAMPTZ with precision, JSONB, BYTEA, NUMERIC."""

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.TIMESTAMP(
            timezone=_is_tz_aware(column), precision=self.timestamp_precision(column)
        )

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.TIME(precision=self.timestamp_precision(column))

    def _db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.JSONB(none_as_null=True)

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.BYTEA()


class DuckdbTypeMapper(SqlalchemyTypeMapper):
    """DuckDB: TIMESTAMPTZ (microseconds, no precision argument), JSON, BLOB, DECIMAL up to 38."""

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.LargeBinary()

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = self.decimal_precision(column)
        return NativeDecimal(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = self.capabilities.wei_precision
        return NativeDecimal(precision=precision, scale=scale, asdecimal=True)

