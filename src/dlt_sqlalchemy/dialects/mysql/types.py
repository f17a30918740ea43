"""MySQL's and MariaDB's type mapper."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema
from sqlalchemy.dialects import mysql

from dlt_sqlalchemy.dialects.type_mapper import (
    SqlalchemyTypeMapper,
    TSaType,
    UtcDateTime,
    _is_tz_aware,
)


class MysqlTypeMapper(SqlalchemyTypeMapper):
    """MySQL / MariaDB: DATETIME(fsp) without time zone, LONGTEXT, bounded key columns."""

    key_text_length = 191
    """191 utf8mb4 characters are 764 bytes: indexable under every row format (767 bytes in
    COMPACT), and within the 1000 bytes up to which MariaDB indexes the derived tables that
    merges join on (`keys_through_derived_tables`); longer keys take an explicit precision."""

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
