"""SQL Server type mapping: modern types only, whatever server version the dialect assumes.

SQLAlchemy picks between legacy and modern SQL Server types by the server version it learns on
connecting; a dialect that has not connected assumes a server older than 2008, so its generic
`Text`, `LargeBinary`, `Date` and `Time` render as NTEXT, IMAGE and DATETIME. The job client
compiles ALTER statements with exactly such an unconnected dialect. Every type here is therefore
SQL Server's own upper-case type (NVARCHAR, VARBINARY, DATETIME2, DATE...), which renders the
same on any dialect object, and which SQL Server 2008 and later all have.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema
from sqlalchemy.dialects import mssql

from dlt_sqlalchemy.dialects.shared_types import (
    PlainDecimal,
    checked_decimal,
    checked_fraction,
    checked_wei,
)
from dlt_sqlalchemy.dialects.type_mapper import (
    SqlalchemyTypeMapper,
    TSaType,
    _is_key_column,
    _is_tz_aware,
)

MAX_DECIMAL_PRECISION = 38
MAX_FRACTION_DIGITS = 7  # DATETIME2(7), DATETIMEOFFSET(7), TIME(7): 100 ns
MAX_NVARCHAR_LENGTH = 4000  # longer bounded text is NVARCHAR(max)
MAX_VARBINARY_LENGTH = 8000
KEY_TEXT_LENGTH = 450
"""900 bytes of UTF-16: the most a clustered index (a primary key's) takes in one column.
NVARCHAR(max) cannot be a key or index column at all."""


class MssqlBinary(sa.types.TypeDecorator[bytes]):
    """VARBINARY(n | max) whose SQL literals are `0x...` hex.

    SQLAlchemy renders binary literals as quoted text, which SQL Server does not convert to
    VARBINARY. Binding is left to the dialect's own VARBINARY, which binds NULL as a binary NULL
    (a plain NULL would be VARCHAR, which SQL Server refuses to convert implicitly).
    """

    impl = mssql.VARBINARY
    cache_ok = True

    def __init__(self, length: Optional[int] = None) -> None:
        super().__init__(length)

    def literal_processor(self, dialect: sa.Dialect) -> Callable[[Any], str]:
        return lambda value: "0x" + bytes(value).hex().upper()


class MssqlTypeMapper(SqlalchemyTypeMapper):
    """SQL Server 2012 and later: NVARCHAR, VARBINARY, DATETIMEOFFSET / DATETIME2, BIT."""

    key_text_length = KEY_TEXT_LENGTH

    def _db_type_from_text_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        # N-types: SQL Server's VARCHAR is in the database's code page, not Unicode
        length = column.get("precision")
        if length is None and _is_key_column(column):
            length = self.key_text_length
        if length is None or length > MAX_NVARCHAR_LENGTH:
            return mssql.NVARCHAR()  # renders NVARCHAR(max)
        return mssql.NVARCHAR(length)

    def _db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return mssql.FLOAT(precision=53)

    def _db_type_from_bool_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return mssql.BIT()

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision = checked_fraction(self, column, table, MAX_FRACTION_DIGITS)
        if _is_tz_aware(column):
            # the dialect's pyodbc variant binds aware values as text with their offset, which
            # the driver would otherwise drop
            return mssql.DATETIMEOFFSET(precision=precision)
        return mssql.DATETIME2(precision=precision)

    def _db_type_from_date_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.DATE()

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return mssql.TIME(precision=checked_fraction(self, column, table, MAX_FRACTION_DIGITS))

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = checked_decimal(self, column, table, MAX_DECIMAL_PRECISION)
        return PlainDecimal(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = checked_wei(self, MAX_DECIMAL_PRECISION)
        return PlainDecimal(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        # renders NVARCHAR(max): the JSON type of SQL Server 2025 is too new to assume
        return mssql.JSON(none_as_null=True)

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        length = column.get("precision")
        if length is None or length > MAX_VARBINARY_LENGTH:
            return MssqlBinary()  # renders VARBINARY(max)
        return MssqlBinary(length)
