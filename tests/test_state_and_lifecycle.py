"""State sync, dropping, refresh modes and merge fallbacks across live backends."""

from __future__ import annotations

from typing import Any, Iterator

import dlt
import pytest

from conftest import Backend


@dlt.source(name="chess")
def chess_source(players: int = 3) -> Any:
    @dlt.resource(primary_key="id", write_disposition="append")
    def players_resource() -> Iterator[Any]:
        state = dlt.current.resource_state()
        state["runs"] = state.get("runs", 0) + 1
        yield [{"id": i, "name": f"p{i}"} for i in range(players)]

    @dlt.resource(write_disposition="append")
    def games() -> Iterator[Any]:
        yield [{"game": 1, "moves": [{"san": "e4"}, {"san": "e5"}]}]

    return players_resource.with_name("players"), games


def test_fresh_pipeline_restores_state_and_schema_from_destination(backend: Backend) -> None:
    """A new local working dir for the same pipeline name recovers state and schema."""
    pipeline = backend.pipeline(pipeline_name="restore_me")
    pipeline.run(chess_source())
    pipeline.run(chess_source())
    dataset = pipeline.dataset_name
    expected_state = pipeline.state["sources"]["chess"]["resources"]["players"]["runs"]
    assert expected_state == 2

    # wipe the local working directory: only the destination knows the state now
    pipeline.drop()
    restored = backend.pipeline(pipeline_name="restore_me", dataset_name=dataset)
    restored.sync_destination()
    assert restored.state["sources"]["chess"]["resources"]["players"]["runs"] == 2
    assert "players" in restored.default_schema.tables
    assert "games__moves" in restored.default_schema.tables

    restored.run(chess_source())
    assert restored.state["sources"]["chess"]["resources"]["players"]["runs"] == 3


def test_stored_schema_versions_are_recorded(backend: Backend) -> None:
    """Each new schema version is stored once; the newest is what the destination returns."""
    pipeline = backend.pipeline()
    pipeline.run([{"a": 1}], table_name="t")
    pipeline.run([{"a": 2, "b": "x"}], table_name="t")
    with pipeline.destination_client() as client:
        stored = client.get_stored_schema(pipeline.default_schema_name)
        assert stored is not None
        assert stored.version_hash == pipeline.default_schema.stored_version_hash
        by_hash = client.get_stored_schema_by_hash(stored.version_hash)
        assert by_hash is not None and by_hash.schema_name == pipeline.default_schema_name
        assert client.get_stored_schema_by_hash("no-such-hash") is None
    loads = backend.query(
        f"SELECT status FROM {backend.qualified(pipeline.dataset_name, '_dlt_loads')}"
    )
    assert [r[0] for r in loads] == [0, 0]


def test_refresh_drop_sources_recreates_tables(backend: Backend) -> None:
    """`refresh="drop_sources"` drops the source's tables and loads them anew."""
    pipeline = backend.pipeline()
    pipeline.run(chess_source(players=3))
    pipeline.run(chess_source(players=2), refresh="drop_sources")
    rows = backend.query(
        f"SELECT id FROM {backend.qualified(pipeline.dataset_name, 'players')} ORDER BY id"
    )
    assert [r[0] for r in rows] == [0, 1]
    assert pipeline.state["sources"]["chess"]["resources"]["players"]["runs"] == 1


def test_refresh_drop_data_truncates_tables(backend: Backend) -> None:
    """`refresh="drop_data"` keeps the tables but empties them before loading."""
    pipeline = backend.pipeline()
    pipeline.run(chess_source(players=3))
    pipeline.run(chess_source(players=1), refresh="drop_data")
    rows = backend.query(f"SELECT id FROM {backend.qualified(pipeline.dataset_name, 'players')}")
    assert [r[0] for r in rows] == [0]


def test_drop_storage_removes_dataset(backend: Backend) -> None:
    """Dropping the storage removes the dataset; the client then reports it absent."""
    pipeline = backend.pipeline()
    pipeline.run([{"a": 1}], table_name="t")
    with pipeline.destination_client() as client:
        assert client.is_storage_initialized()
        client.drop_storage()
        assert not client.is_storage_initialized()
    # and it can be made again
    pipeline.run([{"a": 2}], table_name="t")
    assert pipeline.dataset().t.fetchall()[0][0] == 2


@pytest.mark.parametrize("strategy", ["delete-insert", "scd2"])
def test_merge_strategies_from_capabilities_load(backend: Backend, strategy: str) -> None:
    """The merge strategies the capabilities declare actually load (deeper tests: merge issue)."""
    pipeline = backend.pipeline()
    declared = pipeline.destination.capabilities().supported_merge_strategies
    # every live backend, MariaDB included, has the native merge (tests/test_merge.py)
    assert strategy in declared
    hints: Any = {"write_disposition": {"disposition": "merge", "strategy": strategy}}
    if strategy == "delete-insert":
        hints["primary_key"] = "id"

    @dlt.resource(name="items", **hints)
    def items(rows: Any) -> Any:
        yield rows

    pipeline.run(items([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]))
    info = pipeline.run(items([{"id": 1, "v": "c"}, {"id": 2, "v": "b"}]))
    assert not info.has_failed_jobs
    table = backend.qualified(pipeline.dataset_name, "items")
    if strategy == "delete-insert":
        rows = backend.query(f"SELECT id, v FROM {table} ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, "c"), (2, "b")]
    else:
        rows = backend.query(f"SELECT v FROM {table} WHERE _dlt_valid_to IS NULL ORDER BY v")
        assert [r[0] for r in rows] == ["b", "c"]


def test_drop_resource_helper_removes_its_tables_and_state(backend: Backend) -> None:
    """dlt's `drop` helper (behind `dlt pipeline drop`) removes one resource's tables."""
    from dlt.pipeline.helpers import pipeline_drop

    pipeline = backend.pipeline()
    pipeline.run(chess_source())
    pipeline_drop(pipeline, resources=["games"])()
    dataset = pipeline.dataset_name
    with pipeline.sql_client() as client:
        assert (
            client.execute_sql(
                f"SELECT count(*) FROM {client.make_qualified_table_name('players')}"
            )[0][0]
            == 3
        )
    for table in ("games", "games__moves"):
        assert table not in pipeline.default_schema.tables
        with pytest.raises(Exception, match=r"(?i)exist|no such|not found|unknown"):
            backend.query(f"SELECT * FROM {backend.qualified(dataset, table)}")


def test_refresh_drop_resources_only_touches_selected(backend: Backend) -> None:
    """`refresh="drop_resources"` recreates the selected resource and leaves the others."""
    pipeline = backend.pipeline()
    pipeline.run(chess_source(players=3))
    pipeline.run(chess_source(players=1).with_resources("players"), refresh="drop_resources")
    dataset = pipeline.dataset_name
    players = backend.query(f"SELECT count(*) FROM {backend.qualified(dataset, 'players')}")
    games = backend.query(f"SELECT count(*) FROM {backend.qualified(dataset, 'games')}")
    assert players[0][0] == 1
    assert games[0][0] == 1


def test_dropped_dataset_resets_the_pipeline(backend: Backend) -> None:
    """Reading the state of a dataset that is gone raises dlt's undefined-entity exception (the
    schema reads say "none"), so the next sync wipes the local state: the pipeline starts over."""
    from dlt.common.destination.exceptions import DestinationUndefinedEntity

    pipeline = backend.pipeline()
    pipeline.run(chess_source())
    assert not pipeline.first_run
    with pipeline.destination_client() as client:
        client.drop_storage()  # what a DBA dropping the schema does
        with pytest.raises(DestinationUndefinedEntity):
            client.get_stored_state(pipeline.pipeline_name)
        assert client.get_stored_schema(pipeline.default_schema_name) is None
        assert client.get_stored_schema_by_hash(pipeline.default_schema.version_hash) is None

    pipeline.sync_destination()
    assert pipeline.first_run
    assert pipeline.state.get("sources", {}) == {}

    pipeline.run(chess_source())  # loads again from scratch into a new dataset
    assert pipeline.state["sources"]["chess"]["resources"]["players"]["runs"] == 1


def test_missing_state_table_in_existing_dataset_raises(backend: Backend) -> None:
    from dlt.common.destination.exceptions import DestinationUndefinedEntity

    pipeline = backend.pipeline()
    pipeline.run([{"a": 1}], table_name="t")
    with pipeline.destination_client() as client:
        client.sql_client.drop_tables(pipeline.default_schema.state_table_name)
        with pytest.raises(DestinationUndefinedEntity):
            client.get_stored_state(pipeline.pipeline_name)


def test_unloaded_packages_survive_a_sync_before_the_dataset_exists(backend: Backend) -> None:
    """A pipeline whose data never reached the database (its first load failed) keeps its
    packages through the sync of the next run, though the dataset does not exist yet."""
    pipeline = backend.pipeline()
    pipeline.extract([{"id": 1}, {"id": 2}], table_name="t")
    pipeline.normalize()
    assert pipeline.has_pending_data
    pipeline.sync_destination()
    assert pipeline.has_pending_data
    pipeline.run()  # loads the pending package
    assert sorted(pipeline.dataset().t.select("id").fetchall()) == [(1,), (2,)]


def test_table_created_meanwhile_by_another_loader_is_no_error(backend: Backend) -> None:
    """Two pipelines into one new dataset (or two nodes of a cluster): the one that looked
    first and creates second finds the table made by the other; its CREATE must not fail."""
    first = backend.pipeline()
    second = backend.pipeline(dataset_name=first.dataset_name)
    second.extract(dlt.resource([{"id": 1}], name="players"))
    second.normalize()
    with second.destination_client() as client:
        client.initialize_storage()
        columns = list(client.prepare_load_table("players")["columns"].values())
        create = client._get_table_update_sql("players", columns, False)
    first.run([{"id": 0}], table_name="players")  # the other loader wins the race
    with second.destination_client() as client, client.sql_client as sql:
        for statement in create:
            sql.execute_sql(statement)
    second.load()
    assert sorted(r[0] for r in backend.rows(first.dataset_name, "players")) == [0, 1]
