"""DuckDB's type mapper: exact decimals bound as `Decimal`, BLOB for binary."""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema

from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TSaType


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
