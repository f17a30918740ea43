"""A merge looking rows up by keys no index starts with is slow: said once per table (#15)."""

from __future__ import annotations

from typing import Any, Dict, List

import dlt

from conftest import Backend, GaleraCluster, make_rows
from passwords import captured_logs

WARNING = "which no index of the table starts with"


def _merge_twice(backend: Backend, **options: Any) -> str:
    @dlt.resource(primary_key="id", write_disposition="merge")
    def players(rows: List[Dict[str, Any]]) -> Any:
        yield rows

    pipeline = backend.pipeline(destination=backend.destination(**options))
    with captured_logs() as logs:
        pipeline.run(players(make_rows(20)))
        pipeline.run(players(make_rows(30)))
    return logs.getvalue()


def test_a_merge_without_an_index_on_its_keys_warns_once(backend: Backend) -> None:
    logs = _merge_twice(backend)
    if backend.name == "duckdb":  # joins by hashing: no index would be used
        assert WARNING not in logs
        return
    assert logs.count(WARNING) == 1, logs
    line = next(line for line in logs.splitlines() if WARNING in line)
    assert "`players`" in line and "`id`" in line and "create_merge_indexes=True" in line
    # advice, not a warning, off a cluster: dlt's tests hold plain merges to no warning
    assert " INFO " in line, line


def test_an_indexed_merge_does_not_warn(backend: Backend) -> None:
    assert WARNING not in _merge_twice(backend, create_merge_indexes=True)
    assert WARNING not in _merge_twice(backend, create_primary_keys=True)


def test_the_warning_on_a_cluster_node(galera: GaleraCluster) -> None:
    logs = _merge_twice(galera.node(2))
    assert logs.count(WARNING) == 1
    assert " WARNING " in next(line for line in logs.splitlines() if WARNING in line)
