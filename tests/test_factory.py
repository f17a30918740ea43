"""The `sqlalchemy` factory: every accepted argument form reaches the database it configures."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any, Dict, List, Optional, Set, Tuple

import dlt
import pytest
import sqlalchemy as sa
from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.destination import Destination
from dlt.common.destination.reference import DestinationReference
from dlt.common.schema.typing import TColumnSchema

from conftest import Backend, attach_sqlite_datasets, make_rows
from dlt_sqlalchemy import SqlalchemyCredentials, SqlalchemyTypeMapper, sqlalchemy
from dlt_sqlalchemy.load.inserts import BatchInserter

# --- helpers ----------------------------------------------------------------------------------


def key_constraints(backend: Backend, dataset: str, table: str) -> Tuple[List[str], Set[str]]:
    """(primary key columns, columns with a single-column UNIQUE constraint) as the DB has them."""
    if backend.name == "duckdb":
        # duckdb_engine's inspector cannot reflect constraints; information_schema can
        rows = backend.query(
            "SELECT tc.constraint_type, kcu.column_name"
            " FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu"
            "  ON tc.constraint_name = kcu.constraint_name"
            "  AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name"
            f" WHERE tc.table_schema = '{dataset}' AND tc.table_name = '{table}'"
            " ORDER BY kcu.ordinal_position"
        )
        pk = [col for kind, col in rows if kind == "PRIMARY KEY"]
        unique = {col for kind, col in rows if kind == "UNIQUE"}
        return pk, unique
    with backend.engine.connect() as conn:
        if backend.name == "sqlite":
            attach_sqlite_datasets(conn, backend.url, [dataset])
        inspector = sa.inspect(conn)
        pk = list(inspector.get_pk_constraint(table, schema=dataset)["constrained_columns"])
        unique = {
            c["column_names"][0]
            for c in inspector.get_unique_constraints(table, schema=dataset)
            if len(c["column_names"]) == 1
        }
        # MariaDB reports UNIQUE constraints as unique indexes
        unique |= {
            i["column_names"][0]
            for i in inspector.get_indexes(table, schema=dataset)
            if i.get("unique") and len(i["column_names"]) == 1
        }
        return pk, unique


def column_types(
    backend: Backend, dataset: str, table: str
) -> Dict[str, Tuple[str, Optional[int]]]:
    """Column name -> (upper-case type name, character length) as the database stores them."""
    if backend.name == "sqlite":
        rows = backend.query(f'PRAGMA "{dataset}".table_info("{table}")')
        result = {}
        for row in rows:
            type_name = row[2].upper()
            length = int(type_name.split("(")[1].rstrip(")")) if "(" in type_name else None
            result[row[1]] = (type_name.split("(")[0], length)
        return result
    rows = backend.query(
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns"
        f" WHERE table_schema = '{dataset}' AND table_name = '{table}'"
    )
    return {name: (str(dtype).upper(), length) for name, dtype, length in rows}


def sql_log(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]


# --- the factory and its registration ---------------------------------------------------------


def test_factory_is_registered_under_its_public_path() -> None:
    """dlt resolves `"dlt_sqlalchemy.sqlalchemy"` to our factory, named and typed consistently."""
    dest = Destination.from_reference("dlt_sqlalchemy.sqlalchemy")
    assert isinstance(dest, sqlalchemy)
    assert dest.destination_name == "sqlalchemy"
    assert dest.destination_type == "dlt_sqlalchemy.sqlalchemy"
    assert DestinationReference.find("dlt_sqlalchemy.sqlalchemy") is sqlalchemy
    assert dest.spec().destination_type == dest.destination_type


def test_string_reference_takes_credentials_from_env(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`destination="dlt_sqlalchemy.sqlalchemy"` loads with credentials from the environment."""
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", backend.url)
    pipeline = backend.pipeline(destination="dlt_sqlalchemy.sqlalchemy")
    info = pipeline.run(make_rows(2), table_name="players")
    assert not info.has_failed_jobs
    assert info.destination_type == "dlt_sqlalchemy.sqlalchemy"
    assert len(backend.rows(pipeline.dataset_name, "players")) == 2

    # a fresh process restores the destination from the pipeline state by its type
    attached = dlt.attach(pipeline.pipeline_name, pipelines_dir=str(backend.tmp_path / "pipelines"))
    assert isinstance(attached.destination, sqlalchemy)
    attached.run(make_rows(1), table_name="players")
    assert len(backend.rows(pipeline.dataset_name, "players")) == 3


# --- credentials in each accepted form --------------------------------------------------------


def _credentials(form: str, url: str) -> Any:
    if form == "url":
        return url
    if form == "url_object":
        return sa.make_url(url)
    parsed = sa.make_url(url)
    fields = {k: v for k, v in parsed._asdict().items() if v}
    fields["query"] = dict(parsed.query)
    if form == "dict":
        return fields
    if form == "object":
        return SqlalchemyCredentials(fields)
    raise AssertionError(form)


@pytest.mark.parametrize("form", ["url", "url_object", "dict", "object"])
def test_credentials_forms_load(backend: Backend, form: str) -> None:
    """A URL, a dict of split fields and a credentials object all reach the same database."""
    dest = sqlalchemy(credentials=_credentials(form, backend.url))
    pipeline = backend.pipeline(destination=dest)
    info = pipeline.run(make_rows(3), table_name="players")
    assert not info.has_failed_jobs
    assert sorted(r[0] for r in backend.rows(pipeline.dataset_name, "players")) == [0, 1, 2]
    assert (
        pipeline.destination_client().config.credentials.drivername
        == sa.make_url(backend.url).drivername
    )


def test_engine_is_used_and_never_disposed(backend: Backend) -> None:
    """A user's Engine loads the data, keeps its pool, and has no connection left checked out."""
    engine = sa.create_engine(backend.url)
    pool = engine.pool
    try:
        pipeline = backend.pipeline(destination=sqlalchemy(engine))
        info = pipeline.run(make_rows(3), table_name="players")
        assert not info.has_failed_jobs
        assert pipeline.destination_client().config.credentials.engine is engine
        assert engine.pool is pool, "the destination disposed an engine it does not own"
        assert pool.checkedout() == 0
        table = backend.qualified(pipeline.dataset_name, "players")
        with engine.connect() as conn:
            if backend.name == "sqlite":
                attach_sqlite_datasets(conn, backend.url, [pipeline.dataset_name])
            assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar() == 3
        assert engine.pool is pool
    finally:
        engine.dispose()


def test_engine_kwargs_with_an_engine_are_ignored_loudly(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Options we cannot apply to someone else's engine are reported, not silently dropped."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    try:
        dest = sqlalchemy(engine, engine_kwargs={"pool_size": 3})
        pipeline = dlt.pipeline("ignored", destination=dest, dataset_name="main")
        config = pipeline.destination_client().config
        assert config.credentials.engine is engine
        assert any(
            "engine_kwargs" in r.getMessage() and "ignored" in r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.WARNING
        )
    finally:
        engine.dispose()


def test_in_memory_sqlite_engine_keeps_its_data(tmp_path: Any) -> None:
    """The documented shared-cache in-memory SQLite engine survives the run with the data in it."""
    engine = sa.create_engine(
        f"sqlite:///file:mem_{uuid.uuid4().hex}?mode=memory&cache=shared&uri=true",
        connect_args={"check_same_thread": False},
        poolclass=sa.pool.SingletonThreadPool,
    )
    keeper = engine.connect()  # an in-memory database lives as long as one connection does
    try:
        pipeline = dlt.pipeline(
            "in_memory",
            destination=sqlalchemy(engine),
            dataset_name="main",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        info = pipeline.run(make_rows(2), table_name="players")
        assert not info.has_failed_jobs
        rows = keeper.exec_driver_sql("SELECT id FROM players ORDER BY id").fetchall()
        assert [r[0] for r in rows] == [0, 1]
        assert not list(tmp_path.glob("*.db")), "an in-memory database must not become a file"
    finally:
        keeper.close()
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"], indirect=True)
def test_own_engine_is_disposed_after_use(backend: Backend) -> None:
    """The engine we create from a URL closes its pooled connections once the client is done."""
    pipeline = backend.pipeline()
    session_id = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}
    sessions = {
        "postgresql": "SELECT pid FROM pg_stat_activity",
        "mariadb": "SELECT ID FROM information_schema.PROCESSLIST",
    }
    with pipeline.sql_client() as client:
        ((own_id,),) = client.execute_sql(session_id[backend.name])
        assert own_id in {r[0] for r in backend.query(sessions[backend.name])}
    assert own_id not in {r[0] for r in backend.query(sessions[backend.name])}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_no_session_outlives_the_run(backend: Backend) -> None:
    """No connection of any load worker is left open (PostgreSQL tags them by application)."""
    app = f"dlt_sqla_{uuid.uuid4().hex[:8]}"
    dest = backend.destination(engine_kwargs={"connect_args": {"application_name": app}})
    pipeline = backend.pipeline(destination=dest)
    pipeline.run([make_rows(2), make_rows(3)], table_name="players")
    count = f"SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{app}'"
    assert backend.query(count) == [(0,)]


# --- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize("enabled", [False, True], ids=["default", "enabled"])
def test_key_constraints_follow_the_options(backend: Backend, enabled: bool) -> None:
    """`create_primary_keys` / `create_unique_indexes` decide whether hints become constraints."""
    dest = backend.destination(create_primary_keys=enabled, create_unique_indexes=enabled)
    pipeline = backend.pipeline(destination=dest)

    @dlt.resource(primary_key="id", columns={"email": {"unique": True}})
    def players() -> Any:
        yield [{"id": i, "email": f"p{i}@example.com", "name": f"n{i}"} for i in range(3)]

    info = pipeline.run(players())
    assert not info.has_failed_jobs
    pk, unique = key_constraints(backend, pipeline.dataset_name, "players")
    if enabled:
        assert pk == ["id"]
        assert "email" in unique
    else:
        assert pk == []
        assert unique == set()


def test_engine_kwargs_reach_the_engine(backend: Backend) -> None:
    """Pool settings and `connect_args` from `engine_kwargs` shape the engine the client uses."""

    class ProbeConnection(sqlite3.Connection):
        """Proves that `connect_args` reached `sqlite3.connect`."""

    probes: Dict[str, Tuple[Dict[str, Any], str, Any]] = {
        "postgresql": (
            {"application_name": "dlt_sqla_probe"},
            "SHOW application_name",
            "dlt_sqla_probe",
        ),
        "mariadb": ({"init_command": "SET @dlt_probe = 'set'"}, "SELECT @dlt_probe", "set"),
        "duckdb": ({"config": {"threads": 3}}, "SELECT current_setting('threads')", 3),
        "sqlite": ({"factory": ProbeConnection}, "", None),
    }
    connect_args, probe_sql, expected = probes[backend.name]
    dest = backend.destination(engine_kwargs={"pool_size": 3, "connect_args": connect_args})
    pipeline = backend.pipeline(destination=dest)
    assert pipeline.destination_client().config.engine_kwargs["pool_size"] == 3
    with pipeline.sql_client() as client:
        conn = client.native_connection
        assert isinstance(conn.engine.pool, sa.pool.QueuePool)
        assert conn.engine.pool.size() == 3
        if backend.name == "sqlite":
            assert isinstance(conn.connection.dbapi_connection, ProbeConnection)
        else:
            assert client.execute_sql(probe_sql) == [(expected,)]
    assert not pipeline.run(make_rows(2), table_name="players").has_failed_jobs


def test_echo_logs_the_sql(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """`engine_kwargs={"echo": True}` makes SQLAlchemy log the statements it runs."""
    caplog.set_level(logging.INFO)
    pipeline = backend.pipeline(destination=backend.destination(engine_kwargs={"echo": True}))
    pipeline.run(make_rows(2), table_name="players")
    log = sql_log(caplog)
    assert any("CREATE TABLE" in line and "players" in line for line in log), log[:20]


def test_no_sql_logged_without_echo(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    pipeline = backend.pipeline()
    pipeline.run(make_rows(2), table_name="players")
    assert not [line for line in sql_log(caplog) if "CREATE TABLE" in line]


def test_engine_args_still_work_with_a_deprecation_warning(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with pytest.warns(DeprecationWarning, match="engine_kwargs"):
        dest = backend.destination(engine_args={"echo": True})
    pipeline = backend.pipeline(destination=dest)
    assert pipeline.destination_client().config.engine_kwargs == {"echo": True}
    pipeline.run(make_rows(2), table_name="players")
    assert any("CREATE TABLE" in line for line in sql_log(caplog))


def test_engine_args_and_engine_kwargs_together_are_refused() -> None:
    with pytest.raises(ConfigurationValueError) as exc_info:
        sqlalchemy("sqlite:///x.db", engine_kwargs={"echo": True}, engine_args={"pool_size": 2})
    assert "engine_args" in str(exc_info.value) and "engine_kwargs" in str(exc_info.value)


def test_destination_name_changes_the_config_section(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named destination reads `destination.<name>`, not `destination.sqlalchemy`."""
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", backend.url)
    # the default section points nowhere: reading it would fail the run
    monkeypatch.setenv(
        "DESTINATION__SQLALCHEMY__CREDENTIALS", "postgresql://nobody@127.0.0.1:1/none"
    )
    dest = sqlalchemy(destination_name="warehouse")
    assert dest.destination_name == "warehouse"
    pipeline = backend.pipeline(destination=dest)
    info = pipeline.run(make_rows(2), table_name="players")
    assert not info.has_failed_jobs
    assert info.destination_name == "warehouse"
    assert len(backend.rows(pipeline.dataset_name, "players")) == 2


def test_environment_is_carried_to_config_and_load_info(backend: Backend) -> None:
    pipeline = backend.pipeline(destination=backend.destination(environment="staging"))
    assert pipeline.destination_client().config.environment == "staging"
    info = pipeline.run(make_rows(1), table_name="players")
    assert info.environment == "staging"


def test_repr_hides_the_password() -> None:
    for credentials in (
        "postgresql://loader:s3cr3t@db.example.com/dwh?sslmode=require",
        {"drivername": "postgresql", "username": "loader", "password": "s3cr3t", "host": "db"},
        SqlalchemyCredentials("mysql://loader:s3cr3t@db/dwh"),
        sa.create_engine("postgresql+psycopg://loader:s3cr3t@db/dwh"),
    ):
        text = repr(sqlalchemy(credentials))
        assert "s3cr3t" not in text
        assert "loader" in text


# --- capability overrides ---------------------------------------------------------------------


def test_type_mapper_override_shapes_the_tables(backend: Backend) -> None:
    """A custom mapper passed as `type_mapper=` decides the column types the database gets."""
    base = backend.destination().capabilities().type_mapper
    assert issubclass(base, SqlalchemyTypeMapper)

    # only the user's columns: dlt's own tables hold long text (schemas) and need their types
    def text_type(self: Any, column: TColumnSchema, table: Any = None) -> Any:
        if column["name"] == "name":
            return sa.String(length=50)
        return base.db_type_from_text_type(self, column, table)

    def bigint_type(self: Any, column: TColumnSchema, table: Any = None) -> Any:
        if column["name"] == "id":
            return sa.SmallInteger()
        return base.db_type_from_bigint_type(self, column, table)

    mapper = type(
        "ShortTextMapper",
        (base,),
        {"db_type_from_text_type": text_type, "db_type_from_bigint_type": bigint_type},
    )
    pipeline = backend.pipeline(destination=backend.destination(type_mapper=mapper))
    assert pipeline.destination_client().capabilities.type_mapper is mapper
    info = pipeline.run(make_rows(2), table_name="players")
    assert not info.has_failed_jobs
    types = column_types(backend, pipeline.dataset_name, "players")
    assert types["id"][0] == "SMALLINT"
    if backend.name == "duckdb":
        assert types["name"][0] == "VARCHAR"  # DuckDB accepts VARCHAR(n) but keeps no length
    else:
        assert types["name"][0] in ("VARCHAR", "CHARACTER VARYING")
        assert types["name"][1] == 50


def test_max_rows_per_insert_override_batches_inserts(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`max_rows_per_insert=` reaches the capabilities and caps every INSERT batch."""
    batches: List[Tuple[str, int]] = []
    real_insert = BatchInserter.insert

    def recording_insert(self: BatchInserter, columns: Any) -> int:
        count = real_insert(self, columns)
        batches.append((self.table.name, count))
        return count

    monkeypatch.setattr(BatchInserter, "insert", recording_insert)
    # the batches of the INSERT path (bulk paths such as COPY stream the file instead)
    destination = backend.destination(max_rows_per_insert=2, load_path="executemany")
    pipeline = backend.pipeline(destination=destination)
    assert pipeline.destination_client().capabilities.max_rows_per_insert == 2
    info = pipeline.run(make_rows(5), table_name="players")
    assert not info.has_failed_jobs
    assert [n for table, n in batches if table == "players"] == [2, 2, 1]
    assert len(backend.rows(pipeline.dataset_name, "players")) == 5


def test_load_info_and_state_name_this_package(backend: Backend) -> None:
    """Load info says which package loaded the data (dlt's built-in destination is named
    `sqlalchemy` too), without the password; the pipeline state records our factory's path."""
    pipeline = backend.pipeline()
    info = pipeline.run([{"id": 1}], table_name="t")
    text = str(info)
    assert "[dlt-sqlalchemy " in text
    assert pipeline.state["destination_type"] == "dlt_sqlalchemy.sqlalchemy"
