"""Cluster errors on a live Galera cluster: write-set limits and chunked commits (issue #15
items 2 and 3)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend, GaleraCluster, make_rows
from dlt_sqlalchemy.exceptions import DatabaseLimitExceeded
from test_rows_per_commit import assert_resumes_after_the_last_committed_chunk


@pytest.fixture
def small_write_sets(galera: GaleraCluster) -> Iterator[Backend]:
    """The first node with `wsrep_max_ws_rows=5000`, for this test only."""
    node = galera.node(0)
    with node.engine.connect() as conn:
        conn.exec_driver_sql("SET GLOBAL wsrep_max_ws_rows = 5000")
    try:
        yield node
    finally:
        with node.engine.connect() as conn:
            conn.exec_driver_sql("SET GLOBAL wsrep_max_ws_rows = 0")


def _chain(ex: BaseException) -> Iterator[BaseException]:
    current: Any = ex
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def test_a_file_over_the_write_set_limit_fails_terminal_naming_limit_and_option(
    small_write_sets: Backend,
) -> None:
    pipeline = small_write_sets.pipeline()
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run(make_rows(20_000), table_name="players")
    limits = [e for e in _chain(failed.value) if isinstance(e, DatabaseLimitExceeded)]
    assert limits, failed.value
    assert "wsrep_max_ws_rows" in str(limits[0]) and "rows_per_commit" in str(limits[0])
    # terminal: the job failed on its first attempt, not after dlt's retries
    assert "retries" not in str(failed.value)


def test_rows_per_commit_loads_a_file_over_the_limit_onto_every_node(
    galera: GaleraCluster, small_write_sets: Backend
) -> None:
    node = small_write_sets
    pipeline = node.pipeline(destination=node.destination(rows_per_commit=4_000))
    pipeline.run(make_rows(20_000), table_name="players")
    table = node.qualified(pipeline.dataset_name, "players")
    counts = galera.query_each(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}")
    assert counts == [[(20_000, 20_000)]] * len(galera.nodes)
    progress = node.qualified(pipeline.dataset_name, "_dlt_sqla_file_progress")
    assert galera.query_each(f"SELECT COUNT(*) FROM {progress}")[2] == [(0,)]


def test_a_retry_resumes_after_the_last_committed_chunk_on_a_cluster_node(
    galera: GaleraCluster,
) -> None:
    assert_resumes_after_the_last_committed_chunk(galera.node(1))
