"""One dataset per database: datasets that are not schemas (`use_schemas = false`, or a
dialect declaring `has_schemas = False`), on every live backend, each test in a database of
its own (a fresh file, a fresh PostgreSQL database, a fresh MariaDB database)."""

from __future__ import annotations

import uuid
from typing import Any, Dict, Iterator, List

import dlt
import pytest
import sqlalchemy as sa
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import LIVE_BACKENDS, require_server
from dlt_sqlalchemy import sqlalchemy as sqlalchemy_destination
from dlt_sqlalchemy.client.single_dataset import mentions_dataset, unqualified
from dlt_sqlalchemy.dialects import register_dialect_capabilities
from dlt_sqlalchemy.dialects.sqlite.capabilities import SqliteCapabilities
from dlt_sqlalchemy.exceptions import DatabaseHoldsAnotherDataset


class Database:
    """A database of the test's own on one backend."""

    def __init__(self, backend: str, tmp_path: Any) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.name = f"sd_{uuid.uuid4().hex[:10]}"
        self._admin: Any = None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'one.db'}"
        elif backend == "duckdb":
            self.url = f"duckdb:///{tmp_path / 'one.duckdb'}"
        else:
            server = require_server(backend)
            self._admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {self.name}")
            self.url = sa.make_url(server).set(database=self.name).render_as_string(False)
        self.engine = sa.create_engine(self.url)

    def pipeline(self, dataset_name: str = "games", **options: Any) -> dlt.Pipeline:
        name = options.pop("pipeline_name", f"p_{uuid.uuid4().hex[:8]}")
        pipelines_dir = str(options.pop("pipelines_dir", self.tmp_path / "pipelines"))
        return dlt.pipeline(
            pipeline_name=name,
            destination=sqlalchemy_destination(self.url, use_schemas=False, **options),
            dataset_name=dataset_name,
            pipelines_dir=pipelines_dir,
        )

    def tables(self) -> List[str]:
        """Every table of the database's default schema: where unqualified tables go."""
        with self.engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
            )

    def scalar(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()

    def close(self) -> None:
        self.engine.dispose()
        if self._admin is not None:
            with self._admin.connect() as conn:
                force = " WITH (FORCE)" if self.backend == "postgresql" else ""
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name}{force}")
            self._admin.dispose()


@pytest.fixture(params=LIVE_BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    db = Database(request.param, tmp_path)
    try:
        yield db
    finally:
        db.close()


def games(n: int, rev: int = 0, start: int = 0) -> List[Dict[str, Any]]:
    return [
        {
            "id": i,
            "white": f"player {i}",
            "rev": rev,
            "moves": [{"ply": p, "san": f"e{p}"} for p in range(3)],
        }
        for i in range(start, start + n)
    ]


def test_tables_are_unqualified_in_the_default_schema(database: Database) -> None:
    pipeline = database.pipeline()
    pipeline.run(games(10), table_name="games")
    tables = database.tables()
    for name in ("games", "games__moves", "_dlt_version", "_dlt_loads", "_dlt_sqla_dataset"):
        assert name in tables
    assert database.count("games") == 10
    assert database.count("games__moves") == 30
    assert database.scalar("SELECT dataset_name FROM _dlt_sqla_dataset") == "games"
    if database.backend == "postgresql":
        # no schema named after the dataset was made
        assert (
            database.scalar(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'games'"
            )
            == 0
        )


@pytest.mark.parametrize("strategy", ["delete-insert", "upsert"])
def test_merge_replace_and_evolution(database: Database, strategy: str) -> None:
    pipeline = database.pipeline()
    hints: Dict[str, Any] = {
        "write_disposition": {"disposition": "merge", "strategy": strategy},
        "primary_key": "id",
        "table_name": "games",
    }
    pipeline.run(games(10), **hints)
    # 5 updates, 5 new rows, and a new column
    incoming = [{**row, "opening": "sicilian"} for row in games(10, rev=1, start=5)]
    pipeline.run(incoming, **hints)
    assert database.count("games") == 15
    assert database.scalar("SELECT sum(rev) FROM games") == 10
    assert database.scalar("SELECT count(*) FROM games WHERE opening = 'sicilian'") == 10
    assert database.count("games__moves") == 45
    staged = [t for t in database.tables() if t.startswith("_dlt_stg_")]
    assert "_dlt_stg_games" in staged  # the staging dataset is the prefix, in the same schema

    pipeline.run([{"id": 1, "white": "x"}], table_name="openings", write_disposition="replace")
    pipeline.run([{"id": 2, "white": "y"}], table_name="openings", write_disposition="replace")
    assert database.count("openings") == 1


def test_dataset_reads_name_tables_as_stored(database: Database) -> None:
    pipeline = database.pipeline()
    pipeline.run(games(20), table_name="games")
    dataset = pipeline.dataset()
    table = dataset["games"].arrow()
    assert table.num_rows == 20
    assert sorted(table.column("id").to_pylist()) == list(range(20))
    assert len(dataset["games__moves"].fetchall()) == 60
    joined = dataset(
        "SELECT count(*) FROM games g JOIN games__moves m ON m._dlt_parent_id = g._dlt_id"
    )
    assert joined.fetchall()[0][0] == 60


def test_state_restores_on_a_fresh_machine(database: Database) -> None:
    @dlt.resource(table_name="games")
    def tracked() -> Iterator[Dict[str, Any]]:
        dlt.current.resource_state()["cursor"] = 42
        yield from games(3)

    first = database.pipeline(pipeline_name="chess")
    first.run(tracked())
    again = database.pipeline(pipeline_name="chess", pipelines_dir=database.tmp_path / "fresh")
    again.sync_destination()
    assert again.state["sources"][first.default_schema_name]["resources"]["tracked"] == {
        "cursor": 42
    }
    assert "games" in again.default_schema.tables


def test_another_dataset_in_the_same_database_is_refused(database: Database) -> None:
    database.pipeline("games").run(games(5), table_name="games")
    other = database.pipeline("puzzles")
    with pytest.raises(PipelineStepFailed) as failed:
        other.run(games(7), table_name="games")
    cause = failed.value.__context__
    while cause is not None and not isinstance(cause, DatabaseHoldsAnotherDataset):
        cause = cause.__context__
    assert isinstance(cause, DatabaseHoldsAnotherDataset), failed.value
    assert "`games`" in str(cause) and "`puzzles`" in str(cause)
    assert database.count("games") == 5  # nothing of the other pipeline's rows

    # a read through another dataset name is refused as well, not answered from `games`
    with pytest.raises(DatabaseHoldsAnotherDataset):
        other.dataset()("SELECT 1 FROM puzzles.games").fetchall()


def test_drop_dataset_leaves_the_other_tables_of_the_database(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE keep_me (id INTEGER)")
    pipeline = database.pipeline("games")
    pipeline.run(games(5), table_name="games", write_disposition="merge", primary_key="id")
    with pipeline.destination_client() as client:
        client.drop_storage()  # type: ignore[attr-defined]
    assert database.tables() == ["keep_me"]
    # the database holds no dataset any more: another one may move in
    database.pipeline("puzzles").run(games(2), table_name="games")
    assert database.count("games") == 2


def test_a_dialect_declaring_no_schemas_needs_no_option(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class SchemalessSqlite(SqliteCapabilities):
        has_schemas = False

    register_dialect_capabilities("sqlite", SchemalessSqlite)
    try:
        url = f"sqlite:///{tmp_path / 'declared.db'}"
        pipeline = dlt.pipeline(
            pipeline_name="declared",
            destination=sqlalchemy_destination(url),
            dataset_name="games",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        pipeline.run(games(4), table_name="games")
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert "_dlt_sqla_dataset" in sa.inspect(conn).get_table_names()
            assert conn.exec_driver_sql("SELECT count(*) FROM games").scalar() == 4
        engine.dispose()
        assert not (tmp_path / "declared__games.db").exists()  # no ATTACHed dataset file
    finally:
        register_dialect_capabilities("sqlite", SqliteCapabilities)


def test_reads_are_rewritten_only_for_our_datasets() -> None:
    def physical(dataset: str, table: str) -> Any:
        return {"games": table, "games_staging": f"_dlt_stg_{table}"}.get(dataset)

    sql = 'SELECT "g"."id" FROM "games"."games" AS "g" JOIN "games_staging"."t" ON 1 = 1'
    rewritten = unqualified(sql, "postgres", physical)
    assert rewritten == 'SELECT "g"."id" FROM "games" AS "g" JOIN "_dlt_stg_t" ON 1 = 1'
    other = 'SELECT * FROM "elsewhere"."games"'
    assert unqualified(other, "postgres", physical) == other
    assert mentions_dataset(sql, ["games"])
    assert not mentions_dataset("INSERT INTO games_log VALUES (1)", ["games"])
