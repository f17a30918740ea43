"""Oracle types, compiled against SQLAlchemy's oracledb dialect as 12.1, 19c and 23ai servers and
unconnected; value conversions checked through the types' own bind and result processors.

No Oracle server here: what the driver does with a bound value is taken from python-oracledb's
documented binding (DATE for `datetime`, NUMBER for `float`, BOOLEAN for `bool`, INTERVAL for
`timedelta`), which is why timestamps and doubles are bound as text and raw bytes.
"""

from __future__ import annotations

import datetime
import math
import sqlite3
import struct
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple

import pytest
import sqlalchemy as sa
from dlt.common.exceptions import TerminalValueError
from dlt.common.schema import Schema
from dlt.common.schema.typing import TColumnSchema
from dlt.common.schema.utils import new_column, new_table
from sqlalchemy.dialects.oracle import oracledb

from dlt_sqlalchemy import sqlalchemy
from dlt_sqlalchemy.dialects.oracle.capabilities import OracleCapabilities, storage_columns_query
from dlt_sqlalchemy.dialects.oracle.types import (
    OracleDecimal,
    OracleDouble,
    OracleJson,
    OracleNumberBoolean,
    OracleTime,
    OracleTimestamp,
    OracleTypeMapper,
)
from dlt_sqlalchemy.load.inserts import compile_positional_insert

pytestmark = pytest.mark.compiled

URL = "oracle+oracledb://loader:secret@db.example:1521/?service_name=DWH"
UTC = datetime.timezone.utc
CEST = datetime.timezone(datetime.timedelta(hours=2))

SERVERS: Dict[str, Optional[Tuple[int, ...]]] = {
    "unconnected": None,
    "12.1": (12, 1, 0, 2, 0),
    "19c": (19, 0, 0, 0, 0),
    "23ai": (23, 4, 0, 24, 5),
}

# column hints -> the type Oracle must get (booleans depend on the server, see below)
EXPECTED_TYPES: List[Any] = [
    ({"data_type": "text"}, "CLOB"),
    ({"data_type": "text", "precision": 20}, "VARCHAR2(20 CHAR)"),
    ({"data_type": "text", "precision": 4000}, "VARCHAR2(4000 CHAR)"),
    ({"data_type": "text", "precision": 4001}, "CLOB"),
    ({"data_type": "text", "unique": True}, "VARCHAR2(1000 CHAR)"),
    ({"data_type": "text", "primary_key": True}, "VARCHAR2(1000 CHAR)"),
    ({"data_type": "text", "merge_key": True}, "VARCHAR2(1000 CHAR)"),
    ({"data_type": "text", "parent_key": True}, "VARCHAR2(1000 CHAR)"),
    ({"data_type": "text", "root_key": True}, "VARCHAR2(1000 CHAR)"),
    ({"data_type": "text", "unique": True, "precision": 64}, "VARCHAR2(64 CHAR)"),
    ({"data_type": "bigint"}, "NUMBER(19)"),
    ({"data_type": "bigint", "precision": 64}, "NUMBER(19)"),
    ({"data_type": "bigint", "precision": 32}, "NUMBER(10)"),
    ({"data_type": "bigint", "precision": 16}, "NUMBER(5)"),
    ({"data_type": "bigint", "precision": 8}, "NUMBER(5)"),
    ({"data_type": "double"}, "BINARY_DOUBLE"),
    ({"data_type": "timestamp"}, "TIMESTAMP(6) WITH TIME ZONE"),
    ({"data_type": "timestamp", "timezone": True, "precision": 3}, "TIMESTAMP(3) WITH TIME ZONE"),
    ({"data_type": "timestamp", "precision": 9}, "TIMESTAMP(9) WITH TIME ZONE"),
    ({"data_type": "timestamp", "timezone": False}, "TIMESTAMP(6)"),
    ({"data_type": "timestamp", "timezone": False, "precision": 0}, "TIMESTAMP(0)"),
    ({"data_type": "date"}, "DATE"),
    ({"data_type": "time"}, "INTERVAL DAY(0) TO SECOND(6)"),
    ({"data_type": "time", "precision": 3}, "INTERVAL DAY(0) TO SECOND(3)"),
    ({"data_type": "decimal"}, "NUMBER(38, 9)"),
    ({"data_type": "decimal", "precision": 10, "scale": 2}, "NUMBER(10, 2)"),
    ({"data_type": "wei"}, "NUMBER(38, 0)"),
    ({"data_type": "json"}, "CLOB"),
    ({"data_type": "binary"}, "BLOB"),
    ({"data_type": "binary", "precision": 16}, "RAW(16)"),
    ({"data_type": "binary", "precision": 2000}, "RAW(2000)"),
    ({"data_type": "binary", "precision": 2001}, "BLOB"),
]


def _dialect(server: str) -> Any:
    dialect = oracledb.dialect()
    version = SERVERS[server]
    if version is not None:
        # what `initialize()` sets after connecting to such a server
        dialect.server_version_info = version
        dialect.supports_native_boolean = version >= (23,)
        dialect._supports_oracle_json = version >= (21,)
        dialect.max_identifier_length = 128 if version >= (12, 2) else 30
    return dialect


def _caps(server: str) -> Any:
    """Capabilities as the job client holds them once connected to `server`."""
    caps = sqlalchemy(URL).capabilities()  # planned with an unconnected dialect
    dialect = _dialect(server)
    OracleCapabilities("oracle").refine_capabilities(caps, SimpleNamespace(dialect=dialect))  # type: ignore[arg-type]
    return caps


def _mapper(server: str) -> OracleTypeMapper:
    mapper = _caps(server).get_type_mapper(_dialect(server))
    assert isinstance(mapper, OracleTypeMapper)
    return mapper


def _column(hints: Dict[str, Any], name: str = "c") -> TColumnSchema:
    return {"name": name, "nullable": True, **hints}  # type: ignore[typeddict-item]


def _render(server: str, hints: Dict[str, Any], table: Any = None) -> str:
    dialect = _dialect(server)
    return str(_mapper(server).to_destination_type(_column(hints), table).compile(dialect=dialect))


@pytest.mark.parametrize("server", sorted(SERVERS))
@pytest.mark.parametrize(
    "hints,expected", EXPECTED_TYPES, ids=[str(sorted(h.items())) for h, _ in EXPECTED_TYPES]
)
def test_each_dlt_type_renders_an_oracle_type(
    server: str, hints: Dict[str, Any], expected: str
) -> None:
    """Every dlt type gets one exact type on every release: never DATE for a timestamp, never
    TIME, precision and time zone kept."""
    assert _render(server, hints) == expected


@pytest.mark.parametrize(
    "server,expected",
    [
        ("unconnected", "NUMBER(1)"),
        ("12.1", "NUMBER(1)"),
        ("19c", "NUMBER(1)"),
        ("23ai", "BOOLEAN"),
    ],
)
def test_booleans_are_native_from_23ai_only(server: str, expected: str) -> None:
    """BOOLEAN columns exist from 23ai; before, NUMBER(1). Capabilities say the same."""
    assert _render(server, {"data_type": "bool"}) == expected
    assert _caps(server).supports_native_boolean is (expected == "BOOLEAN")


def test_unconnected_capabilities_are_safe_for_booleans_and_modern_for_names() -> None:
    """The bare dialect claims native booleans (it would emit BOOLEAN on 19c): we do not."""
    assert oracledb.dialect().supports_native_boolean is True
    caps = sqlalchemy(URL).capabilities()
    assert caps.supports_native_boolean is False
    assert caps.max_identifier_length == caps.max_column_identifier_length == 128
    assert caps.supports_ddl_transactions is False
    assert caps.max_timestamp_precision == 9
    assert caps.type_mapper is OracleTypeMapper


@pytest.mark.parametrize(
    "server,length", [("unconnected", 128), ("12.1", 30), ("19c", 128), ("23ai", 128)]
)
def test_identifier_limit_follows_the_server_version(server: str, length: int) -> None:
    caps = _caps(server)
    assert caps.max_identifier_length == caps.max_column_identifier_length == length


def test_a_users_shorter_limit_is_not_raised_on_connecting() -> None:
    """`max_identifier_length=30` passed to the factory: dlt normalized names to 30, keep it."""
    caps = sqlalchemy(URL, max_identifier_length=30, max_column_identifier_length=30).capabilities()
    assert caps.max_identifier_length == 30
    OracleCapabilities("oracle").refine_capabilities(caps, SimpleNamespace(dialect=_dialect("19c")))  # type: ignore[arg-type]
    assert caps.max_identifier_length == caps.max_column_identifier_length == 30


def test_an_explicitly_shorter_dialect_limit_is_kept() -> None:
    """`create_engine(..., max_identifier_length=30)` on 19c: the engine's limit wins."""
    caps = sqlalchemy(URL).capabilities()
    dialect = _dialect("19c")
    dialect.max_identifier_length = 30
    OracleCapabilities("oracle").refine_capabilities(caps, SimpleNamespace(dialect=dialect))  # type: ignore[arg-type]
    assert caps.max_identifier_length == 30


@pytest.mark.parametrize(
    "table,column,expected",
    [
        ("_dlt_version", "version_hash", "VARCHAR2(1000 CHAR)"),
        ("_dlt_version", "schema_name", "VARCHAR2(1000 CHAR)"),
        ("_dlt_version", "schema", "CLOB"),
        ("_dlt_pipeline_state", "pipeline_name", "VARCHAR2(1000 CHAR)"),
        ("_dlt_pipeline_state", "state", "CLOB"),
        ("_dlt_loads", "schema_name", "VARCHAR2(1000 CHAR)"),
        ("games", "schema_name", "CLOB"),
    ],
)
def test_bookkeeping_columns_that_dlt_compares_are_not_clobs(
    table: str, column: str, expected: str
) -> None:
    """Oracle cannot compare a CLOB with `=`: dlt looks its bookkeeping rows up by these."""
    mapper = _mapper("19c")
    sa_type = mapper.to_destination_type(_column({"data_type": "text"}, column), {"name": table})  # type: ignore[arg-type]
    assert str(sa_type.compile(dialect=_dialect("19c"))) == expected


def _client(**destination_kwargs: Any) -> Any:
    schema = Schema("chess")
    columns = [
        new_column("id", "bigint", nullable=False),
        new_column("white", "text"),
        {"name": "game_key", "data_type": "text", "nullable": False, "primary_key": True},
        {"name": "played_at", "data_type": "timestamp", "nullable": True},
        {"name": "local_at", "data_type": "timestamp", "timezone": False, "nullable": True},
        {"name": "clock", "data_type": "time", "nullable": True},
        {"name": "score", "data_type": "double", "nullable": True},
        {"name": "rated", "data_type": "bool", "nullable": True},
        {"name": "meta", "data_type": "json", "nullable": True},
        {"name": "pgn", "data_type": "binary", "nullable": True},
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
    """CREATE TABLE: exact types, a column-level IS JSON check, the primary key."""
    client = _client(create_primary_keys=True)
    columns = list(client.schema.get_table("matches")["columns"].values())
    (create,) = client._get_table_update_sql("matches", columns, False)
    assert _one_line(create, client.dialect) == (
        "CREATE TABLE games.matches ("
        " id NUMBER(19) NOT NULL,"
        " white CLOB,"
        " game_key VARCHAR2(1000 CHAR) NOT NULL,"
        " played_at TIMESTAMP(6) WITH TIME ZONE,"
        " local_at TIMESTAMP(6),"
        " clock INTERVAL DAY(0) TO SECOND(6),"
        " score BINARY_DOUBLE,"
        " rated NUMBER(1),"
        " meta CLOB CHECK (meta IS JSON),"
        " pgn BLOB,"
        " PRIMARY KEY (game_key) )"
    )
    # the same on a connected 19c dialect (the one that runs CREATE TABLE)
    assert _one_line(create, _dialect("19c")) == _one_line(create, client.dialect)


def test_alter_table_adds_columns_with_their_json_check() -> None:
    client = _client()
    client.schema.update_table(
        new_table(
            "matches",
            columns=[
                new_column("opening", "text"),
                new_column("moves", "json"),
                {"name": "moved_at", "data_type": "timestamp", "precision": 3},
            ],
        )
    )
    table = client.schema.get_table("matches")["columns"]
    new_columns = [table[name] for name in ("opening", "moves", "moved_at")]
    statements = client._get_table_update_sql("matches", new_columns, True)
    assert [_one_line(s, client.dialect) for s in statements] == [
        "ALTER TABLE games.matches ADD (opening CLOB, moves CLOB CHECK (moves IS JSON),"
        " moved_at TIMESTAMP(3) WITH TIME ZONE)"
    ]


def test_insert_converts_timestamps_and_doubles_in_sql() -> None:
    """One placeholder per column; timestamps and doubles go through conversion functions."""
    client = _client()
    dialect = _dialect("19c")
    table = client.sa_table("matches")
    assert compile_positional_insert(table, dialect) == (
        "INSERT INTO games.matches (id, white, game_key, played_at, local_at, clock, score,"
        " rated, meta, pgn) VALUES (:1, :2, :3,"
        " TO_TIMESTAMP_TZ(:4, 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM'),"
        " TO_TIMESTAMP(:5, 'YYYY-MM-DD HH24:MI:SS.FF6'), :6,"
        " UTL_RAW.CAST_TO_BINARY_DOUBLE(:7), :8, :9, :10)"
    )

    def bound(name: str, value: Any) -> Any:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        return value if processor is None else processor(value)

    aware = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=CEST)
    assert bound("played_at", aware) == "2024-05-06 05:08:09.123456 +00:00"
    assert bound("local_at", datetime.datetime(5, 1, 2, 3, 4, 5)) == "0005-01-02 03:04:05.000000"
    assert bound("clock", datetime.time(23, 59, 58, 123456)) == datetime.timedelta(
        hours=23, minutes=59, seconds=58, microseconds=123456
    )
    assert bound("score", 0.1 + 0.2) == struct.pack(">d", 0.1 + 0.2)
    assert bound("rated", True) == 1 and bound("rated", False) == 0
    assert bound("id", 9223372036854775807) == 9223372036854775807  # no float on the way


def test_insert_into_native_boolean_on_23ai() -> None:
    dialect = _dialect("23ai")
    mapper = _mapper("23ai")
    sa_type = mapper.to_destination_type(_column({"data_type": "bool"}), None)
    processor = sa_type.dialect_impl(dialect).bind_processor(dialect)
    assert processor is None or processor(True) is True


LITERALS = [
    ({"data_type": "text"}, "it's ü", "'it''s ü'"),
    ({"data_type": "bigint"}, -9223372036854775808, "-9223372036854775808"),
    (
        {"data_type": "double"},
        0.1 + 0.2,
        "UTL_RAW.CAST_TO_BINARY_DOUBLE(HEXTORAW('3FD3333333333334'))",
    ),
    ({"data_type": "bool"}, True, "1"),
    (
        {"data_type": "timestamp"},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=CEST),
        "TO_TIMESTAMP_TZ('2024-05-06 05:08:09.123456 +00:00', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')",
    ),
    (
        {"data_type": "timestamp", "timezone": False},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456),
        "TO_TIMESTAMP('2024-05-06 07:08:09.123456', 'YYYY-MM-DD HH24:MI:SS.FF6')",
    ),
    ({"data_type": "date"}, datetime.date(2024, 2, 29), "TO_DATE('2024-02-29', 'YYYY-MM-DD')"),
    (
        {"data_type": "time"},
        datetime.time(23, 59, 58, 123456),
        "INTERVAL '0 23:59:58.123456' DAY(0) TO SECOND(6)",
    ),
    ({"data_type": "decimal"}, Decimal("-0.000000001"), "-0.000000001"),
    ({"data_type": "wei"}, Decimal(10**37), "10000000000000000000000000000000000000"),
    ({"data_type": "json"}, {"a": [1, "b"]}, '\'{"a":[1,"b"]}\''),
    ({"data_type": "binary"}, b"\x00\xffA", "HEXTORAW('00FF41')"),
    ({"data_type": "binary", "precision": 3}, b"\x00\xffA", "HEXTORAW('00FF41')"),
]


@pytest.mark.parametrize(
    "hints,value,literal", LITERALS, ids=[h["data_type"] + str(len(h)) for h, _, _ in LITERALS]
)
def test_select_of_a_literal_value(hints: Dict[str, Any], value: Any, literal: str) -> None:
    """Values rendered inline (merge SQL compiles with literal binds) are Oracle literals."""
    dialect = _dialect("19c")
    sa_type = _mapper("19c").to_destination_type(_column(hints), None)
    select = sa.select(sa.literal(value, sa_type).label("v"))
    compiled = select.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    assert str(compiled) == f"SELECT {literal} AS v FROM DUAL"


# --- the processors on their own: bind, then read back what the driver would return -----------


def _bind(sa_type: Any, value: Any) -> Any:
    dialect = _dialect("19c")
    processor = sa_type.dialect_impl(dialect).bind_processor(dialect)
    return value if processor is None else processor(value)


def _result(sa_type: Any, value: Any) -> Any:
    dialect = _dialect("19c")
    processor = sa_type.dialect_impl(dialect).result_processor(dialect, None)
    return value if processor is None else processor(value)


def test_aware_timestamps_keep_their_instant() -> None:
    """Stored at +00:00; python-oracledb returns the naive wall time at the stored offset."""
    ts = OracleTimestamp(6, timezone=True)
    value = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=CEST)
    text = _bind(ts, value)
    stored = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f +00:00")  # what Oracle keeps
    read = _result(ts, stored)
    assert read == value and read.tzinfo == UTC
    # a driver that returns aware values, or a value written by someone else at another offset
    assert _result(ts, value) == value and _result(ts, value).tzinfo == UTC
    # naive input is UTC, as everywhere in dlt
    assert _bind(ts, datetime.datetime(2024, 1, 1)) == "2024-01-01 00:00:00.000000 +00:00"
    assert _bind(ts, "2024-05-06T07:08:09+02:00") == "2024-05-06 05:08:09.000000 +00:00"
    assert _bind(ts, None) is None and _result(ts, None) is None


def test_naive_timestamps_round_trip_unchanged() -> None:
    ts = OracleTimestamp(6, timezone=False)
    value = datetime.datetime(1999, 12, 31, 23, 59, 59, 999999)
    assert _bind(ts, value) == "1999-12-31 23:59:59.999999"
    assert _result(ts, value) == value
    assert _bind(ts, value.replace(tzinfo=CEST)) == "1999-12-31 21:59:59.999999"
    assert _bind(ts, datetime.date(2024, 2, 29)) == "2024-02-29 00:00:00.000000"


@pytest.mark.parametrize(
    "value",
    [
        datetime.time(0, 0),
        datetime.time(23, 59, 58, 123456),
        datetime.time(12, 0, 0, 1),
        datetime.time(23, 59, 59, 999999),
    ],
)
def test_times_round_trip_through_intervals(value: datetime.time) -> None:
    t = OracleTime(6)
    interval = _bind(t, value)
    assert isinstance(interval, datetime.timedelta)
    assert datetime.timedelta(0) <= interval < datetime.timedelta(days=1)
    assert _result(t, interval) == value
    assert _bind(t, value.isoformat()) == interval


@pytest.mark.parametrize("value", [0.1 + 0.2, -1.5e300, 5e-324, math.inf, -math.inf, 0.0, -0.0])
def test_doubles_round_trip_bit_for_bit(value: float) -> None:
    """Beyond NUMBER's range (1e126) and its lack of infinities: the IEEE bytes go as they are."""
    raw = _bind(OracleDouble(), value)
    assert isinstance(raw, bytes) and len(raw) == 8
    back = struct.unpack(">d", raw)[0]
    assert struct.pack(">d", back) == struct.pack(">d", value)
    assert _result(OracleDouble(), back) == value
    assert _result(OracleDouble(), Decimal("0.5")) == 0.5


def test_nan_survives() -> None:
    raw = _bind(OracleDouble(), math.nan)
    assert math.isnan(struct.unpack(">d", raw)[0])


def test_decimals_read_back_as_decimal_whatever_the_driver_returns() -> None:
    dec = OracleDecimal(38, 0)
    assert _result(dec, 10**37) == Decimal(10**37)  # NUMBER(38, 0) comes back as int
    assert _result(dec, Decimal("1.5")) == Decimal("1.5")
    assert _bind(dec, 0.1) == Decimal("0.1")
    assert _bind(dec, Decimal("-0.000000001")) == Decimal("-0.000000001")


def test_number_booleans() -> None:
    flag = OracleNumberBoolean()
    assert [_bind(flag, v) for v in (True, False, None)] == [1, 0, None]
    assert [_result(flag, v) for v in (1, 0, None)] == [True, False, None]


def test_json_documents() -> None:
    doc = {"moves": ["e4", "e5"], "at": datetime.date(2024, 1, 2), "n": Decimal("1.5")}
    text = _bind(OracleJson(), doc)
    assert isinstance(text, str)
    assert _result(OracleJson(), text) == {"moves": ["e4", "e5"], "at": "2024-01-02", "n": "1.5"}
    assert _result(OracleJson(), text.encode()) == _result(OracleJson(), text)


# --- the schema reader --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "db_type,precision,scale,expected",
    [
        ("TIMESTAMP(6) WITH TIME ZONE", None, 6, {"data_type": "timestamp", "timezone": True}),
        (
            "TIMESTAMP(3) WITH LOCAL TIME ZONE",
            None,
            3,
            {"data_type": "timestamp", "timezone": True},
        ),
        ("TIMESTAMP(6)", None, 6, {"data_type": "timestamp", "timezone": False}),
        ("INTERVAL DAY(0) TO SECOND(6)", None, None, {"data_type": "time"}),
        ("INTERVAL DAY(2) TO SECOND(6)", None, None, {"data_type": "text"}),
        ("NUMBER", 19, 0, {"data_type": "bigint"}),
        ("NUMBER", 10, 0, {"data_type": "bigint", "precision": 32}),
        ("NUMBER", 5, 0, {"data_type": "bigint", "precision": 16}),
        ("NUMBER", 1, 0, {"data_type": "bool"}),
        ("NUMBER", None, 0, {"data_type": "bigint"}),
        ("NUMBER", None, None, {"data_type": "decimal"}),
        ("NUMBER", 38, 9, {"data_type": "decimal", "precision": 38, "scale": 9}),
        ("NUMBER", 38, 0, {"data_type": "wei"}),
        ("NUMBER", 30, 0, {"data_type": "decimal", "precision": 30, "scale": 0}),
        ("BINARY_DOUBLE", None, None, {"data_type": "double"}),
        ("FLOAT", None, None, {"data_type": "double"}),
        ("CLOB", None, None, {"data_type": "text"}),
        ("VARCHAR2(20)", None, None, {"data_type": "text", "precision": 20}),
        ("NVARCHAR2(5)", None, None, {"data_type": "text", "precision": 5}),
        ("BLOB", None, None, {"data_type": "binary"}),
        ("RAW(16)", None, None, {"data_type": "binary", "precision": 16}),
        ("DATE", None, None, {"data_type": "date"}),
        ("BOOLEAN", None, None, {"data_type": "bool"}),
        ("JSON", None, None, {"data_type": "json"}),
        ("XMLTYPE", None, None, {"data_type": "text"}),
    ],
)
def test_reverse_mapping_of_all_tab_columns_names(
    db_type: str, precision: Optional[int], scale: Optional[int], expected: Dict[str, Any]
) -> None:
    assert _mapper("19c").from_destination_type(db_type, precision, scale) == expected


def test_every_mapped_type_maps_back() -> None:
    """What we create reads back as the dlt type it was made from (the storage round trip)."""
    mapper = _mapper("19c")
    dialect = _dialect("19c")
    for hints, _ in EXPECTED_TYPES:
        if hints.get("precision") in (4001, 2001) or hints["data_type"] == "json":
            continue  # longer than VARCHAR2 / RAW: becomes CLOB / BLOB; json needs its check
        rendered = str(mapper.to_destination_type(_column(hints), None).compile(dialect=dialect))
        name, precision, scale = rendered, None, None
        if rendered.startswith("NUMBER("):  # ALL_TAB_COLUMNS splits precision and scale off
            args = [int(a) for a in rendered[7:-1].split(",")]
            name, precision, scale = "NUMBER", args[0], args[1] if len(args) > 1 else 0
        name = name.replace(" CHAR)", ")")
        back = mapper.from_destination_type(name, precision, scale)
        assert back["data_type"] == hints["data_type"], (hints, rendered, back)


def test_storage_columns_query_reads_all_tab_columns() -> None:
    query = storage_columns_query("GAMES", ["MATCHES", "PLAYERS"])
    sql = " ".join(str(query.compile(dialect=_dialect("19c"))).split())
    assert sql == (
        "SELECT all_tab_columns.table_name, all_tab_columns.column_name, CASE WHEN (EXISTS"
        " (SELECT * FROM all_json_columns WHERE all_json_columns.owner = all_tab_columns.owner"
        " AND all_json_columns.table_name = all_tab_columns.table_name AND"
        " all_json_columns.column_name = all_tab_columns.column_name)) THEN :param_1 ELSE"
        " all_tab_columns.data_type END AS anon_1, all_tab_columns.nullable,"
        " all_tab_columns.data_precision, all_tab_columns.data_scale, all_tab_columns.char_length,"
        " all_tab_columns.data_length FROM all_tab_columns WHERE all_tab_columns.owner ="
        " :owner_1 AND all_tab_columns.table_name IN (__[POSTCOMPILE_table_name_1]) ORDER BY"
        " all_tab_columns.table_name, all_tab_columns.column_id"
    )


def test_read_storage_columns_turns_dictionary_rows_into_dlt_columns() -> None:
    """Runs the real query against stand-in dictionary views (SQLite), as Oracle would."""
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        raw.executescript(
            """
            CREATE TABLE all_tab_columns (owner, table_name, column_name, column_id, data_type,
                nullable, data_precision, data_scale, char_length, data_length);
            CREATE TABLE all_json_columns (owner, table_name, column_name);
            INSERT INTO all_tab_columns VALUES
                ('GAMES', 'MATCHES', 'ID', 1, 'NUMBER', 'N', 19, 0, 0, 22),
                ('GAMES', 'MATCHES', 'WHITE', 2, 'VARCHAR2', 'Y', NULL, NULL, 20, 80),
                ('GAMES', 'MATCHES', 'META', 3, 'CLOB', 'Y', NULL, NULL, 0, 4000),
                ('GAMES', 'MATCHES', 'PLAYED_AT', 4, 'TIMESTAMP(6) WITH TIME ZONE', 'Y',
                    NULL, 6, 0, 13),
                ('GAMES', 'MATCHES', 'PGN', 5, 'RAW', 'Y', NULL, NULL, 0, 16),
                ('GAMES', 'MATCHES', 'SCORE', 6, 'FLOAT', 'Y', 126, NULL, 0, 22),
                ('GAMES', 'OTHER', 'X', 1, 'CLOB', 'Y', NULL, NULL, 0, 4000),
                ('OTHER', 'MATCHES', 'Y', 1, 'CLOB', 'Y', NULL, NULL, 0, 4000);
            INSERT INTO all_json_columns VALUES ('GAMES', 'MATCHES', 'META');
            """
        )
        stored = OracleCapabilities("oracle").read_storage_columns(conn, "games", ["matches"])
    mapper = _mapper("19c")
    columns = stored["matches"]
    assert list(stored) == ["matches"]
    assert [(c.name, c.db_type, c.nullable) for c in columns] == [
        ("id", "NUMBER", False),
        ("white", "VARCHAR2(20)", True),
        ("meta", "JSON", True),
        ("played_at", "TIMESTAMP(6) WITH TIME ZONE", True),
        ("pgn", "RAW(16)", True),
        ("score", "FLOAT", True),
    ]
    assert [mapper.from_destination_type(c.db_type, c.precision, c.scale) for c in columns] == [
        {"data_type": "bigint"},
        {"data_type": "text", "precision": 20},
        {"data_type": "json"},
        {"data_type": "timestamp", "timezone": True},
        {"data_type": "binary", "precision": 16},
        {"data_type": "double"},
    ]


@pytest.mark.parametrize(
    "hints",
    [
        {"data_type": "decimal", "precision": 39, "scale": 0},
        {"data_type": "decimal", "precision": 10, "scale": 11},
        {"data_type": "timestamp", "precision": 10},
        {"data_type": "time", "precision": 10},
        {"data_type": "bigint", "precision": 65},
    ],
)
def test_more_than_oracle_holds_is_refused_with_the_column_named(hints: Dict[str, Any]) -> None:
    with pytest.raises(TerminalValueError, match="`wide`"):
        _mapper("19c").to_destination_type(_column(hints, name="wide"), {"name": "t"})  # type: ignore[arg-type]


class TestDatasetLifecycle:
    """In Oracle a schema is a user: datasets are found in ALL_USERS and never created."""

    def test_schema_exists_query_compiles_for_oracle(self) -> None:
        """The existence check asks ALL_USERS for the stored (upper-case) name, bound."""
        from sqlalchemy.dialects import oracle as oracle_dialect

        from dlt_sqlalchemy.dialects.oracle.capabilities import (
            schema_exists_query,
            schema_tables_query,
        )

        dialect = oracle_dialect.dialect()
        owner = dialect.denormalize_name("games")
        assert owner == "GAMES"
        compiled = schema_exists_query(owner).compile(dialect=dialect)
        assert " ".join(str(compiled).split()) == (
            "SELECT count(*) AS count_1 FROM all_users WHERE all_users.username = :username_1"
        )
        assert compiled.params == {"username_1": "GAMES"}
        tables = schema_tables_query(owner).compile(dialect=dialect)
        assert "FROM all_tables WHERE all_tables.owner = :owner_1" in " ".join(str(tables).split())

    def test_missing_schema_error_says_what_to_do(self) -> None:
        """Creating a dataset is refused with the remedies: own schema, a DBA, a table prefix."""
        from dlt.common.destination.exceptions import DestinationTerminalException

        from dlt_sqlalchemy.dialects.oracle.capabilities import MissingOracleSchema

        error = MissingOracleSchema("GAMES")
        assert isinstance(error, DestinationTerminalException)
        assert "GAMES" in str(error) and "staging_table_prefix" in str(error)
        assert "DBA" in str(error)
