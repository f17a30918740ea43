"""The extension API as the spec documents it, with `dlt_sqlalchemy` import paths.

The two spec examples (a custom type mapper with a `JSONString` type; a registered
`MyDialectCapabilities` that reorders primary key columns) run here as written, against live
databases, plus the registry's lookup rules.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Type

import dlt
import pytest
import sqlalchemy as sa
from dlt.common import json
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema
from sqlalchemy.dialects.mysql.mysqldb import MySQLDialect_mysqldb
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from conftest import Backend
from dlt_sqlalchemy import (
    DialectCapabilities,
    SqlalchemyTypeMapper,
    get_dialect_capabilities,
    register_dialect_capabilities,
)
from dlt_sqlalchemy import sqlalchemy as sqlalchemy_destination
from dlt_sqlalchemy.dialects import _REGISTRY


class JSONString(sa.TypeDecorator):  # type: ignore[type-arg]
    """The spec's custom type: JSON kept as a string, (de)serialized on the way."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return json.dumps(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return json.loads(value)


class TrinoTypeMapper(SqlalchemyTypeMapper):
    """The spec's quick approach: override one visitor (the private spelling)."""

    def _db_type_from_json_type(self, column: Any, table: Any = None) -> Any:
        return JSONString()


class ShortTextTypeMapper(SqlalchemyTypeMapper):
    """The spec's second example: override the public visitor and call super()."""

    def db_type_from_text_type(self, column: Any, table: Any = None) -> Any:
        type_ = super().db_type_from_text_type(column, table)
        length = column.get("precision")
        if length is None:
            return type_.with_variant(sa.Unicode(length=100_000), "postgresql")
        return type_.with_variant(sa.Unicode(length=length), "postgresql")


class MyTypeMapper(SqlalchemyTypeMapper):
    def _db_type_from_json_type(self, column: Any, table: Any = None) -> Any:
        return sa.String(length=4000)


class MyDialectCapabilities(DialectCapabilities):
    """The spec's full approach, as written (apart from the import paths)."""

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.max_identifier_length = 128
        caps.max_column_identifier_length = 128
        caps.sqlglot_dialect = "oracle"  # type: ignore[assignment]

    def type_mapper_class(self) -> Optional[Type[DataTypeMapper]]:
        return MyTypeMapper

    def adapt_table(self, table: sa.Table, table_schema: PreparedTableSchema) -> sa.Table:
        pk_col_names = [c.name for c in table.primary_key.columns]
        if not pk_col_names:
            return table
        pk_cols = [c for c in table.columns if c.name in pk_col_names]
        other_cols = [c for c in table.columns if c.name not in pk_col_names]
        if [c.name for c in table.columns] == [c.name for c in pk_cols + other_cols]:
            return table
        schema = table.schema
        name = table.name
        metadata = table.metadata
        metadata.remove(table)
        return sa.Table(
            name,
            metadata,
            *[c._copy() for c in pk_cols + other_cols],
            sa.PrimaryKeyConstraint(*pk_col_names),
            schema=schema,
        )

    def is_undefined_relation(self, e: Exception) -> Optional[bool]:
        if "MY_CUSTOM_MISSING_TABLE_CODE" in str(e):
            return True
        return None


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


def _column_types(backend: Backend, dataset: str, table: str) -> dict[str, str]:
    rows = backend.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        f" WHERE table_schema = '{dataset}' AND table_name = '{table}'"
    )
    return {name: str(data_type).lower() for name, data_type in rows}


def test_quick_approach_type_mapper_stores_json_as_string(backend: Backend) -> None:
    """`type_mapper=` with a `JSONString` column: stored as text; a SQLAlchemy select through
    the table reads objects back (the decorator runs), `pipeline.dataset()` reads the stored
    string, as dlt's built-in destination does."""
    pipeline = backend.pipeline(destination=backend.destination(type_mapper=TrinoTypeMapper))
    document = {"moves": ["e4", "e5"], "result": "1-0"}
    pipeline.run(
        [{"id": 1, "doc": document}], table_name="docs", columns={"doc": {"data_type": "json"}}
    )
    with pipeline.destination_client() as client:
        table = client.sa_table("docs")
        assert isinstance(table.c["doc"].type, JSONString)
        rows = client.sql_client.execute_sql(sa.select(table.c["doc"]))
    assert rows[0][0] == document
    raw = backend.query(f"SELECT doc FROM {backend.qualified(pipeline.dataset_name, 'docs')}")
    assert isinstance(raw[0][0], str) and json.loads(raw[0][0]) == document
    read = pipeline.dataset().docs.select("doc").fetchall()[0][0]
    assert isinstance(read, str) and json.loads(read) == document
    # without the user's mapper, json reads back as objects on every backend
    plain = backend.pipeline()
    json_hint = {"doc": {"data_type": "json"}}
    plain.run([{"id": 1, "doc": document}], table_name="docs", columns=json_hint)
    assert plain.dataset().docs.select("doc").fetchall()[0][0] == document


def test_public_visitor_override_with_variant(backend: Backend) -> None:
    """Overriding `db_type_from_text_type` and calling super() works; variants pick a dialect."""
    pipeline = backend.pipeline(destination=backend.destination(type_mapper=ShortTextTypeMapper))
    pipeline.run([{"id": 1, "name": "Magnus"}], table_name="players")
    with pipeline.destination_client() as client:
        compiled = sa.schema.CreateTable(client.sa_table("players")).compile(dialect=client.dialect)
    if backend.name == "postgresql":
        assert "VARCHAR(100000)" in str(compiled)
    assert pipeline.dataset().players.fetchall()[0][0] == 1


def test_registered_capabilities_apply_to_a_backend(
    backend: Backend, restore_registry: None
) -> None:
    """A registered class wins for its backend: caps, type mapper and adapt_table all apply."""
    backend_name = sa.make_url(backend.url).get_backend_name()
    # a user extending a built-in dialect subclasses it, keeping e.g. SQLite's dataset files
    builtin = type(get_dialect_capabilities(backend_name))
    combined = type("Combined", (MyDialectCapabilities, builtin), {})
    register_dialect_capabilities(backend_name, combined)
    pipeline = backend.pipeline(destination=backend.destination(create_primary_keys=True))
    caps = pipeline.destination.capabilities()
    assert caps.max_identifier_length == 128
    assert caps.sqlglot_dialect == "oracle"

    @dlt.resource(name="ranked", primary_key="player_id", columns={"info": {"data_type": "json"}})
    def ranked() -> Iterator[Any]:
        yield {"rank": 1, "info": {"a": 1}, "player_id": 42}

    pipeline.run(ranked())
    with pipeline.destination_client() as client:
        table = client.sa_table("ranked")
        assert next(iter(table.columns)).name == "player_id"
        assert isinstance(table.c["info"].type, sa.String)
        assert not isinstance(table.c["info"].type, sa.JSON)
        assert client.dialect_caps.is_undefined_relation(Exception("MY_CUSTOM_MISSING_TABLE_CODE"))


def test_explicit_type_mapper_beats_the_registry(restore_registry: None) -> None:
    """`type_mapper=` passed to the factory wins over a registered dialect's mapper."""
    from dlt_sqlalchemy import sqlalchemy

    register_dialect_capabilities("postgresql", MyDialectCapabilities)
    registered = sqlalchemy("postgresql://u@h/db").capabilities()
    explicit = sqlalchemy("postgresql://u@h/db", type_mapper=TrinoTypeMapper).capabilities()
    assert registered.type_mapper is MyTypeMapper
    assert explicit.type_mapper is TrinoTypeMapper


def test_lookup_order_backend_then_dialect_then_generic(restore_registry: None) -> None:
    """Lookup: the URL's backend name, then the dialect's name, then a generic default."""

    class ByBackend(DialectCapabilities):
        pass

    class ByDialect(DialectCapabilities):
        pass

    register_dialect_capabilities("my_dialect", ByBackend)
    register_dialect_capabilities("my_engine", ByDialect)
    assert type(get_dialect_capabilities("my_dialect", "my_engine")) is ByBackend
    assert type(get_dialect_capabilities("other", "my_engine")) is ByDialect
    generic = get_dialect_capabilities("unknown_db", "unknown_db")
    assert type(generic) is DialectCapabilities
    assert generic.sqlglot_dialect == ""  # sqlglot's generic dialect: it knows no `unknown_db`
    assert get_dialect_capabilities("teradatasql").sqlglot_dialect == "teradata"
    assert get_dialect_capabilities("clickhouse").sqlglot_dialect == "clickhouse"


class _ThirdPartyPostgres(PGDialect_psycopg):
    """A dialect nobody registered with us, named what sqlglot does not know."""

    name = "thirdpartydb"
    supports_statement_cache = True


class _ThirdPartyMariadb(MySQLDialect_mysqldb):
    name = "thirdpartydb"
    supports_statement_cache = True


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
@pytest.mark.parametrize("override", [None, "postgres"])
def test_unregistered_dialect_loads_and_reads(
    server: str, override: Optional[str], tmp_path: Any
) -> None:
    """A third-party dialect unknown to us and to sqlglot loads with the generic capabilities;
    `pipeline.dataset()` reads go through sqlglot's generic dialect, or the one given as
    `sqlglot_dialect=`."""
    import uuid

    from sqlalchemy.dialects import registry

    from conftest import require_server

    if override and server == "mariadb":
        override = "mysql"
    dialect_class = _ThirdPartyPostgres if server == "postgresql" else _ThirdPartyMariadb
    registry.register("thirdpartydb", __name__, dialect_class.__name__)
    url = sa.make_url(require_server(server)).set(drivername="thirdpartydb")
    kwargs = {"sqlglot_dialect": override} if override else {}
    destination = sqlalchemy_destination(url, **kwargs)
    # neither we nor sqlglot know `thirdpartydb`: its SQLAlchemy lineage says how it reads
    lineage = "postgres" if server == "postgresql" else "mysql"
    assert destination.capabilities().sqlglot_dialect == (override or lineage)
    dataset = f"tp_{uuid.uuid4().hex[:8]}"
    pipeline = dlt.pipeline(
        f"tp_{uuid.uuid4().hex[:8]}",
        destination=destination,
        dataset_name=dataset,
        pipelines_dir=str(tmp_path),
    )
    try:
        pipeline.run([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], table_name="t")
        assert sorted(pipeline.dataset().t.select("id", "name").fetchall()) == [
            (1, "a"),
            (2, "b"),
        ]
        assert pipeline.dataset()("SELECT COUNT(*) FROM t").fetchall() == [(2,)]
    finally:
        engine = sa.create_engine(require_server(server))
        with engine.begin() as connection:
            cascade = " CASCADE" if server == "postgresql" else ""
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {dataset}{cascade}")
        engine.dispose()


def test_registering_something_else_is_refused() -> None:
    """Only DialectCapabilities subclasses can be registered; the error says so."""
    with pytest.raises(TypeError, match="DialectCapabilities subclass"):
        register_dialect_capabilities("x", object)  # type: ignore[arg-type]
