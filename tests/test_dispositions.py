"""Write dispositions append and replace (all three strategies) on every live backend."""

from __future__ import annotations

from typing import Any, Dict, List

import dlt
import pytest

from conftest import Backend


def _players(ids: List[int], tag: str) -> List[Dict[str, Any]]:
    return [
        {
            "id": i,
            "name": f"{tag}-{i}",
            "titles": [{"event": f"{tag}-cup-{i}-{n}"} for n in range(2)],
        }
        for i in ids
    ]


def _ids(backend: Backend, dataset: str, table: str = "players") -> List[int]:
    return [
        r[0]
        for r in backend.query(f"SELECT id FROM {backend.qualified(dataset, table)} ORDER BY id")
    ]


def _events(backend: Backend, dataset: str) -> List[str]:
    rows = backend.query(
        f"SELECT event FROM {backend.qualified(dataset, 'players__titles')} ORDER BY event"
    )
    return [r[0] for r in rows]


def test_append_accumulates_rows_and_nested_rows(backend: Backend) -> None:
    """Each append run adds its rows to the root table and its nested rows to the child table."""
    pipeline = backend.pipeline()
    pipeline.run(_players([1, 2], "a"), table_name="players")
    pipeline.run(_players([3], "b"), table_name="players")
    dataset = pipeline.dataset_name
    assert _ids(backend, dataset) == [1, 2, 3]
    assert len(_events(backend, dataset)) == 6


@pytest.mark.parametrize(
    "strategy", ["truncate-and-insert", "insert-from-staging", "staging-optimized"]
)
def test_replace_swaps_content_of_root_and_nested_tables(backend: Backend, strategy: str) -> None:
    """A replace run leaves exactly its own rows, in the root and the nested table."""
    pipeline = backend.pipeline(destination=backend.destination(replace_strategy=strategy))
    pipeline.run(_players([1, 2, 3], "old"), table_name="players", write_disposition="replace")
    info = pipeline.run(_players([7, 8], "new"), table_name="players", write_disposition="replace")
    assert not info.has_failed_jobs
    dataset = pipeline.dataset_name
    assert _ids(backend, dataset) == [7, 8]
    assert _events(backend, dataset) == [f"new-cup-{i}-{n}" for i in (7, 8) for n in range(2)]
    if strategy == "insert-from-staging":
        # the staged rows stay in staging until the next load (staging-optimized may swap
        # the staged table into place instead, so its staging table is not checked here)
        staged = backend.query(
            "SELECT count(*) FROM " + backend.qualified(f"{dataset}_staging", "players")
        )
        assert staged == [(2,)]


def test_replace_with_empty_data_empties_the_table(backend: Backend) -> None:
    """Replacing with no rows leaves the table empty (the last run's data is what remains)."""

    @dlt.resource(name="players", write_disposition="replace")
    def players(rows: List[Dict[str, Any]]) -> Any:
        yield from rows

    pipeline = backend.pipeline()
    pipeline.run(players(_players([1, 2], "a")))
    pipeline.run(players([]))
    assert _ids(backend, pipeline.dataset_name) == []


def test_new_columns_are_added_between_loads(backend: Backend) -> None:
    """Schema evolution adds the new columns; old rows read NULL in them."""
    pipeline = backend.pipeline()
    pipeline.run([{"id": 1, "name": "a"}], table_name="evolving")
    pipeline.run([{"id": 2, "name": "b", "rating": 1500, "country": "NO"}], table_name="evolving")
    rows = backend.query(
        "SELECT id, name, rating, country FROM "
        f"{backend.qualified(pipeline.dataset_name, 'evolving')} ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [(1, "a", None, None), (2, "b", 1500, "NO")]
