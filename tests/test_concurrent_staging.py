"""Merges of several pipelines into one dataset share its staging tables (issue #15 item 5).

A package whose staging load is retried must start from a staging table holding only its own
rows; rows of a loader still running are said to be that, not a duplicate value of ours.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Dict, Iterator, List

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend, GaleraCluster, make_rows
from test_rows_per_commit import _execute, fail_inserts_of_id, stop_failing

FOREIGN_LOAD_ID = "1700000000.000001"


@dlt.resource(primary_key="id", write_disposition="merge", name="players")
def players(rows: List[Dict[str, Any]]) -> Any:
    yield rows


def _chain(ex: BaseException) -> Iterator[BaseException]:
    current: Any = ex
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def assert_retry_starts_from_own_rows(backend: Backend) -> None:
    pipeline = backend.pipeline(destination=backend.destination(create_primary_keys=True))
    pipeline.run(players(make_rows(10)))
    dataset = pipeline.dataset_name
    staging = f"{dataset}_staging"
    # the package's staging load fails (a trigger refuses id 7): the package stays pending
    fail_inserts_of_id(backend, staging, "players", 7)
    with pytest.raises(PipelineStepFailed):
        pipeline.run(players([{"id": i, "name": f"new {i}"} for i in range(10)]))
    stop_failing(backend, staging, "players")
    # meanwhile another pipeline's package put the same keys into the shared staging table
    _execute(
        backend,
        f"INSERT INTO {backend.qualified(staging, 'players')} (id, name, _dlt_load_id, _dlt_id)"
        f" SELECT id, 'theirs', '{FOREIGN_LOAD_ID}', CONCAT('x', id)"
        f" FROM {backend.qualified(dataset, 'players')}",
    )
    # ... and has not completed: the re-run says so, instead of a duplicate value of ours
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.load()
    message = str(failed.value)
    assert "another load package that has not completed" in message, message
    assert FOREIGN_LOAD_ID in message and "staging_dataset_name_layout" in message
    assert "Duplicate entry" not in message
    # once it completed, its rows are leftovers: the re-run clears them and merges its own
    loads = backend.qualified(dataset, "_dlt_loads")
    _execute(
        backend,
        f"INSERT INTO {loads} (load_id, schema_name, status, inserted_at, schema_version_hash)"
        f" SELECT '{FOREIGN_LOAD_ID}', schema_name, 0, inserted_at, schema_version_hash"
        f" FROM {loads} LIMIT 1",
    )
    pipeline.load()
    rows = backend.query(
        f"SELECT id, name FROM {backend.qualified(dataset, 'players')} ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [(i, f"new {i}") for i in range(10)]


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_a_retried_staging_load_starts_from_its_own_rows(backend: Backend) -> None:
    assert_retry_starts_from_own_rows(backend)


def test_a_retried_staging_load_starts_from_its_own_rows_on_a_cluster_node(
    galera: GaleraCluster,
) -> None:
    assert_retry_starts_from_own_rows(galera.node(1))


def test_two_pipelines_merge_the_same_keys_via_two_nodes(galera: GaleraCluster) -> None:
    """Concurrent merges of the same 20k keys through two nodes: each pipeline ends loaded
    (re-running its package if it had to give way), no error blames a value, and every node
    holds each key once, from one of the two."""
    first, second = galera.node(0), galera.node(1)
    dataset = first.new_dataset_name()
    second.tmp_path = first.tmp_path / "second"
    pipelines = [
        node.pipeline(
            dataset_name=dataset,
            pipeline_name=f"merge_{i}_{uuid.uuid4().hex[:6]}",
            destination=node.destination(create_primary_keys=True),
        )
        for i, node in enumerate((first, second))
    ]
    # the dataset and its tables exist first (concurrent CREATE SCHEMA is another matter)
    for pipeline in pipelines:
        pipeline.run(players(make_rows(5)))
    rows = make_rows(20_000)
    failures: Dict[int, BaseException] = {}

    def run(index: int) -> None:
        tag = f"from {index}"
        try:
            pipelines[index].run(players([{**r, "name": tag} for r in rows]))
        except BaseException as ex:  # collected and judged below
            failures[index] = ex

    for _ in range(3):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index, ex in sorted(failures.items()):
            text = "\n".join(str(e) for e in _chain(ex))
            assert "ValueNotStorable" not in text and "Duplicate entry" not in text, text
            pipelines[index].load()  # the other package has completed by now
        failures.clear()
    table = first.qualified(dataset, "players")
    counts = galera.query_each(
        f"SELECT COUNT(*), COUNT(DISTINCT id), SUM(name IN ('from 0', 'from 1')) FROM {table}"
    )
    assert [[tuple(int(v) for v in r) for r in c] for c in counts] == [
        [(20_000, 20_000, 20_000)]
    ] * len(galera.nodes)
