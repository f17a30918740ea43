"""Oracle type mapping, and values that survive python-oracledb's default binding.

Rows are inserted through the driver's `executemany` without `setinputsizes`, so
python-oracledb picks a bind type from each Python value: a `datetime` goes as DATE (the
fraction of a second and any time zone are dropped) and a `float` as NUMBER (which overflows
above 1e126 and has no infinity or NaN). The types below therefore hand the driver values it
binds exactly (text, raw bytes, `timedelta`, `Decimal`, `int`) and convert them in SQL
(`bind_expression`), with explicit format models so the session's NLS settings play no part.

Oracle has no TIME type: a `time` is an `INTERVAL DAY(0) TO SECOND(p)`, the time since midnight.
Day precision 0 makes the database refuse a day or more, intervals compare and sort like times,
and the driver binds and returns `timedelta` natively; text would not refuse "25:00".

Unbounded text is CLOB, which Oracle cannot compare with `=`, join on or sort. Columns that
dlt compares (keys, and the bookkeeping columns it looks rows up by) are VARCHAR2 instead.
"""

from __future__ import annotations

import datetime
import decimal
import re
import struct
from typing import Any, Callable, Dict, Optional

import sqlalchemy as sa
from dlt.common.schema.typing import (
    LOADS_TABLE_NAME,
    PIPELINE_STATE_TABLE_NAME,
    VERSION_TABLE_NAME,
    TColumnSchema,
    TColumnType,
)
from sqlalchemy.dialects import oracle

from dlt_sqlalchemy.dialects.shared_types import (
    JsonText,
    checked_decimal,
    checked_fraction,
    checked_wei,
)
from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TSaType, _is_tz_aware

UTC = datetime.timezone.utc

MAX_DECIMAL_PRECISION = 38
MAX_FRACTION_DIGITS = 9
MAX_VARCHAR2_LENGTH = 4000  # bytes, with the default MAX_STRING_SIZE = STANDARD
MAX_RAW_LENGTH = 2000
KEY_TEXT_LENGTH = 1000
"""At most 4000 bytes in AL32UTF8: a VARCHAR2 under either MAX_STRING_SIZE setting, and short
enough for a one-column index key (about 6400 bytes with 8 KB blocks)."""

KEY_HINTS = ("unique", "primary_key", "merge_key", "row_key", "parent_key", "root_key")
"""Hints of columns that dlt's merge and replace SQL compares, joins or looks up."""

COMPARED_BOOKKEEPING_COLUMNS = {
    (VERSION_TABLE_NAME, "schema_name"),
    (VERSION_TABLE_NAME, "version_hash"),
    (LOADS_TABLE_NAME, "schema_name"),
    (LOADS_TABLE_NAME, "schema_version_hash"),
    (PIPELINE_STATE_TABLE_NAME, "pipeline_name"),
    (PIPELINE_STATE_TABLE_NAME, "version_hash"),
}
"""Unbounded text columns of dlt's own tables that appear in WHERE clauses (the stored schema
and state documents, which can be large, stay CLOB)."""

_TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF6"
_TIMESTAMP_TZ_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM"


class OracleColumnType(sa.types.UserDefinedType[Any]):
    """A storage type rendered exactly as given, e.g. `TIMESTAMP(6) WITH TIME ZONE`.

    SQLAlchemy's Oracle types render no timestamp precision, and its NUMBER converts bound
    integers to float; a plain spec with no conversions of its own leaves both to us.
    """

    cache_ok = True

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def get_col_spec(self, **kw: Any) -> str:
        return self.spec


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _format_model(model: str) -> sa.ColumnElement[Any]:
    # a constant of ours, rendered inline: a bound parameter would add a placeholder to every
    # INSERT and break the one-placeholder-per-column layout of batched inserts
    return sa.literal_column(_sql_string(model))


class OracleTimestamp(sa.types.TypeDecorator[datetime.datetime]):
    """TIMESTAMP(p) [WITH TIME ZONE], bound as text and converted by TO_TIMESTAMP[_TZ].

    Aware values are stored at offset +00:00, so a plain SELECT (which python-oracledb returns
    as the naive wall time at the stored offset) reads UTC, and is returned aware.
    """

    impl = OracleColumnType
    cache_ok = True

    def __init__(self, precision: int = 6, timezone: bool = True) -> None:
        spec = f"TIMESTAMP({precision})" + (" WITH TIME ZONE" if timezone else "")
        super().__init__(spec)
        self.precision = precision
        self.timezone = timezone

    @property
    def python_type(self) -> type:
        return datetime.datetime

    def _text(self, value: Any) -> Optional[str]:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        if not isinstance(value, datetime.datetime):  # a date: midnight
            value = datetime.datetime(value.year, value.month, value.day)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        # explicit fields: strftime does not zero-pad years below 1000 on every platform
        text = (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
        return f"{text} +00:00" if self.timezone else text

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Optional[str]:
        return self._text(value)

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        text = self._text(value)
        return "NULL" if text is None else _sql_string(text)

    def bind_expression(self, bindvalue: Any) -> Any:
        if self.timezone:
            return sa.func.TO_TIMESTAMP_TZ(bindvalue, _format_model(_TIMESTAMP_TZ_FORMAT))
        return sa.func.TO_TIMESTAMP(bindvalue, _format_model(_TIMESTAMP_FORMAT))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        if not isinstance(value, datetime.datetime):
            return value
        if self.timezone:
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value


class OracleTime(sa.types.TypeDecorator[datetime.time]):
    """A time of day as `INTERVAL DAY(0) TO SECOND(p)` since midnight (Oracle has no TIME)."""

    impl = OracleColumnType
    cache_ok = True

    def __init__(self, precision: int = 6) -> None:
        super().__init__(f"INTERVAL DAY(0) TO SECOND({precision})")
        self.precision = precision

    @property
    def python_type(self) -> type:
        return datetime.time

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str):
            value = datetime.time.fromisoformat(value)
        if isinstance(value, datetime.time):
            return datetime.timedelta(
                hours=value.hour,
                minutes=value.minute,
                seconds=value.second,
                microseconds=value.microsecond,
            )
        return value

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        delta = self.process_bind_param(value, dialect)
        if delta is None:
            return "NULL"
        seconds, micro = divmod(delta // datetime.timedelta(microseconds=1), 1_000_000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return (
            f"INTERVAL '0 {hour:02d}:{minute:02d}:{second:02d}.{micro:06d}'"
            f" DAY(0) TO SECOND({self.precision})"
        )

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, datetime.timedelta):
            return (datetime.datetime.min + value).time()
        if isinstance(value, str):
            return datetime.time.fromisoformat(value)
        return value


class OracleDouble(sa.types.TypeDecorator[float]):
    """BINARY_DOUBLE, bound as its 8 IEEE 754 bytes and cast back with UTL_RAW.

    Exact for every double, infinities and NaN included, and independent of the session's
    decimal separator (which TO_BINARY_DOUBLE of a text would depend on).
    """

    impl = OracleColumnType
    cache_ok = True

    def __init__(self) -> None:
        super().__init__("BINARY_DOUBLE")

    @property
    def python_type(self) -> type:
        return float

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Optional[bytes]:
        if value is None:
            return None
        return struct.pack(">d", float(value))

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        raw = self.process_bind_param(value, dialect)
        return "NULL" if raw is None else f"HEXTORAW('{raw.hex().upper()}')"

    def bind_expression(self, bindvalue: Any) -> Any:
        return sa.func.UTL_RAW.CAST_TO_BINARY_DOUBLE(bindvalue)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, float):
            return value
        return float(value)


class OracleInteger(sa.types.TypeDecorator[int]):
    """NUMBER(19), NUMBER(10) or NUMBER(5): the digits of a 64, 32 or 16-bit integer."""

    impl = OracleColumnType
    cache_ok = True

    def __init__(self, digits: int = 19) -> None:
        super().__init__(f"NUMBER({digits})")
        self.digits = digits

    @property
    def python_type(self) -> type:
        return int

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return value if value is None or isinstance(value, int) else int(value)

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        return "NULL" if value is None else str(int(value))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return value if value is None or isinstance(value, int) else int(value)


class OracleDecimal(sa.types.TypeDecorator[decimal.Decimal]):
    """NUMBER(p, s), read back as `Decimal` even where the driver returns `int` (scale 0)."""

    impl = OracleColumnType
    cache_ok = True

    def __init__(self, precision: int = 38, scale: int = 9) -> None:
        super().__init__(f"NUMBER({precision}, {scale})")
        self.precision = precision
        self.scale = scale

    @property
    def python_type(self) -> type:
        return decimal.Decimal

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, (decimal.Decimal, int)):
            return value
        return decimal.Decimal(str(value))  # a float through its shortest repr

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        bound = self.process_bind_param(value, dialect)
        return "NULL" if bound is None else format(decimal.Decimal(bound), "f")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        return decimal.Decimal(str(value))


class OracleNumberBoolean(sa.types.TypeDecorator[bool]):
    """NUMBER(1) holding 1 / 0, for servers before 23ai (no BOOLEAN column type).

    python-oracledb binds a Python `bool` as BOOLEAN, which only 23ai's SQL accepts.
    """

    impl = OracleColumnType
    cache_ok = True

    def __init__(self) -> None:
        super().__init__("NUMBER(1)")

    @property
    def python_type(self) -> type:
        return bool

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Optional[int]:
        return None if value is None else int(bool(value))

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        return "NULL" if value is None else str(int(bool(value)))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Optional[bool]:
        return None if value is None else bool(value)


class OracleJson(JsonText):
    """JSON text in a CLOB; the table adds `CHECK (<column> IS JSON)` (see `OracleCapabilities`).

    The check makes the database validate documents and lets the schema reader tell a JSON
    column from text (`ALL_JSON_COLUMNS`), on any release since 12.1.0.2. Oracle 21c's native
    JSON type is left out: python-oracledb returns it as Python objects and binds it through
    its own OSON encoding, a different path for one release line.
    """

    impl = oracle.CLOB
    cache_ok = True


class OracleBinary(sa.types.TypeDecorator[bytes]):
    """RAW(n) up to 2000 bytes, else BLOB; SQL literals are `HEXTORAW('...')`.

    SQLAlchemy renders binary literals as quoted text, which Oracle reads as characters.
    """

    impl = oracle.BLOB
    cache_ok = True

    def __init__(self, length: Optional[int] = None) -> None:
        super().__init__()
        self.length = length

    def load_dialect_impl(self, dialect: sa.Dialect) -> TSaType:
        if self.length is None:
            return dialect.type_descriptor(oracle.BLOB())
        return dialect.type_descriptor(oracle.RAW(self.length))

    def literal_processor(self, dialect: sa.Dialect) -> Callable[[Any], str]:
        return lambda value: f"HEXTORAW('{bytes(value).hex().upper()}')"


def is_json_check(column: sa.ColumnClause[Any]) -> sa.ColumnElement[bool]:
    """`<column> IS JSON` (a postfix condition SQLAlchemy has no construct for)."""
    return sa.sql.elements.UnaryExpression(
        column, modifier=sa.sql.operators.custom_op("IS JSON"), type_=sa.Boolean()
    )


class OracleTypeMapper(SqlalchemyTypeMapper):
    """Oracle 12.2 and later (BOOLEAN on 23ai); every type renders the same unconnected."""

    key_text_length = KEY_TEXT_LENGTH

    def _db_type_from_text_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        length = column.get("precision")
        if length is None and _is_compared(column, table):
            length = self.key_text_length
        if length is None or length > MAX_VARCHAR2_LENGTH:
            return oracle.CLOB()
        return oracle.VARCHAR2(length)  # renders VARCHAR2(n CHAR): characters, not bytes

    def _db_type_from_bigint_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        generic = super()._db_type_from_bigint_type(column, table)  # range checks
        if isinstance(generic, sa.SmallInteger):
            return OracleInteger(5)
        if isinstance(generic, sa.BigInteger):
            return OracleInteger(19)
        return OracleInteger(10)

    def _db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return OracleDouble()

    def _db_type_from_bool_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        # capabilities say what the server has: refined from its version once connected
        if self.capabilities.supports_native_boolean:
            return sa.BOOLEAN()
        return OracleNumberBoolean()

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision = checked_fraction(self, column, table, MAX_FRACTION_DIGITS)
        return OracleTimestamp(precision, timezone=_is_tz_aware(column))

    def _db_type_from_date_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.DATE()

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return OracleTime(checked_fraction(self, column, table, MAX_FRACTION_DIGITS))

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return OracleDecimal(*checked_decimal(self, column, table, MAX_DECIMAL_PRECISION))

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return OracleDecimal(*checked_wei(self, MAX_DECIMAL_PRECISION))

    def _db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return OracleJson()

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        length = column.get("precision")
        return OracleBinary(None if length is None or length > MAX_RAW_LENGTH else length)

    # --- database type -> dlt type ------------------------------------------------------------

    def from_destination_type(
        self, db_type: str, precision: Optional[int] = None, scale: Optional[int] = None
    ) -> TColumnType:
        """Maps a type as `ALL_TAB_COLUMNS.DATA_TYPE` spells it (plus its precision and scale).

        Oracle reports `TIMESTAMP(6) WITH TIME ZONE`, `INTERVAL DAY(0) TO SECOND(6)`, and NUMBER
        with separate precision and scale; SQLAlchemy's type table knows none of these forms.
        """
        name = db_type.strip().upper()
        args = [int(a) for a in re.findall(r"\((\d+)", name)]
        base = re.sub(r"\s*\([^)]*\)", "", name)
        if base == "NUMBER":
            return self._number_type(
                precision if precision is not None else (args[0] if args else None),
                scale if scale is not None else (args[1] if len(args) > 1 else None),
            )
        if base.startswith("TIMESTAMP"):
            timezone = "TIME ZONE" in base  # WITH TIME ZONE and WITH LOCAL TIME ZONE
            return {"data_type": "timestamp", "timezone": timezone}
        if base == "INTERVAL DAY TO SECOND" and args[:1] == [0]:
            return {"data_type": "time"}
        if base in _REVERSE:
            result: Dict[str, Any] = {"data_type": _REVERSE[base]}
            length = precision if precision is not None else (args[0] if args else None)
            if base in _LENGTH_TYPES and length:
                result["precision"] = length
            return result  # type: ignore[return-value]
        return {"data_type": "text"}

    def _number_type(self, precision: Optional[int], scale: Optional[int]) -> TColumnType:
        if scale == 0 or (precision is None and scale is None):
            if precision is None:
                # NUMBER(*, 0): what INTEGER declares; plain NUMBER is any decimal
                return {"data_type": "bigint"} if scale == 0 else {"data_type": "decimal"}
            if precision == 1:
                return {"data_type": "bool"}  # NUMBER(1): booleans before 23ai
            if precision <= 5:
                return {"data_type": "bigint", "precision": 16}
            if precision <= 10:
                return {"data_type": "bigint", "precision": 32}
            if precision <= 19:
                return {"data_type": "bigint"}
        if (precision, scale or 0) == tuple(self.capabilities.wei_precision):
            return {"data_type": "wei"}
        if precision is None:
            return {"data_type": "decimal"}
        return {"data_type": "decimal", "precision": precision, "scale": scale or 0}


_REVERSE = {
    "VARCHAR2": "text",
    "NVARCHAR2": "text",
    "VARCHAR": "text",
    "CHAR": "text",
    "NCHAR": "text",
    "CLOB": "text",
    "NCLOB": "text",
    "LONG": "text",
    "BLOB": "binary",
    "RAW": "binary",
    "LONG RAW": "binary",
    "BINARY_DOUBLE": "double",
    "BINARY_FLOAT": "double",
    "FLOAT": "double",
    "DATE": "date",
    "BOOLEAN": "bool",
    "JSON": "json",
}
_LENGTH_TYPES = {"VARCHAR2", "NVARCHAR2", "VARCHAR", "CHAR", "NCHAR", "RAW"}


def _is_compared(column: TColumnSchema, table: Any) -> bool:
    if any(column.get(hint) for hint in KEY_HINTS):
        return True
    table_name = str(table["name"]).lower() if table else ""
    return (table_name, str(column.get("name", "")).lower()) in COMPARED_BOOKKEEPING_COLUMNS
