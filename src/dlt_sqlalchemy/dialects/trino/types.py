"""Trino type mapping: millisecond timestamps, JSON and binary kept as VARCHAR.

Trino's own JSON and VARBINARY column types are left alone: its SQLAlchemy dialect has had
conversion problems with both, and connectors differ in which of them they can store. Both are
stored as VARCHAR and converted in Python instead: JSON as its text, binary as base64 (a third
larger than the bytes, where hex would double them). Trino's `json_parse()` and `from_base64()`
turn them back in SQL.
"""

from __future__ import annotations

import base64
import datetime
import math
from typing import Any, Callable, Optional

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema

from dlt_sqlalchemy.dialects.shared_types import (
    JsonText,
    PlainDecimal,
    checked_decimal,
    checked_fraction,
    checked_wei,
)
from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TSaType, _is_tz_aware

MAX_DECIMAL_PRECISION = 38
MAX_FRACTION_DIGITS = 3
"""The default: what Hive and Delta Lake catalogs store. Iceberg stores 6: raise both
`timestamp_precision` and `max_timestamp_precision` in the capabilities for such catalogs."""
TRINO_MAX_FRACTION_DIGITS = 12


class TrinoTimestamp(sa.types.TIMESTAMP):
    """TIMESTAMP(p) [WITH TIME ZONE]: Trino's compiler renders the `precision` attribute.

    Ours rather than `trino.sqlalchemy.datatype`'s, so that this module (and the type tables
    built from it) import without the Trino client installed.
    """

    def __init__(self, precision: Optional[int] = None, timezone: bool = False) -> None:
        super().__init__(timezone=timezone)
        self.precision = precision

    def literal_processor(self, dialect: sa.Dialect) -> Callable[[Any], str]:
        # a typed literal: Trino compares no timestamp with a plain string
        def process(value: Any) -> str:
            text = (
                f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:"
                f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
            )
            if value.tzinfo is not None:
                offset = value.utcoffset() or datetime.timedelta(0)
                sign = "-" if offset < datetime.timedelta(0) else "+"
                minutes = abs(offset) // datetime.timedelta(minutes=1)
                text += f" {sign}{minutes // 60:02d}:{minutes % 60:02d}"
            return f"TIMESTAMP '{text}'"

        return process


class TrinoTime(sa.types.TIME):
    """TIME(p), rendered by Trino's compiler from `precision` like the timestamp."""

    def __init__(self, precision: Optional[int] = None) -> None:
        super().__init__()
        self.precision = precision

    def literal_processor(self, dialect: sa.Dialect) -> Callable[[Any], str]:
        def process(value: Any) -> str:
            clock = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
            return f"TIME '{clock}.{value.microsecond:06d}'"

        return process


class TrinoDate(sa.types.DATE):
    """DATE whose literals are typed (`DATE '2024-02-29'`), as Trino needs to compare them."""

    def literal_processor(self, dialect: sa.Dialect) -> Callable[[Any], str]:
        def process(value: Any) -> str:
            return f"DATE '{value.year:04d}-{value.month:02d}-{value.day:02d}'"

        return process


class TrinoJsonText(JsonText):
    """A JSON document as VARCHAR: serialized on the way in, parsed on the way out."""

    impl = sa.String
    cache_ok = True


class TrinoBase64Binary(sa.types.TypeDecorator[bytes]):
    """Bytes as base64 text in a VARCHAR (n bytes need 4 * ceil(n / 3) characters)."""

    impl = sa.String
    cache_ok = True

    def __init__(self, length: Optional[int] = None) -> None:
        super().__init__(length=None if length is None else 4 * math.ceil(length / 3))
        self.length = length

    @property
    def python_type(self) -> type:
        return bytes

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Optional[str]:
        if value is None or isinstance(value, str):
            return value  # text is taken as already encoded
        return base64.b64encode(bytes(value)).decode("ascii")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Optional[bytes]:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value  # type: ignore[no-any-return]


class TrinoTypeMapper(SqlalchemyTypeMapper):
    """Trino: VARCHAR, BIGINT / INTEGER / SMALLINT, DOUBLE, TIMESTAMP(3) [WITH TIME ZONE]."""

    def _db_type_from_text_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        # no indexes, so key columns need no bound; unbounded VARCHAR is Trino's string type
        return sa.String(length=column.get("precision"))

    def _db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.Double()

    def _db_type_from_bool_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.BOOLEAN()

    def _fraction_digits(self, column: TColumnSchema, table: Any) -> int:
        # the capability, not a constant: the connector decides, and users may raise it
        limit = min(self.capabilities.max_timestamp_precision, TRINO_MAX_FRACTION_DIGITS)
        return checked_fraction(self, column, table, limit)

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision = self._fraction_digits(column, table)
        return TrinoTimestamp(precision=precision, timezone=_is_tz_aware(column))

    def _db_type_from_date_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return TrinoDate()

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision = self._fraction_digits(column, table)
        return TrinoTime(precision=precision)

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = checked_decimal(self, column, table, MAX_DECIMAL_PRECISION)
        return PlainDecimal(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = checked_wei(self, MAX_DECIMAL_PRECISION)
        return PlainDecimal(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return TrinoJsonText()

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return TrinoBase64Binary(column.get("precision"))
