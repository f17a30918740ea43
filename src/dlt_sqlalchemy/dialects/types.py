"""Type mappers of the built-in dialects (each a small variation on the generic mapper)."""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema
from sqlalchemy.dialects import mysql, postgresql

from dlt_sqlalchemy.type_mapper import SqlalchemyTypeMapper, TSaType, UtcDateTime, _is_tz_aware


class ExactDecimal(sa.types.TypeDecorator[decimal.Decimal]):
    """A decimal kept as text where the database has no exact numeric type (SQLite).

    SQLite's NUMERIC affinity turns `0.1` into a binary float; text keeps every digit.
    """

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, str):
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        return decimal.Decimal(str(value))


class SqliteTypeMapper(SqlalchemyTypeMapper):
    """SQLite stores timestamps as text: aware values go in as UTC and come back aware."""

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return UtcDateTime() if _is_tz_aware(column) else sa.DateTime()

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return ExactDecimal()

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return ExactDecimal()


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
        return mysql.DOUBLE()


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

