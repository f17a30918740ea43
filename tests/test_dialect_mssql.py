"""SQL Server types, compiled against SQLAlchemy's dialect as a 2019 and a 2022 server, and as
the unconnected dialect the job client compiles ALTER statements with (which assumes a server
older than 2008 and would render NTEXT / IMAGE / DATETIME for generic types).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa
from dlt.common.exceptions import TerminalValueError
from dlt.common.schema import Schema
from dlt.common.schema.typing import TColumnSchema
from dlt.common.schema.utils import new_column, new_table
from sqlalchemy.dialects.mssql import pyodbc

from dlt_sqlalchemy import sqlalchemy
from dlt_sqlalchemy.dialects.mssql.capabilities import MssqlCapabilities
from dlt_sqlalchemy.dialects.mssql.types import MssqlBinary, MssqlTypeMapper
from dlt_sqlalchemy.load.inserts import compile_positional_insert

pytestmark = pytest.mark.compiled

URL = "mssql+pyodbc://loader:secret@db.example:1433/dwh?driver=ODBC+Driver+18"
CEST = datetime.timezone(datetime.timedelta(hours=2))

SERVERS = {
    "unconnected": None,
    "2019": (15, 0, 2000, 5),
    "2022": (16, 0, 1000, 6),
}

# column hints -> the type SQL Server must get, on every server version
EXPECTED_TYPES: List[Any] = [
    ({"data_type": "text"}, "NVARCHAR(max)"),
    ({"data_type": "text", "precision": 20}, "NVARCHAR(20)"),
    ({"data_type": "text", "precision": 4000}, "NVARCHAR(4000)"),
    ({"data_type": "text", "precision": 4001}, "NVARCHAR(max)"),
    ({"data_type": "text", "unique": True}, "NVARCHAR(450)"),
    ({"data_type": "text", "primary_key": True}, "NVARCHAR(450)"),
    ({"data_type": "text", "merge_key": True}, "NVARCHAR(450)"),
    ({"data_type": "text", "unique": True, "precision": 64}, "NVARCHAR(64)"),
    ({"data_type": "bigint"}, "BIGINT"),
    ({"data_type": "bigint", "precision": 64}, "BIGINT"),
    ({"data_type": "bigint", "precision": 32}, "INTEGER"),
    ({"data_type": "bigint", "precision": 16}, "SMALLINT"),
    ({"data_type": "bigint", "precision": 8}, "SMALLINT"),
    ({"data_type": "double"}, "FLOAT(53)"),
    ({"data_type": "bool"}, "BIT"),
    ({"data_type": "timestamp"}, "DATETIMEOFFSET(6)"),
    ({"data_type": "timestamp", "timezone": True, "precision": 3}, "DATETIMEOFFSET(3)"),
    ({"data_type": "timestamp", "precision": 7}, "DATETIMEOFFSET(7)"),
    ({"data_type": "timestamp", "timezone": False}, "DATETIME2(6)"),
    ({"data_type": "timestamp", "timezone": False, "precision": 0}, "DATETIME2(0)"),
    ({"data_type": "date"}, "DATE"),
    ({"data_type": "time"}, "TIME(6)"),
    ({"data_type": "time", "precision": 3}, "TIME(3)"),
    ({"data_type": "decimal"}, "DECIMAL(38, 9)"),
    ({"data_type": "decimal", "precision": 10, "scale": 2}, "DECIMAL(10, 2)"),
    ({"data_type": "decimal", "precision": 38, "scale": 0}, "DECIMAL(38, 0)"),
    ({"data_type": "wei"}, "DECIMAL(38, 0)"),
    ({"data_type": "json"}, "NVARCHAR(max)"),
    ({"data_type": "binary"}, "VARBINARY(max)"),
    ({"data_type": "binary", "precision": 16}, "VARBINARY(16)"),
    ({"data_type": "binary", "precision": 8000}, "VARBINARY(8000)"),
    ({"data_type": "binary", "precision": 8001}, "VARBINARY(max)"),
]


def _dialect(server: str) -> Any:
    version = SERVERS[server]
    # pyodbc's paramstyle (without the driver the dialect would default to `named`)
    dialect = pyodbc.dialect() if version is None else pyodbc.dialect(paramstyle="qmark")
    if version is not None:
        # what `initialize()` sets after connecting to such a server
        dialect.server_version_info = version
        dialect.deprecate_large_types = True
        dialect._supports_nvarchar_max = True
    return dialect


def _mapper(dialect: Any) -> MssqlTypeMapper:
    mapper = sqlalchemy(URL).capabilities().get_type_mapper(dialect)
    assert isinstance(mapper, MssqlTypeMapper)
    return mapper


def _column(hints: Dict[str, Any], name: str = "c") -> TColumnSchema:
    return {"name": name, "nullable": True, **hints}  # type: ignore[typeddict-item]


@pytest.mark.parametrize("server", sorted(SERVERS))
@pytest.mark.parametrize(
    "hints,expected", EXPECTED_TYPES, ids=[str(sorted(h.items())) for h, _ in EXPECTED_TYPES]
)
def test_each_dlt_type_renders_a_modern_type(
    server: str, hints: Dict[str, Any], expected: str
) -> None:
    """Every dlt type (with precision, scale, time zone, key hints) gets one exact type."""
    dialect = _dialect(server)
    sa_type = _mapper(dialect).to_destination_type(_column(hints), None)
    assert str(sa_type.compile(dialect=dialect)) == expected


def test_no_legacy_type_in_any_ddl_of_the_unconnected_dialect() -> None:
    """NTEXT, IMAGE, TEXT and old DATETIME never appear, though the bare dialect would pick them."""
    dialect = _dialect("unconnected")
    assert sa.Text().compile(dialect=dialect) == "TEXT"  # the trap we avoid
    assert sa.Date().compile(dialect=dialect) == "DATETIME"
    mapper = _mapper(dialect)
    rendered = " ".join(
        str(mapper.to_destination_type(_column(h), None).compile(dialect=dialect))
        for h, _ in EXPECTED_TYPES
    )
    for legacy in ("NTEXT", "IMAGE", " TEXT", "DATETIME ", "DATETIME(", "DOUBLE PRECISION"):
        assert legacy not in f" {rendered} "


def _client(**destination_kwargs: Any) -> Any:
    schema = Schema("chess")
    columns = [
        new_column("id", "bigint", nullable=False),
        new_column("white", "text"),
        {"name": "game_key", "data_type": "text", "nullable": False, "primary_key": True},
        {"name": "played_at", "data_type": "timestamp", "nullable": True},
        {"name": "local_at", "data_type": "timestamp", "timezone": False, "nullable": True},
        {"name": "clock", "data_type": "time", "nullable": True},
        {"name": "pgn", "data_type": "binary", "nullable": True},
        {"name": "meta", "data_type": "json", "nullable": True},
        {"name": "rated", "data_type": "bool", "nullable": True},
        {"name": "elo_gain", "data_type": "decimal", "precision": 6, "scale": 2},
    ]
    schema.update_table(new_table("matches", columns=columns))  # type: ignore[arg-type]
    destination = sqlalchemy(URL, **destination_kwargs)
    config = destination.configuration(destination.spec()._bind_dataset_name(dataset_name="games"))
    return destination.client(schema, config)


def _one_line(statement: Any, dialect: Any) -> str:
    if not isinstance(statement, str):
        statement = str(statement.compile(dialect=dialect))
    return " ".join(statement.split())


def test_create_table_compiled_by_the_job_client() -> None:
    """The job client's CREATE TABLE (on its unconnected dialect) is entirely modern."""
    client = _client(create_primary_keys=True)
    columns = list(client.schema.get_table("matches")["columns"].values())
    (create,) = client._get_table_update_sql("matches", columns, False)
    assert _one_line(create, client.dialect) == (
        "CREATE TABLE [games].[matches] ("
        " [id] BIGINT NOT NULL,"
        " [white] NVARCHAR(max) NULL,"
        " [game_key] NVARCHAR(450) NOT NULL,"
        " [played_at] DATETIMEOFFSET(6) NULL,"
        " [local_at] DATETIME2(6) NULL,"
        " [clock] TIME(6) NULL,"
        " [pgn] VARBINARY(max) NULL,"
        " [meta] NVARCHAR(max) NULL,"
        " [rated] BIT NULL,"
        " [elo_gain] DECIMAL(6, 2) NULL,"
        " PRIMARY KEY ([game_key]) )"
    )


def test_alter_table_adds_modern_columns_in_one_statement() -> None:
    """ALTER ... ADD without COLUMN, several columns at once, modern types."""
    client = _client()
    client.schema.update_table(
        new_table(
            "matches",
            columns=[
                new_column("opening", "text"),
                new_column("moves", "json"),
                new_column("replay", "binary"),
                new_column("day", "date"),
            ],
        )
    )
    table = client.schema.get_table("matches")["columns"]
    new_columns = [table[name] for name in ("opening", "moves", "replay", "day")]
    statements = client._get_table_update_sql("matches", new_columns, True)
    assert [_one_line(s, client.dialect) for s in statements] == [
        "ALTER TABLE [games].[matches] ADD [opening] NVARCHAR(max) NULL,"
        " [moves] NVARCHAR(max) NULL, [replay] VARBINARY(max) NULL, [day] DATE NULL"
    ]


def test_alter_table_of_generic_user_types_assumes_a_modern_server() -> None:
    """A user's generic types (spec: `sa.UnicodeText` variants) render as on SQL Server 2012+."""
    client = _client()
    metadata = sa.MetaData()
    table = sa.Table(
        "matches",
        metadata,
        sa.Column("notes", sa.UnicodeText()),
        sa.Column("blob", sa.LargeBinary()),
        sa.Column("day", sa.Date()),
        sa.Column("at", sa.Time()),
        schema="games",
    )
    table.info["dialect"] = client.dialect
    assert not client.dialect.server_version_info  # the job client's dialect never connects
    (alter,) = MssqlCapabilities("mssql").alter_table_add_columns(table, list(table.columns))
    assert alter == (
        "ALTER TABLE games.matches ADD notes NVARCHAR(max) NULL, blob VARBINARY(max) NULL,"
        " day DATE NULL, at TIME NULL"
    )
    # a connected dialect is used as it is: it knows its server
    old = _dialect("unconnected")
    old.server_version_info = (10, 50)
    table.info["dialect"] = old
    assert MssqlCapabilities("mssql").dialect_for_ddl(table) is old


def test_insert_binds_each_value_as_the_driver_needs() -> None:
    """Batched INSERT: one placeholder per column, and values converted by the dialect's types."""
    client = _client()
    dialect = _dialect("2022")
    table = client.sa_table("matches")
    assert compile_positional_insert(table, dialect) == (
        "INSERT INTO [games].[matches] ([id], [white], [game_key], [played_at], [local_at],"
        " [clock], [pgn], [meta], [rated], [elo_gain]) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )

    def bound(name: str, value: Any) -> Any:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        return value if processor is None else processor(value)

    aware = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=CEST)
    # pyodbc drops tzinfo: the offset travels as text
    assert bound("played_at", aware) == "2024-05-06 07:08:09.123456+02:00"
    assert bound("rated", True) == 1
    assert bound("clock", datetime.time(23, 59, 58, 123456)) == "23:59:58.123456"
    assert bound("elo_gain", Decimal("12.34")) == Decimal("12.34")


LITERALS = [
    ({"data_type": "text"}, "it's ü", "N'it''s ü'"),
    ({"data_type": "bigint"}, -9223372036854775808, "-9223372036854775808"),
    ({"data_type": "double"}, 0.1 + 0.2, "0.30000000000000004"),
    ({"data_type": "bool"}, True, "1"),
    (
        {"data_type": "timestamp"},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=CEST),
        "'2024-05-06 07:08:09.123456+02:00'",
    ),
    (
        {"data_type": "timestamp", "timezone": False},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456),
        "'2024-05-06 07:08:09.123456'",
    ),
    ({"data_type": "date"}, datetime.date(2024, 2, 29), "'2024-02-29'"),
    ({"data_type": "time"}, datetime.time(23, 59, 58, 123456), "'23:59:58.123456'"),
    ({"data_type": "decimal"}, Decimal("-0.000000001"), "-0.000000001"),
    ({"data_type": "wei"}, Decimal(10**37), "10000000000000000000000000000000000000"),
    ({"data_type": "binary"}, b"\x00\xffA", "0x00FF41"),
]


@pytest.mark.parametrize(
    "hints,value,literal", LITERALS, ids=[h["data_type"] + str(len(h)) for h, _, _ in LITERALS]
)
def test_select_of_a_literal_value(hints: Dict[str, Any], value: Any, literal: str) -> None:
    """Values rendered inline (merge SQL compiles with literal binds) are valid T-SQL literals."""
    dialect = _dialect("2019")
    sa_type = _mapper(dialect).to_destination_type(_column(hints), None)
    select = sa.select(sa.literal(value, sa_type).label("v"))
    compiled = select.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    assert str(compiled) == f"SELECT {literal} AS v"


def test_binary_keeps_the_dialects_null_handling() -> None:
    """`MssqlBinary` wraps the dialect's VARBINARY: its binding (binary NULLs) stays in place."""
    dialect = _dialect("2022")
    impl = MssqlBinary(16).dialect_impl(dialect)
    assert type(impl.impl_instance).__name__ == "_VARBINARY_pyodbc"


@pytest.mark.parametrize(
    "db_type,expected",
    [
        ("nvarchar", {"data_type": "text"}),
        ("nvarchar(450)", {"data_type": "text", "precision": 450}),
        ("varchar(20)", {"data_type": "text", "precision": 20}),
        ("ntext", {"data_type": "text"}),
        ("datetimeoffset", {"data_type": "timestamp", "timezone": True}),
        ("datetime2", {"data_type": "timestamp", "timezone": False}),
        ("datetime", {"data_type": "timestamp", "timezone": False}),
        ("date", {"data_type": "date"}),
        ("time", {"data_type": "time"}),
        ("bit", {"data_type": "bool"}),
        ("bigint", {"data_type": "bigint"}),
        ("int", {"data_type": "bigint", "precision": 32}),
        ("smallint", {"data_type": "bigint", "precision": 16}),
        ("float", {"data_type": "double"}),
        ("varbinary", {"data_type": "binary"}),
        ("image", {"data_type": "binary"}),
    ],
)
def test_reverse_mapping_of_information_schema_names(
    db_type: str, expected: Dict[str, Any]
) -> None:
    """Type names as `information_schema.columns` reports them map back to dlt types."""
    assert _mapper(_dialect("2019")).from_destination_type(db_type, None, None) == expected


def test_reverse_mapping_of_decimals_by_precision_and_scale() -> None:
    mapper = _mapper(_dialect("2019"))
    assert mapper.from_destination_type("decimal", 10, 2) == {
        "data_type": "decimal",
        "precision": 10,
        "scale": 2,
    }
    assert mapper.from_destination_type("decimal", 38, 0) == {"data_type": "wei"}
    assert mapper.from_destination_type("numeric", 38, 9) == {
        "data_type": "decimal",
        "precision": 38,
        "scale": 9,
    }


@pytest.mark.parametrize(
    "hints",
    [
        {"data_type": "decimal", "precision": 39, "scale": 0},
        {"data_type": "timestamp", "precision": 8},
        {"data_type": "time", "precision": 9},
    ],
)
def test_more_than_sql_server_holds_is_refused_with_the_column_named(
    hints: Dict[str, Any],
) -> None:
    mapper = _mapper(_dialect("2022"))
    with pytest.raises(TerminalValueError, match="`wide`"):
        mapper.to_destination_type(_column(hints, name="wide"), {"name": "t"})  # type: ignore[arg-type]


def test_capabilities() -> None:
    caps = sqlalchemy(URL).capabilities()
    assert caps.type_mapper is MssqlTypeMapper
    assert caps.max_identifier_length == 128
    assert caps.max_timestamp_precision == 7
    assert caps.supports_native_boolean is False
    assert (caps.decimal_precision, caps.wei_precision) == ((38, 9), (38, 0))


def test_drop_dataset_drops_the_tables_then_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """T-SQL has no DROP SCHEMA ... CASCADE: a schema is dropped once it is empty."""
    dialect = _dialect("2022")

    class Inspector:
        def get_table_names(self, schema: str) -> List[str]:
            assert schema == "games"
            return ["matches", "_dlt_loads"]

    class Client:
        native_connection = object()
        executed: List[str] = []

        def quoted(self, name: str) -> str:
            return sa.sql.quoted_name(name, quote=True)

        def execute_sql(self, statement: Any) -> None:
            self.executed.append(str(statement.compile(dialect=dialect)).strip())

    monkeypatch.setattr(sa, "inspect", lambda connection: Inspector())
    client = Client()
    MssqlCapabilities("mssql").drop_dataset(client, "games")  # type: ignore[arg-type]
    assert client.executed == [
        "DROP TABLE [games].[matches]",
        "DROP TABLE [games].[_dlt_loads]",
        "DROP SCHEMA [games]",
    ]
