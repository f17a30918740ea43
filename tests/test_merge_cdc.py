"""`cdc` merges on every live backend: an upsert that also deletes what the snapshot lacks.

Each load of a `cdc` table is a full snapshot of the rows in scope: rows it updates or adds are
upserted by primary key, and destination rows in scope that it does not hold are deleted with
their nested rows. The scope is the whole table, the partitions of the loaded `merge_key` values,
or `destination_scope`.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend
from test_merge import (
    assert_rerun_keeps_tables,
    count,
    merge_resource,
    nested_rows,
    select,
    write_disposition,
)


def cdc(**options: Any) -> Dict[str, Any]:
    return write_disposition("cdc", **options)


def test_cdc_full_snapshot_over_several_loads(backend: Backend) -> None:
    """Rows missing from a snapshot are deleted with their nested rows; changed rows updated,
    new ones added; a column added between loads reads NULL in old rows; a row flagged deleted
    goes too; the job can run again."""
    players = merge_resource(
        primary_key="id",
        write_disposition=cdc(),
        columns={"deleted": {"data_type": "bool", "hard_delete": True}},
    )
    pipeline = backend.pipeline()
    pipeline.run(
        players([{"id": i, "name": f"p{i}", "titles": [f"t{i}", f"u{i}"]} for i in (1, 2, 3)])
    )
    dataset = pipeline.dataset_name
    pipeline.run(
        players(
            [
                {"id": 1, "name": "p1-new", "titles": ["t1"]},
                {"id": 3, "name": "p3"},
                {"id": 4, "name": "p4", "titles": ["t4"]},
            ]
        )
    )
    assert select(backend, dataset, "players", ["id", "name"]) == [
        (1, "p1-new"),
        (3, "p3"),
        (4, "p4"),
    ]
    assert nested_rows(backend, dataset, "players", "players__titles", ["id"], "value") == [
        (1, "t1"),
        (4, "t4"),
    ]
    info = pipeline.run(
        players(
            [
                {"id": 3, "name": "p3", "rating": 9},
                {"id": 4, "deleted": True},
                {"id": 5, "name": "p5", "titles": ["t5"]},
                {"id": 6, "name": "ghost", "deleted": True},
            ]
        )
    )
    assert select(backend, dataset, "players", ["id", "name", "rating"]) == [
        (3, "p3", 9),
        (5, "p5", None),
    ]
    assert nested_rows(backend, dataset, "players", "players__titles", ["id"], "value") == [
        (5, "t5"),
    ]
    assert count(backend, dataset, "players__titles") == 1
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__titles"])


def test_cdc_merge_key_limits_deletes_to_loaded_partitions(backend: Backend) -> None:
    """With a `merge_key`, only partitions whose key values were loaded lose their absent rows."""
    games = merge_resource("games", primary_key="id", merge_key="day", write_disposition=cdc())
    pipeline = backend.pipeline()
    pipeline.run(
        games([{"id": i, "day": 1 + i % 2, "game": f"g{i}", "moves": [f"m{i}"]} for i in range(6)])
    )
    # day 2 = ids 1, 3, 5; day 1 = ids 0, 2, 4: a snapshot of day 1 holding ids 0 and 8
    info = pipeline.run(
        games([{"id": 0, "day": 1, "game": "g0-new"}, {"id": 8, "day": 1, "game": "g8"}])
    )
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "games", ["id", "day", "game"]) == [
        (0, 1, "g0-new"),
        (1, 2, "g1"),
        (3, 2, "g3"),
        (5, 2, "g5"),
        (8, 1, "g8"),
    ]
    assert nested_rows(backend, dataset, "games", "games__moves", ["id"], "value") == [
        (1, "m1"),
        (3, "m3"),
        (5, "m5"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["games", "games__moves"])


def test_cdc_destination_scope(backend: Backend) -> None:
    """`destination_scope` bounds the deletes: rows outside it stay although the load lacks them."""
    games = merge_resource(
        "games", primary_key="id", write_disposition=cdc(destination_scope="{table}.day >= 2")
    )
    pipeline = backend.pipeline()
    pipeline.run(games([{"id": d, "day": d, "game": f"g{d}"} for d in (1, 2, 3)]))
    info = pipeline.run(games([{"id": 3, "day": 3, "game": "g3-new"}]))
    assert select(backend, pipeline.dataset_name, "games", ["id", "game"]) == [
        (1, "g1"),
        (3, "g3-new"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["games"])


def test_cdc_source_filter(backend: Backend) -> None:
    """Staged rows the `source_filter` discards count as absent: they neither upsert nor keep
    their destination row."""
    players = merge_resource(primary_key="id", write_disposition=cdc(source_filter="kind = 'keep'"))
    pipeline = backend.pipeline()
    pipeline.run(players([{"id": i, "kind": "keep", "v": "a"} for i in (1, 2)]))
    pipeline.run(
        players([{"id": 1, "kind": "keep", "v": "b"}, {"id": 2, "kind": "drop", "v": "b"}])
    )
    assert select(backend, pipeline.dataset_name, "players", ["id", "v"]) == [(1, "b")]


def test_cdc_needs_a_primary_key(backend: Backend) -> None:
    events = merge_resource("events", write_disposition=cdc())
    pipeline = backend.pipeline()
    with pytest.raises(PipelineStepFailed, match=r"primary key.*`events`.*`cdc`"):
        pipeline.run(events([{"id": 1}]))
