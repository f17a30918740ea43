"""Trino types, compiled against the `trino[sqlalchemy]` dialect; JSON and binary stored as VARCHAR
and converted by the types' own processors; no constraints in any DDL.
"""

from __future__ import annotations

import base64
import datetime
import warnings
from decimal import Decimal
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa
from dlt.common.exceptions import TerminalValueError
from dlt.common.schema import Schema
from dlt.common.schema.typing import TColumnSchema
from dlt.common.schema.utils import new_column, new_table
from trino.sqlalchemy.dialect import TrinoDialect

from dlt_sqlalchemy import sqlalchemy
from dlt_sqlalchemy.dialects.trino.capabilities import TrinoCapabilities
from dlt_sqlalchemy.dialects.trino.types import TrinoBase64Binary, TrinoJsonText, TrinoTypeMapper
from dlt_sqlalchemy.load.inserts import compile_positional_insert

pytestmark = pytest.mark.compiled

URL = "trino://loader@db.example:8080/hive"
CEST = datetime.timezone(datetime.timedelta(hours=2))

EXPECTED_TYPES: List[Any] = [
    ({"data_type": "text"}, "VARCHAR"),
    ({"data_type": "text", "precision": 20}, "VARCHAR(20)"),
    ({"data_type": "text", "unique": True}, "VARCHAR"),
    ({"data_type": "text", "primary_key": True}, "VARCHAR"),
    ({"data_type": "bigint"}, "BIGINT"),
    ({"data_type": "bigint", "precision": 32}, "INTEGER"),
    ({"data_type": "bigint", "precision": 16}, "SMALLINT"),
    ({"data_type": "double"}, "DOUBLE"),
    ({"data_type": "bool"}, "BOOLEAN"),
    ({"data_type": "timestamp"}, "TIMESTAMP(3) WITH TIME ZONE"),
    ({"data_type": "timestamp", "timezone": True, "precision": 0}, "TIMESTAMP(0) WITH TIME ZONE"),
    ({"data_type": "timestamp", "timezone": False}, "TIMESTAMP(3)"),
    ({"data_type": "date"}, "DATE"),
    ({"data_type": "time"}, "TIME(3)"),
    ({"data_type": "decimal"}, "DECIMAL(38, 9)"),
    ({"data_type": "decimal", "precision": 10, "scale": 2}, "DECIMAL(10, 2)"),
    ({"data_type": "wei"}, "DECIMAL(38, 0)"),
    ({"data_type": "json"}, "VARCHAR"),
    ({"data_type": "binary"}, "VARCHAR"),
    ({"data_type": "binary", "precision": 16}, "VARCHAR(24)"),
    ({"data_type": "binary", "precision": 3}, "VARCHAR(4)"),
]


def _dialect() -> Any:
    dialect = TrinoDialect(paramstyle="qmark")
    # the dialect reads `SELECT version()` into a one-element tuple of the version string
    dialect.server_version_info = ("476",)
    return dialect


def _mapper() -> TrinoTypeMapper:
    mapper = sqlalchemy(URL).capabilities().get_type_mapper(_dialect())
    assert isinstance(mapper, TrinoTypeMapper)
    return mapper


def _column(hints: Dict[str, Any], name: str = "c") -> TColumnSchema:
    return {"name": name, "nullable": True, **hints}  # type: ignore[typeddict-item]


@pytest.mark.parametrize(
    "hints,expected", EXPECTED_TYPES, ids=[str(sorted(h.items())) for h, _ in EXPECTED_TYPES]
)
def test_each_dlt_type_renders_a_trino_type(hints: Dict[str, Any], expected: str) -> None:
    sa_type = _mapper().to_destination_type(_column(hints), None)
    assert str(sa_type.compile(dialect=_dialect())) == expected
    assert str(sa_type.compile(dialect=TrinoDialect())) == expected  # unconnected: the same


def test_capabilities() -> None:
    caps = sqlalchemy(URL).capabilities()
    assert caps.type_mapper is TrinoTypeMapper
    assert caps.timestamp_precision == caps.max_timestamp_precision == 3
    assert caps.supports_transactions is False and caps.supports_ddl_transactions is False
    assert (caps.decimal_precision, caps.wei_precision) == ((38, 9), (38, 0))


def _client(**destination_kwargs: Any) -> Any:
    schema = Schema("chess")
    columns = [
        {"name": "game_key", "data_type": "text", "nullable": False, "primary_key": True},
        {"name": "move_id", "data_type": "text", "nullable": False, "unique": True},
        new_column("white", "text"),
        {"name": "played_at", "data_type": "timestamp", "nullable": True},
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


def test_create_table_has_no_constraints_even_when_asked_for() -> None:
    """Primary key and unique hints with both options on: no constraint, and no dialect warning."""
    client = _client(create_primary_keys=True, create_unique_indexes=True)
    columns = list(client.schema.get_table("matches")["columns"].values())
    (create,) = client._get_table_update_sql("matches", columns, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Trino's DDL compiler warns for each dropped constraint
        rendered = _one_line(create, client.dialect)
    assert rendered == (
        'CREATE TABLE IF NOT EXISTS "games"."matches" ( "game_key" VARCHAR NOT NULL,'
        ' "move_id" VARCHAR NOT NULL, "white" VARCHAR, "played_at" TIMESTAMP(3) WITH TIME ZONE,'
        ' "meta" VARCHAR, "pgn" VARCHAR )'
    )
    table = client.sa_table("matches")
    assert not table.primary_key.columns
    assert not [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    assert not [c for c in table.columns if c.unique or c.primary_key]


def test_adapt_table_keeps_a_table_without_keys() -> None:
    metadata = sa.MetaData()
    table = sa.Table("t", metadata, sa.Column("a", sa.Integer), schema="s")
    assert TrinoCapabilities("trino").adapt_table(table, {"name": "t"}) is table  # type: ignore[typeddict-item]


def test_alter_table_adds_columns_one_statement_each() -> None:
    client = _client()
    client.schema.update_table(
        new_table("matches", columns=[new_column("opening", "text"), new_column("doc", "json")])
    )
    table = client.schema.get_table("matches")["columns"]
    statements = client._get_table_update_sql("matches", [table["opening"], table["doc"]], True)
    assert [_one_line(s, client.dialect) for s in statements] == [
        'ALTER TABLE "games"."matches" ADD COLUMN "opening" VARCHAR',
        'ALTER TABLE "games"."matches" ADD COLUMN "doc" VARCHAR',
    ]


def test_insert_binds_json_and_binary_as_text() -> None:
    client = _client()
    dialect = _dialect()
    table = client.sa_table("matches")
    assert compile_positional_insert(table, dialect) == (
        'INSERT INTO "games"."matches" ("game_key", "move_id", "white", "played_at", "meta",'
        ' "pgn") VALUES (?, ?, ?, ?, ?, ?)'
    )

    def bound(name: str, value: Any) -> Any:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        return value if processor is None else processor(value)

    assert bound("meta", {"moves": ["e4"], "n": None}) == '{"moves":["e4"],"n":null}'
    assert bound("pgn", b"\x00\xff\x10") == "AP8Q"
    aware = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=CEST)
    assert bound("played_at", aware) == aware  # the Trino client renders zone-aware literals


LITERALS = [
    ({"data_type": "text"}, "it's ü", "'it''s ü'"),
    ({"data_type": "bigint"}, -9223372036854775808, "-9223372036854775808"),
    ({"data_type": "double"}, 0.1 + 0.2, "0.30000000000000004"),
    ({"data_type": "bool"}, True, "true"),
    (
        {"data_type": "timestamp"},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=CEST),
        "TIMESTAMP '2024-05-06 07:08:09.123000 +02:00'",
    ),
    (
        {"data_type": "timestamp"},
        datetime.datetime(
            2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(-datetime.timedelta(hours=9, minutes=30))
        ),
        "TIMESTAMP '2024-05-06 07:08:09.000000 -09:30'",
    ),
    (
        {"data_type": "timestamp", "timezone": False},
        datetime.datetime(5, 5, 6, 7, 8, 9, 123000),
        "TIMESTAMP '0005-05-06 07:08:09.123000'",
    ),
    ({"data_type": "date"}, datetime.date(2024, 2, 29), "DATE '2024-02-29'"),
    ({"data_type": "time"}, datetime.time(23, 59, 58, 123000), "TIME '23:59:58.123000'"),
    ({"data_type": "decimal"}, Decimal("-0.000000001"), "-0.000000001"),
    ({"data_type": "wei"}, Decimal(10**37), "10000000000000000000000000000000000000"),
    ({"data_type": "json"}, {"a": [1, "b"]}, '\'{"a":[1,"b"]}\''),
    ({"data_type": "binary"}, b"\x00\xffA", "'AP9B'"),
]


@pytest.mark.parametrize(
    "hints,value,literal",
    LITERALS,
    ids=[f"{h['data_type']}{i}" for i, (h, _, _) in enumerate(LITERALS)],
)
def test_select_of_a_literal_value(hints: Dict[str, Any], value: Any, literal: str) -> None:
    """Inline literals are typed where Trino compares no plain string (timestamps, dates)."""
    sa_type = _mapper().to_destination_type(_column(hints), None)
    select = sa.select(sa.literal(value, sa_type).label("v"))
    compiled = select.compile(dialect=_dialect(), compile_kwargs={"literal_binds": True})
    assert str(compiled) == f"SELECT {literal} AS v"


def _bind(sa_type: Any, value: Any) -> Any:
    dialect = _dialect()
    processor = sa_type.dialect_impl(dialect).bind_processor(dialect)
    return value if processor is None else processor(value)


def _result(sa_type: Any, value: Any) -> Any:
    dialect = _dialect()
    processor = sa_type.dialect_impl(dialect).result_processor(dialect, None)
    return value if processor is None else processor(value)


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x00\x01\xff\x00binary\n", bytes(range(256))])
def test_binary_round_trips_as_base64(value: bytes) -> None:
    text = _bind(TrinoBase64Binary(), value)
    assert isinstance(text, str) and text == base64.b64encode(value).decode()
    assert len(text) == 4 * -(-len(value) // 3)  # what VARCHAR(n) is sized for
    assert _result(TrinoBase64Binary(), text) == value
    assert _bind(TrinoBase64Binary(), bytearray(value)) == text
    assert _bind(TrinoBase64Binary(), None) is None and _result(TrinoBase64Binary(), None) is None


def test_binary_refuses_text_that_is_not_base64() -> None:
    with pytest.raises(ValueError):
        _result(TrinoBase64Binary(), "not base64!")


def test_json_round_trips_as_text() -> None:
    doc = {"a": [1, {"b": "ü☃😀"}], "n": None, "q": 'say "hi"\\', "d": Decimal("1.5")}
    text = _bind(TrinoJsonText(), doc)
    assert isinstance(text, str)
    assert _result(TrinoJsonText(), text) == {**doc, "d": "1.5"}
    assert _result(TrinoJsonText(), text.encode()) == _result(TrinoJsonText(), text)
    assert _bind(TrinoJsonText(), [1, "two"]) == '[1,"two"]'


@pytest.mark.parametrize(
    "db_type,expected",
    [
        ("varchar", {"data_type": "text"}),
        ("varchar(20)", {"data_type": "text", "precision": 20}),
        ("bigint", {"data_type": "bigint"}),
        ("integer", {"data_type": "bigint", "precision": 32}),
        ("smallint", {"data_type": "bigint", "precision": 16}),
        ("double", {"data_type": "double"}),
        ("real", {"data_type": "double"}),
        ("boolean", {"data_type": "bool"}),
        ("date", {"data_type": "date"}),
        ("time(3)", {"data_type": "time"}),
        ("timestamp(3)", {"data_type": "timestamp", "timezone": False}),
        ("timestamp(3) with time zone", {"data_type": "timestamp", "timezone": True}),
        ("decimal(38,9)", {"data_type": "decimal", "precision": 38, "scale": 9}),
        ("decimal(38,0)", {"data_type": "wei"}),
        ("varbinary", {"data_type": "binary"}),
        ("json", {"data_type": "json"}),
    ],
)
def test_reverse_mapping_of_information_schema_names(
    db_type: str, expected: Dict[str, Any]
) -> None:
    """`information_schema.columns.data_type` as Trino spells it, parameters included."""
    assert _mapper().from_destination_type(db_type, None, None) == expected


def test_storage_columns_query_asks_only_for_columns_trino_has() -> None:
    """Trino's information_schema.columns has no precision, scale or length columns."""

    class Recorder:
        dialect = _dialect()
        query: Any = None

        def execute(self, query: Any) -> List[Any]:
            self.query = query
            return [
                ("matches", "played_at", "timestamp(3) with time zone", "YES"),
                ("matches", "id", "bigint", "NO"),
            ]

    connection = Recorder()
    stored = TrinoCapabilities("trino").read_storage_columns(
        connection,  # type: ignore[arg-type]
        "games",
        ["matches"],
    )
    sql = " ".join(str(connection.query.compile(dialect=_dialect())).split())
    assert sql == (
        "SELECT information_schema.columns.table_name, information_schema.columns.column_name,"
        " information_schema.columns.data_type, information_schema.columns.is_nullable FROM"
        " information_schema.columns WHERE information_schema.columns.table_schema = ? AND"
        " information_schema.columns.table_name IN (__[POSTCOMPILE_table_name_1]) ORDER BY"
        " information_schema.columns.table_name, information_schema.columns.ordinal_position"
    )
    assert [(c.name, c.db_type, c.nullable) for c in stored["matches"]] == [
        ("played_at", "timestamp(3) with time zone", True),
        ("id", "bigint", False),
    ]


@pytest.mark.parametrize(
    "hints",
    [
        {"data_type": "decimal", "precision": 39, "scale": 0},
        {"data_type": "timestamp", "precision": 6},
        {"data_type": "time", "precision": 6},
    ],
)
def test_more_than_the_connectors_hold_is_refused(hints: Dict[str, Any]) -> None:
    with pytest.raises(TerminalValueError, match="`wide`"):
        _mapper().to_destination_type(_column(hints, name="wide"), {"name": "t"})  # type: ignore[arg-type]


def test_catalogs_with_microseconds_raise_the_precision_through_capabilities() -> None:
    """Iceberg stores timestamp(6): the capability override reaches the DDL."""
    destination = sqlalchemy(URL, timestamp_precision=6, max_timestamp_precision=6)
    mapper = destination.capabilities().get_type_mapper(_dialect())
    rendered = [
        str(mapper.to_destination_type(_column(h), None).compile(dialect=_dialect()))
        for h in ({"data_type": "timestamp"}, {"data_type": "time"})
    ]
    assert rendered == ["TIMESTAMP(6) WITH TIME ZONE", "TIME(6)"]
    with pytest.raises(TerminalValueError):
        mapper.to_destination_type(_column({"data_type": "timestamp", "precision": 7}), None)


def test_has_dataset_asks_information_schema_not_reflection() -> None:
    """The trino package's `has_schema` refuses SQLAlchemy 2's `info_cache` argument, so the
    dataset check is a query of our own."""

    class Recorder:
        queries: List[Any] = []

        def execute_sql(self, query: Any) -> List[Any]:
            self.queries.append(query)
            return [(1,)]

    client = Recorder()
    assert TrinoCapabilities("trino").has_dataset(client, "games")  # type: ignore[arg-type]
    sql = " ".join(str(client.queries[0].compile(dialect=_dialect())).split())
    assert sql == (
        "SELECT count(*) AS count_1 FROM information_schema.schemata"
        " WHERE information_schema.schemata.schema_name = ?"
    )


def test_capabilities_without_the_trino_package_name_the_pip_line() -> None:
    """The Trino dialect ships inside the `trino` package: without it, the error says what to
    install instead of calling the dialect unknown."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['trino'] = None\n"
        "from dlt_sqlalchemy import sqlalchemy\n"
        "from dlt_sqlalchemy.exceptions import MissingDriver\n"
        "try:\n"
        f"    sqlalchemy({URL!r}).capabilities()\n"
        "except MissingDriver as ex:\n"
        "    print(ex)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert 'pip install "trino[sqlalchemy]"' in result.stdout
