"""Replace strategies on every live backend: contents after several loads, the swap, re-runs.

`staging-optimized` swaps the staged tables into place where the database can do that atomically
(PostgreSQL and MariaDB always; SQLite and DuckDB when staging tables live beside the real ones
under a prefix) and copies like `insert-from-staging` elsewhere.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
import sqlalchemy as sa
from dlt.common.destination.exceptions import DestinationTerminalException

from conftest import Backend
from test_merge import (
    followup_files,
    followup_statements,
    nested_rows,
    run_job_again,
    select,
    snapshot,
    table_names,
)

STRATEGIES = ["truncate-and-insert", "insert-from-staging", "staging-optimized"]
TABLES = ["players", "players__titles"]


def swaps(backend: Backend, prefix: Optional[str]) -> bool:
    """Whether `staging-optimized` swaps tables here (else it copies)."""
    return backend.name in ("postgresql", "mariadb") or prefix is not None


def _players(ids: List[int], tag: str, **extra: Any) -> List[Dict[str, Any]]:
    return [
        {
            "id": i,
            "name": f"{tag}-{i}",
            "titles": [f"{tag}-t{i}-{n}" for n in range(i % 3)],
            **extra,
        }
        for i in ids
    ]


def _staging_dataset(dataset: str, prefix: Optional[str]) -> str:
    return dataset if prefix else f"{dataset}_staging"


@pytest.mark.parametrize("prefix", [None, "stg__"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_replace_over_several_loads(backend: Backend, strategy: str, prefix: Optional[str]) -> None:
    """Each load leaves exactly its rows, in the root and the nested table, while columns are
    added between loads; staging tables swapped away come back for the next load."""
    destination = backend.destination(replace_strategy=strategy, staging_table_prefix=prefix)
    pipeline = backend.pipeline(destination=destination)
    loads: List[Tuple[List[Dict[str, Any]], List[Tuple[Any, ...]], List[Tuple[Any, ...]]]] = [
        (
            _players([1, 2, 3], "a"),
            [(1, "a-1"), (2, "a-2"), (3, "a-3")],
            [(1, "a-t1-0"), (2, "a-t2-0"), (2, "a-t2-1")],
        ),
        # a new column: old staged and destination tables get it
        (
            _players([7, 8], "b", country="NO"),
            [(7, "b-7", "NO"), (8, "b-8", "NO")],
            [(7, "b-t7-0"), (8, "b-t8-0"), (8, "b-t8-1")],
        ),
        # no nested rows at all: the nested table must end up empty
        (_players([9], "c", rating=5), [(9, "c-9", None, 5)], []),
        # the same schema again: dlt skips staging DDL, a swapped staging table is made anew
        (
            _players([3, 4], "d", rating=6),
            [(3, "d-3", None, 6), (4, "d-4", None, 6)],
            [(4, "d-t4-0")],
        ),
    ]
    dataset = pipeline.dataset_name
    for rows, expected, expected_nested in loads:
        info = pipeline.run(rows, table_name="players", write_disposition="replace")
        assert not info.has_failed_jobs
        columns = ["id", "name", "country", "rating"][: len(expected[0])]
        assert select(backend, dataset, "players", columns, ["id"]) == expected
        assert nested_rows(backend, dataset, "players", "players__titles", ["id"], "value") == (
            expected_nested
        )


@pytest.mark.parametrize("prefix", [None, "stg__"])
def test_staging_optimized_swaps_where_it_can(backend: Backend, prefix: Optional[str]) -> None:
    """Where the database can swap atomically the staged tables become the real ones (no copy);
    elsewhere staging-optimized copies, and the staged rows stay in staging."""
    destination = backend.destination(
        replace_strategy="staging-optimized", staging_table_prefix=prefix
    )
    pipeline = backend.pipeline(destination=destination)
    pipeline.run(_players([1, 2], "a"), table_name="players", write_disposition="replace")
    info = pipeline.run(_players([5], "b"), table_name="players", write_disposition="replace")
    dataset = pipeline.dataset_name
    staged = [(prefix or "") + t for t in TABLES]
    statements = " ".join(followup_statements(info)).upper()
    present = table_names(backend, _staging_dataset(dataset, prefix))
    if swaps(backend, prefix):
        assert "RENAME" in statements or "SET SCHEMA" in statements
        assert "INSERT" not in statements
        assert not set(staged) & set(present)
    else:
        assert "INSERT INTO" in statements and "RENAME" not in statements
        assert set(staged) <= set(present)
    assert select(backend, dataset, "players", ["id", "name"]) == [(5, "b-5")]
    # no table left behind by the swap: only dlt's tables and the data tables
    leftovers = [t for t in table_names(backend, dataset) if t.endswith("__dlt_old")]
    assert leftovers == []


def test_swap_replaces_the_table_object_on_postgresql(backend: Backend) -> None:
    """On PostgreSQL each swap makes the staged table the destination table (a new oid each
    load: moved, not copied), with the primary key `create_primary_keys` gave it."""
    if backend.name != "postgresql":
        pytest.skip("oids are PostgreSQL's")
    destination = backend.destination(
        replace_strategy="staging-optimized", create_primary_keys=True
    )
    pipeline = backend.pipeline(destination=destination)
    dataset = pipeline.dataset_name
    table = f'\'"{dataset}"."players"\'::regclass'
    oids = []
    for ids in ([1, 2], [3], [4, 5]):
        pipeline.run(
            _players(ids, "x"), table_name="players", write_disposition="replace", primary_key="id"
        )
        with backend.engine.connect() as conn:
            oids.append(conn.exec_driver_sql(f"SELECT {table}::oid").scalar())
            keys = conn.exec_driver_sql(
                f"SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid = {table}"
            ).scalar()
        assert keys == 1
    assert len(set(oids)) == 3
    assert select(backend, dataset, "players", ["id"]) == [(4,), (5,)]


@pytest.mark.parametrize("create_primary_keys", [False, True])
def test_swap_with_constraints(backend: Backend, create_primary_keys: bool) -> None:
    """Primary keys and unique columns move with the swapped tables (no index name clashes
    between the staged and the destination table), load after load."""
    destination = backend.destination(
        replace_strategy="staging-optimized",
        create_primary_keys=create_primary_keys,
        create_unique_indexes=True,
        staging_table_prefix="stg__" if backend.name in ("sqlite", "duckdb") else None,
    )
    pipeline = backend.pipeline(destination=destination)
    for ids in ([1, 2], [2, 3], [4]):
        pipeline.run(
            _players(ids, "k"), table_name="players", write_disposition="replace", primary_key="id"
        )
    assert select(backend, pipeline.dataset_name, "players", ["id"]) == [(4,)]


def _swapping_pipeline(backend: Backend) -> Any:
    prefix = "stg__" if backend.name in ("sqlite", "duckdb") else None
    destination = backend.destination(
        replace_strategy="staging-optimized", staging_table_prefix=prefix
    )
    return backend.pipeline(destination=destination), prefix


def test_swap_run_again_changes_nothing(backend: Backend) -> None:
    """Running a swap that already committed again (a retry after the loader lost track of it)
    succeeds without doing anything: the staged tables are gone, so the guarded swap is skipped.
    It never drops the new tables nor swaps old rows back in, and leaves no table behind."""
    pipeline, _ = _swapping_pipeline(backend)
    pipeline.run(_players([1, 2, 3], "a"), table_name="players", write_disposition="replace")
    info = pipeline.run(_players([4], "b"), table_name="players", write_disposition="replace")
    dataset = pipeline.dataset_name
    before = snapshot(backend, dataset, TABLES)
    (path,) = followup_files(info)
    run_job_again(pipeline, path)
    run_job_again(pipeline, path)
    assert snapshot(backend, dataset, TABLES) == before
    assert [t for t in table_names(backend, dataset) if t.endswith("__dlt_old")] == []
    # and the next load finds its staging tables again
    pipeline.run(_players([6], "c"), table_name="players", write_disposition="replace")
    assert select(backend, dataset, "players", ["id"]) == [(6,)]


def test_swap_half_done_is_refused_by_name(backend: Backend) -> None:
    """Some staged tables there and some gone cannot come from an atomic swap: the job refuses,
    naming the tables, and changes nothing."""
    pipeline, prefix = _swapping_pipeline(backend)
    pipeline.run(_players([1, 2, 3], "a"), table_name="players", write_disposition="replace")
    info = pipeline.run(_players([4], "b"), table_name="players", write_disposition="replace")
    dataset = pipeline.dataset_name
    before = snapshot(backend, dataset, TABLES)
    staging = _staging_dataset(dataset, prefix)
    stray = backend.qualified(staging, (prefix or "") + "players")
    with pipeline.sql_client() as client:
        client.execute_sql(f"CREATE TABLE {stray} (id INTEGER)")
    (path,) = followup_files(info)
    with pytest.raises(DestinationTerminalException, match=r"players__titles.*half-way"):
        run_job_again(pipeline, path)
    assert snapshot(backend, dataset, TABLES) == before


@pytest.mark.parametrize("strategy", ["insert-from-staging", "staging-optimized"])
def test_copy_run_again_gives_the_same_tables(backend: Backend, strategy: str) -> None:
    """The copying replace (and staging-optimized where it copies) can run twice, or again after
    a crash half-way, with the same result."""
    destination = backend.destination(replace_strategy=strategy)
    pipeline = backend.pipeline(destination=destination)
    pipeline.run(_players([1, 2, 3], "a"), table_name="players", write_disposition="replace")
    info = pipeline.run(_players([4, 5], "b"), table_name="players", write_disposition="replace")
    statements = followup_statements(info)
    if any("RENAME" in s.upper() or "SET SCHEMA" in s.upper() for s in statements):
        pytest.skip("swapped here: see test_swap_run_again_changes_nothing")
    dataset = pipeline.dataset_name
    before = snapshot(backend, dataset, TABLES)
    (path,) = followup_files(info)
    run_job_again(pipeline, path)
    run_job_again(pipeline, path, lines=1)
    run_job_again(pipeline, path)
    assert snapshot(backend, dataset, TABLES) == before


@pytest.mark.parametrize("strategy", ["insert-from-staging", "staging-optimized"])
def test_readers_never_see_an_empty_or_partial_table(backend: Backend, strategy: str) -> None:
    """A reader polling during replace loads only ever sees the old or the new contents: root
    and nested counts read in one statement always belong to one load."""
    if backend.name not in ("postgresql", "mariadb"):
        pytest.skip("needs a server that serves a concurrent reader")
    destination = backend.destination(replace_strategy=strategy)
    pipeline = backend.pipeline(destination=destination)
    sizes = [300, 500]
    pipeline.run(_wide(sizes[0]), table_name="players", write_disposition="replace")
    dataset = pipeline.dataset_name
    query = (
        f"SELECT (SELECT count(*) FROM {backend.qualified(dataset, 'players')}),"
        f" (SELECT count(*) FROM {backend.qualified(dataset, 'players__titles')})"
    )
    seen: Set[Tuple[int, int]] = set()
    errors: List[str] = []
    stop = threading.Event()
    engine = sa.create_engine(backend.url, isolation_level="AUTOCOMMIT")

    def read() -> None:
        with engine.connect() as conn:
            while not stop.is_set():
                try:
                    row = conn.exec_driver_sql(query).one()
                    seen.add((int(row[0]), int(row[1])))
                except Exception as ex:
                    errors.append(str(ex).splitlines()[0])
                time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(4):
            pipeline.run(
                _wide(sizes[(n + 1) % 2]), table_name="players", write_disposition="replace"
            )
    finally:
        stop.set()
        reader.join()
        engine.dispose()
    assert errors == []
    assert seen <= {(size, 2 * size) for size in sizes}, seen
    assert len(seen) == 2  # the reader watched both contents


def _wide(n: int) -> List[Dict[str, Any]]:
    return [{"id": i, "name": f"p{i}", "titles": ["x", "y"]} for i in range(n)]
