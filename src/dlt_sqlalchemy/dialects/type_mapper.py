"""Maps dlt column types to SQLAlchemy types and database types back to dlt types.

The mapper returns SQLAlchemy `TypeEngine` objects rather than DDL strings: the dialect renders
them, and the same objects convert values when rows are bound and read.
Each dlt type has a visitor, `db_type_from_<type>_type(column, table)`, which by default calls
`_db_type_from_<type>_type`; a subclass may override either spelling.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, cast

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema
from dlt.common.exceptions import TerminalValueError
from dlt.common.json import json
from dlt.common.schema.typing import TColumnSchema, TColumnType, TTableSchemaColumns
from dlt.destinations.sql_client import DBApiCursorImpl

from dlt_sqlalchemy.exceptions import UnsupportedColumnType

TSaType = sa.types.TypeEngine[Any]


class UtcDateTime(sa.types.TypeDecorator[datetime.datetime]):
    """A timestamp for databases without a time zone type (SQLite, MySQL DATETIME).

    Aware values are stored as naive UTC and read back as aware UTC, so the instant survives the
    round trip instead of silently losing its offset.
    """

    impl = sa.DateTime
    cache_ok = True

    def __init__(self, inner: Optional[TSaType] = None) -> None:
        super().__init__()
        self.inner = inner if inner is not None else sa.DateTime()

    def load_dialect_impl(self, dialect: sa.Dialect) -> TSaType:
        return dialect.type_descriptor(self.inner)

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value


class JsonText(sa.types.TypeDecorator[Any]):
    """A JSON document kept as text, for databases whose driver has no JSON type of its own:
    serialized on the way in, parsed on the way out. Subclasses may set another `impl`."""

    impl: Any = sa.Text
    cache_ok = True

    @property
    def python_type(self) -> type:
        return object

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Optional[str]:
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str):
            return json.loads(value)
        return value


class SqlalchemyTypeMapper(DataTypeMapper):
    """Generic mapper: SQLAlchemy's portable types, rendered by whatever dialect is in use."""

    key_text_length: Optional[int] = None
    """VARCHAR length for text key columns on databases that cannot index unbounded text."""

    def __init__(
        self,
        capabilities: DestinationCapabilitiesContext,
        dialect: Optional[sa.engine.interfaces.Dialect] = None,
    ) -> None:
        super().__init__(capabilities)
        self.dialect = dialect
        self._renders: Dict[str, bool] = {}

    # --- dlt type -> database type ------------------------------------------------------------

    def to_destination_type(  # type: ignore[override]
        self, column: TColumnSchema, table: Optional[PreparedTableSchema] = None
    ) -> TSaType:
        data_type = column["data_type"]
        visitor: Optional[Callable[..., TSaType]] = getattr(
            self, f"db_type_from_{data_type}_type", None
        )
        if visitor is None:
            raise UnsupportedColumnType(_table_name(table), str(column.get("name")), str(data_type))
        return visitor(column, table)

    def first_renderable(self, column: TColumnSchema, table: Any, *candidates: TSaType) -> TSaType:
        """The first of `candidates` the dialect in use can write in DDL.

        SQLAlchemy's portable types compile on every built-in dialect, but a third-party dialect
        may lack a visitor (JSON, DOUBLE): the DDL would fail with a CompileError in the middle
        of a load. None renders: the column is refused now, by name.
        """
        for candidate in candidates:
            if self.renders(candidate):
                return candidate
        raise UnsupportedColumnType(
            _table_name(table), str(column.get("name")), str(column.get("data_type"))
        )

    def renders(self, sa_type: TSaType) -> bool:
        """Whether the dialect in use can write `sa_type` in DDL (remembered per type)."""
        if self.dialect is None:
            return True
        key = repr(sa_type)
        if key not in self._renders:
            try:
                self.dialect.type_compiler_instance.process(sa_type)
                self._renders[key] = True
            except (sa.exc.CompileError, NotImplementedError):
                self._renders[key] = False
            except Exception:
                # the compiler itself needs what we lack (a server version before the first
                # connection): no verdict, the type stays as the mapper chose it
                return True
        return self._renders[key]

    def keeps_time_zones(self) -> bool:
        """Whether the dialect has a timestamp type that keeps an offset: one that renders
        differently from the naive timestamp. Without one, aware values are stored as UTC."""
        if self.dialect is None:
            return True
        try:
            process = self.dialect.type_compiler_instance.process
            return bool(process(sa.DateTime(timezone=True)) != process(sa.DateTime()))
        except Exception:
            return True  # no verdict (see `renders`): as if it had, the portable type stays

    def db_type_from_text_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_text_type(column, table)

    def db_type_from_bigint_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_bigint_type(column, table)

    def db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_double_type(column, table)

    def db_type_from_bool_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_bool_type(column, table)

    def db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_timestamp_type(column, table)

    def db_type_from_date_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_date_type(column, table)

    def db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_time_type(column, table)

    def db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_decimal_type(column, table)

    def db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_wei_type(column, table)

    def db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_json_type(column, table)

    def db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self._db_type_from_binary_type(column, table)

    def _db_type_from_text_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        length = column.get("precision")
        if length is None and self.key_text_length and _is_key_column(column):
            length = self.key_text_length
        if length is None:
            return sa.Text()
        return sa.String(length=length)

    def _db_type_from_bigint_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision = column.get("precision")
        if precision is None or 32 < precision <= 64:
            return sa.BigInteger()
        if precision <= 16:
            return sa.SmallInteger()
        if precision <= 32:
            return sa.Integer()
        raise TerminalValueError(
            f"Column `{column['name']}` of table `{_table_name(table)}` asks for a {precision}-bit"
            " integer; the largest integer type is 64 bits. Use the `decimal` or `wei` type.",
            "bigint",
        )

    def _db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self.first_renderable(
            column, table, sa.Double(), sa.DOUBLE_PRECISION(), sa.FLOAT(53), sa.Float()
        )

    def _db_type_from_bool_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.Boolean(create_constraint=False)

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        if _is_tz_aware(column) and not self.keeps_time_zones():
            # bound and rendered as naive UTC: a literal with `+00:00` is refused by databases
            # without zones (Firebird 3), and an offset sent to one would be dropped silently
            return UtcDateTime(sa.DateTime())
        return sa.DateTime(timezone=_is_tz_aware(column))

    def _db_type_from_date_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.Date()

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.Time()

    def _db_type_from_decimal_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = self.decimal_precision(column)
        return sa.Numeric(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_wei_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        precision, scale = self.capabilities.wei_precision
        return sa.Numeric(precision=precision, scale=scale, asdecimal=True)

    def _db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        # text where the dialect has no JSON type: serialized on the way in, parsed on the way out
        return self.first_renderable(column, table, sa.JSON(none_as_null=True), JsonText())

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return self.first_renderable(
            column, table, sa.LargeBinary(length=column.get("precision")), sa.BLOB()
        )

    def decimal_precision(self, column: TColumnSchema) -> tuple[int, int]:
        default_precision, default_scale = self.capabilities.decimal_precision
        precision = column.get("precision")
        if precision is None:
            return default_precision, default_scale
        scale = column.get("scale")
        return precision, default_scale if scale is None else scale

    def timestamp_precision(self, column: TColumnSchema) -> int:
        precision = column.get("precision")
        return self.capabilities.timestamp_precision if precision is None else precision

    # --- stored value -> Python value ---------------------------------------------------------

    def result_processor(self, column: TColumnSchema) -> Optional[Callable[[Any], Any]]:
        """Turns a value of `column` as the driver returns it into the value that was loaded.

        Where a database lacks the type, its driver returns the storage form (SQLite: text
        timestamps and decimals, 0/1 booleans; MySQL: 0/1 booleans, `timedelta` times, naive UTC
        timestamps). Reading through the same SQLAlchemy type that wrote the value undoes that, so
        dataset reads agree across backends. None when the driver's value is already right.
        """
        if self.dialect is None or not column.get("data_type"):
            return None
        try:
            sa_type = self.to_destination_type(column, None)
            if _is_users_decorator(sa_type):
                # a user's own mapper chose this type: reads give what the database stores, as
                # dlt's built-in destination does (the spec's `JSONString` reads back as text)
                return None
            processor = sa_type.dialect_impl(self.dialect).result_processor(self.dialect, None)
        except Exception:
            # a type this dialect cannot store, or a processor that needs the driver's type code
            # (PostgreSQL numerics): that driver returns proper Python values anyway
            return None
        return None if processor is None else _lenient(processor)

    def row_processor(
        self, names: Sequence[str], columns: Mapping[str, TColumnSchema]
    ) -> Optional[Callable[[Sequence[Any]], Tuple[Any, ...]]]:
        """Converts whole result rows whose columns are `names`, typed by `columns` (by name)."""
        processors = [
            self.result_processor(columns[name]) if name in columns else None for name in names
        ]
        if not any(processors):
            return None

        def process(row: Sequence[Any]) -> Tuple[Any, ...]:
            return tuple(
                value if p is None or value is None else p(value)
                for p, value in zip(processors, row)
            )

        return process

    # --- database type -> dlt type ------------------------------------------------------------

    def from_destination_type(
        self, db_type: str, precision: Optional[int] = None, scale: Optional[int] = None
    ) -> TColumnType:
        """Maps a type name as the database reports it (`information_schema`, pragma)."""
        return self.from_sa_type(self._parse_db_type(db_type, precision, scale))

    def from_sa_type(self, sa_type: TSaType) -> TColumnType:
        """Maps a SQLAlchemy type (reflected or parsed) to a dlt column type."""
        if isinstance(sa_type, sa.types.TypeDecorator):
            sa_type = sa_type.impl_instance
        for sa_class, mapper in _REVERSE:
            if isinstance(sa_type, sa_class):
                return mapper(self, sa_type)
        return {"data_type": "text"}

    def stored_sa_type(
        self, db_type: str, precision: Optional[int] = None, scale: Optional[int] = None
    ) -> TSaType:
        """The SQLAlchemy type of a column the database reports as `db_type`: what reflection
        would give, for dialects whose reflection is broken."""
        return self._parse_db_type(db_type, precision, scale)

    def _parse_db_type(
        self, db_type: str, precision: Optional[int], scale: Optional[int]
    ) -> TSaType:
        name = db_type.strip().lower()
        # SQLite decimals kept as text are declared DECIMAL_TEXT_<precision>_<scale>
        name = re.sub(r"^decimal_text_(\d+)_(\d+)$", r"decimal_text(\1, \2)", name)
        args = [int(a) for a in re.findall(r"\d+", name[name.find("(") :])] if "(" in name else []
        base = re.sub(r"\(.*?\)", "", name).strip()
        ischema: Dict[str, Type[TSaType]] = getattr(self.dialect, "ischema_names", None) or {}
        sa_class = ischema.get(base) or _GENERIC_NAMES.get(base) or _match_keyword(base)
        if sa_class is None:
            return sa.Text()
        if issubclass(sa_class, sa.Numeric) and not issubclass(sa_class, sa.Float):
            p = precision if precision is not None else (args[0] if args else None)
            s = scale if scale is not None else (args[1] if len(args) > 1 else None)
            return sa.Numeric(precision=p, scale=s)
        if issubclass(sa_class, sa.DateTime) or base.startswith("timestamp"):
            if "with time zone" in base or base in ("timestamptz", "datetimeoffset"):
                return sa.DateTime(timezone=True)
            if issubclass(sa_class, sa.DateTime):
                return sa.DateTime(timezone=False)
        if issubclass(sa_class, sa.String) and args:
            return sa_class(length=args[0])
        try:
            return sa_class()
        except TypeError:
            return sa.Text()

    def ensure_supported_type(
        self, column: TColumnSchema, table: PreparedTableSchema, loader_file_format: str
    ) -> None:
        """Fails early, at normalize, for a type this dialect cannot store."""
        self.to_destination_type(column, table)


class TypedCursor(DBApiCursorImpl):
    """A result cursor that returns values as loaded, once the reader says what the columns are.

    dlt's dataset reader sets `columns_schema` (dlt types by column name) right after the query
    runs; until then, and for columns without a dlt type, values pass through as the driver
    returns them.
    """

    def __init__(self, native_cursor: Any, mapper: Optional[SqlalchemyTypeMapper]) -> None:
        self._mapper = mapper
        self._process_row: Optional[Callable[[Sequence[Any]], Tuple[Any, ...]]] = None
        super().__init__(native_cursor)

    @property
    def columns_schema(self) -> TTableSchemaColumns:
        return self._columns_schema

    @columns_schema.setter
    def columns_schema(self, value: TTableSchemaColumns) -> None:
        self._columns_schema = value
        mapper = self._mapper
        self._process_row = mapper.row_processor(self._get_columns(), value) if mapper else None

    def fetchall(self, *args: Any, **kwargs: Any) -> List[Tuple[Any, ...]]:
        return self._processed(self.native_cursor.fetchall(*args, **kwargs))

    def fetchmany(self, *args: Any, **kwargs: Any) -> List[Tuple[Any, ...]]:
        return self._processed(self.native_cursor.fetchmany(*args, **kwargs))

    def fetchone(self, *args: Any, **kwargs: Any) -> Tuple[Any, ...]:
        row = self.native_cursor.fetchone(*args, **kwargs)
        if row is None or self._process_row is None:
            return row  # type: ignore[return-value]
        return self._process_row(row)

    def _processed(self, rows: List[Tuple[Any, ...]]) -> List[Tuple[Any, ...]]:
        process = self._process_row
        return rows if process is None else [process(row) for row in rows]


def _lenient(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Passes through values the processor cannot take.

    The reader's column types come from query lineage: an expression typed `timestamp` may
    already arrive as a `datetime` (SQLite's `max()` of a text column does not, DuckDB's does).
    """

    def process(value: Any) -> Any:
        try:
            return processor(value)
        except (TypeError, ValueError):
            return value

    return process


def _is_users_decorator(sa_type: Any) -> bool:
    """A `TypeDecorator` that neither SQLAlchemy nor this package defines."""
    module = type(sa_type).__module__
    return isinstance(sa_type, sa.types.TypeDecorator) and not module.startswith(
        ("dlt_sqlalchemy.", "sqlalchemy.")
    )


def _is_tz_aware(column: TColumnSchema) -> bool:
    return column.get("timezone", True) is not False


KEY_HINTS = (
    "unique",
    "primary_key",
    "merge_key",
    "row_key",
    "parent_key",
    "root_key",
    "x-row-version",
)


def _is_key_column(column: TColumnSchema) -> bool:
    """Columns that are indexed or that merges join on: dlt's own row, parent and root keys
    (`_dlt_id`, `_dlt_parent_id`, `_dlt_root_id`) and the row version of `scd2` among them."""
    return any(column.get(hint) for hint in KEY_HINTS)


def _table_name(table: Any) -> str:
    return table["name"] if table else "?"


def _int_type(_: SqlalchemyTypeMapper, t: TSaType) -> TColumnType:
    if isinstance(t, sa.SmallInteger):
        return {"data_type": "bigint", "precision": 16}
    if isinstance(t, sa.BigInteger):
        return {"data_type": "bigint"}
    return {"data_type": "bigint", "precision": 32}


def _numeric_type(mapper: SqlalchemyTypeMapper, t: TSaType) -> TColumnType:
    numeric = cast(sa.Numeric[Any], t)
    if (numeric.precision, numeric.scale) == tuple(mapper.capabilities.wei_precision):
        return {"data_type": "wei"}
    if numeric.precision is None:
        return {"data_type": "decimal"}
    return {"data_type": "decimal", "precision": numeric.precision, "scale": numeric.scale or 0}


def _datetime_type(_: SqlalchemyTypeMapper, t: TSaType) -> TColumnType:
    if getattr(t, "timezone", False):
        return {"data_type": "timestamp", "timezone": True}
    return {"data_type": "timestamp", "timezone": False}


def _string_type(_: SqlalchemyTypeMapper, t: TSaType) -> TColumnType:
    length = getattr(t, "length", None)
    return {"data_type": "text", "precision": length} if length else {"data_type": "text"}


_REVERSE: list[tuple[type, Callable[[SqlalchemyTypeMapper, TSaType], TColumnType]]] = [
    (sa.Boolean, lambda m, t: {"data_type": "bool"}),
    (sa.Integer, _int_type),
    (sa.Float, lambda m, t: {"data_type": "double"}),
    (sa.Numeric, _numeric_type),
    (sa.DateTime, _datetime_type),
    (sa.Date, lambda m, t: {"data_type": "date"}),
    (sa.Time, lambda m, t: {"data_type": "time"}),
    (sa.JSON, lambda m, t: {"data_type": "json"}),
    (sa.LargeBinary, lambda m, t: {"data_type": "binary"}),
    (sa.types._Binary, lambda m, t: {"data_type": "binary"}),
    (sa.String, _string_type),
]

_GENERIC_NAMES: Dict[str, Type[TSaType]] = {
    "text": sa.Text,
    "varchar": sa.String,
    "character varying": sa.String,
    "char": sa.String,
    "string": sa.String,
    "integer": sa.Integer,
    "int": sa.Integer,
    "smallint": sa.SmallInteger,
    "bigint": sa.BigInteger,
    "hugeint": sa.Numeric,
    "double": sa.Double,
    "double precision": sa.Double,
    "float": sa.Float,
    "real": sa.Float,
    "boolean": sa.Boolean,
    "bool": sa.Boolean,
    "date": sa.Date,
    "time": sa.Time,
    "datetime": sa.DateTime,
    "timestamp": sa.DateTime,
    "timestamp with time zone": sa.DateTime,
    "timestamp without time zone": sa.DateTime,
    "timestamptz": sa.DateTime,
    "decimal": sa.Numeric,
    "numeric": sa.Numeric,
    "decimal_text": sa.Numeric,  # SQLite decimals kept as text (dialects.sqlite.types.ExactDecimal)
    "json": sa.JSON,
    "jsonb": sa.JSON,
    "blob": sa.LargeBinary,
    "bytea": sa.LargeBinary,
    "binary": sa.LargeBinary,
    "varbinary": sa.LargeBinary,
}


def _match_keyword(base: str) -> Optional[Type[TSaType]]:
    """Last resort for type names no table knows, by SQLite-like affinity rules."""
    for keyword, sa_class in (
        ("int", sa.BigInteger),
        ("char", sa.String),
        ("text", sa.Text),
        ("clob", sa.Text),
        ("blob", sa.LargeBinary),
        ("binary", sa.LargeBinary),
        ("double", sa.Double),
        ("float", sa.Double),
        ("real", sa.Double),
        ("timestamp", sa.DateTime),
        ("datetime", sa.DateTime),
        ("bool", sa.Boolean),
        ("json", sa.JSON),
    ):
        if keyword in base:
            return sa_class
    return None
