"""Loading into a live 3-node MariaDB Galera cluster: what one node commits, every node has."""

from __future__ import annotations

from typing import Any, Dict, List

import dlt
import pytest

from conftest import GaleraCluster, make_rows
from dlt_sqlalchemy.testing import CHECKS, ConformanceTarget
from dlt_sqlalchemy.testing.checks import run_check


def _same_on_every_node(galera: GaleraCluster, sql: str) -> List[Any]:
    answers = galera.query_each(sql)
    assert all(a == answers[0] for a in answers), answers
    return answers[0]


def test_append_merge_and_replace_reach_every_node(galera: GaleraCluster) -> None:
    node = galera.node(0)
    pipeline = node.pipeline()
    dataset = pipeline.dataset_name
    pipeline.run(make_rows(300), table_name="plain")

    @dlt.resource(primary_key="id", write_disposition="merge")
    def players(rows: List[Dict[str, Any]]) -> Any:
        yield rows

    pipeline.run(players(make_rows(200)))
    pipeline.run(players([{"id": i, "name": f"renamed {i}"} for i in range(150, 250)]))
    pipeline.run([{"id": 1, "name": "only"}], table_name="snapshot", write_disposition="replace")
    pipeline.run([{"id": 2, "name": "again"}], table_name="snapshot", write_disposition="replace")

    plain = node.qualified(dataset, "plain")
    merged = node.qualified(dataset, "players")
    snapshot = node.qualified(dataset, "snapshot")
    assert _same_on_every_node(galera, f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {plain}") == [
        (300, 300)
    ]
    counts = _same_on_every_node(
        galera,
        f"SELECT COUNT(*), COUNT(DISTINCT id), SUM(LEFT(name, 7) = 'renamed') FROM {merged}",
    )
    assert [tuple(int(v) for v in row) for row in counts] == [(250, 250, 100)]
    assert _same_on_every_node(galera, f"SELECT id, name FROM {snapshot}") == [(2, "again")]


def test_state_written_via_one_node_is_restored_via_another(galera: GaleraCluster) -> None:
    first, second = galera.node(0), galera.node(1)

    @dlt.resource(name="events")
    def events(start: Any = dlt.sources.incremental("id", initial_value=0)) -> Any:  # noqa: B008
        yield [{"id": i} for i in range(start.last_value + 1, start.last_value + 11)]

    pipeline = first.pipeline(pipeline_name="galera_state")
    pipeline.run(events())
    dataset = pipeline.dataset_name
    # a fresh working directory, the same pipeline name, the second node: dlt restores its
    # state from the destination and continues where the first run stopped
    second.tmp_path = first.tmp_path / "elsewhere"
    again = second.pipeline(dataset_name=dataset, pipeline_name="galera_state")
    again.sync_destination()
    again.run(events())
    rows = _same_on_every_node(
        galera, f"SELECT MIN(id), MAX(id), COUNT(*) FROM {first.qualified(dataset, 'events')}"
    )
    assert [tuple(int(v) for v in row) for row in rows] == [(1, 20, 20)]


@pytest.mark.parametrize("check", list(CHECKS))
def test_kit_check_on_a_cluster_node(galera: GaleraCluster, check: str, tmp_path: Any) -> None:
    """The conformance kit passes against a cluster node, as against a single server."""
    target = ConformanceTarget(galera.node(1).url, str(tmp_path / "kit"))
    try:
        result = run_check(check, target)
    finally:
        target.cleanup()
    assert result.outcome == "passed", result
