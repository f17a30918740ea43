"""Merge strategies on every live backend: table contents row for row after several loads.

Each test loads a few times (inserts, updates, deletes, schema evolution in between) and compares
whole tables with what the strategy defines. The generated follow-up SQL is also run a second
time, to show that a retried job (after a crash, or twice) leaves the same tables.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import dlt
import pytest
import sqlalchemy as sa
from dlt.common.pipeline import LoadInfo

from conftest import Backend
from dlt_sqlalchemy.dialects import _REGISTRY as DIALECT_REGISTRY
from dlt_sqlalchemy.dialects import DialectCapabilities, get_dialect_capabilities
from dlt_sqlalchemy.followup import guards
from dlt_sqlalchemy.followup.statements_job import SqlStatementsJob

UTC = datetime.timezone.utc


# --- helpers (also used by test_replace_strategies) -------------------------------------------


def select(
    backend: Backend,
    dataset: str,
    table: str,
    columns: Sequence[str],
    order_by: Optional[Sequence[str]] = None,
) -> List[Tuple[Any, ...]]:
    """Rows of `columns`, ordered, with values normalized across drivers (see `normalize`)."""
    q = backend.engine.dialect.identifier_preparer.quote
    cols = ", ".join(q(c) for c in columns)
    order = ", ".join(q(c) for c in (order_by or columns))
    rows = backend.query(f"SELECT {cols} FROM {backend.qualified(dataset, table)} ORDER BY {order}")
    return [tuple(normalize(v) for v in row) for row in rows]


def normalize(value: Any) -> Any:
    """Timestamps as aware UTC datetimes (SQLite gives text, MariaDB naive UTC); Decimals of
    whole numbers as ints."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


def nested_rows(
    backend: Backend, dataset: str, root: str, child: str, root_columns: Sequence[str], value: str
) -> List[Tuple[Any, ...]]:
    """(root columns..., child value) for every row of a first-level nested table."""
    q = backend.engine.dialect.identifier_preparer.quote
    cols = ", ".join([*(f"r.{q(c)}" for c in root_columns), f"c.{q(value)}"])
    rows = backend.query(
        f"SELECT {cols} FROM {backend.qualified(dataset, root)} r"
        f" JOIN {backend.qualified(dataset, child)} c ON c.{q('_dlt_parent_id')} = r.{q('_dlt_id')}"
        f" ORDER BY {cols}"
    )
    return [tuple(normalize(v) for v in row) for row in rows]


def count(backend: Backend, dataset: str, table: str) -> int:
    return int(backend.query(f"SELECT count(*) FROM {backend.qualified(dataset, table)}")[0][0])


def table_names(backend: Backend, dataset: str) -> List[str]:
    if backend.name == "sqlite":
        backend.query("SELECT 1")  # attaches the dataset files
        try:
            rows = backend.query(
                f"SELECT name FROM \"{dataset}\".sqlite_master WHERE type = 'table'"
            )
        except Exception:
            return []
    else:
        rows = backend.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{dataset}'"
        )
    return sorted(str(r[0]) for r in rows)


def snapshot(backend: Backend, dataset: str, tables: Sequence[str]) -> Dict[str, List[Any]]:
    """Every row of `tables` as sortable text: what "the same tables" means below."""
    result = {}
    for table in tables:
        rows = backend.query(f"SELECT * FROM {backend.qualified(dataset, table)}")
        result[table] = sorted(tuple(str(normalize(v)) for v in row) for row in rows)
    return result


def followup_files(info: LoadInfo) -> List[str]:
    """Paths of the SQL follow-up job files the last load ran."""
    return [
        job.file_path
        for package in info.load_packages
        for job in package.jobs["completed_jobs"]
        if job.job_file_info.file_format == "sql"
    ]


def followup_statements(info: LoadInfo) -> List[str]:
    """The statements of the SQL follow-up jobs the last load ran, without their guards."""
    statements = []
    for path in followup_files(info):
        with open(path, encoding="utf-8") as f:
            lines = [guards.decode(line) for line in f.read().split("\n") if line.strip()]
        statements.extend(s for _, s in lines)
    assert statements, "the load ran no SQL follow-up job"
    return statements


def run_job_again(pipeline: dlt.Pipeline, path: str, lines: Optional[int] = None) -> None:
    """Runs a follow-up job file again through our SQL job, as dlt's loader does on a retry;
    with `lines`, only its first lines (a run that crashed after them)."""
    if lines is not None:
        with open(path, encoding="utf-8") as f:
            text = "\n".join(f.read().split("\n")[:lines])
        path = os.path.join(tempfile.mkdtemp(), os.path.basename(path))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with pipeline.destination_client() as client:
        job = SqlStatementsJob(path)
        job._job_client = client  # what `run_managed` sets before it calls `run`
        job.run()


def assert_rerun_keeps_tables(
    backend: Backend, pipeline: dlt.Pipeline, info: LoadInfo, tables: Sequence[str]
) -> None:
    """Re-running the last merge (whole, and after a crash half-way) changes no table."""
    dataset = pipeline.dataset_name
    before = snapshot(backend, dataset, tables)
    paths = followup_files(info)
    assert paths, "the load ran no SQL follow-up job"
    for path in paths:
        run_job_again(pipeline, path)
    assert snapshot(backend, dataset, tables) == before
    # a crash after some statements committed (engines without DDL transactions), then a retry
    for path in paths:
        with open(path, encoding="utf-8") as f:
            count = len([line for line in f if line.strip()])
        run_job_again(pipeline, path, lines=count // 2 or 1)
        run_job_again(pipeline, path)
    assert snapshot(backend, dataset, tables) == before


def merge_resource(name: str = "players", **hints: Any) -> Any:
    @dlt.resource(name=name, **hints)
    def rows(data: List[Dict[str, Any]]) -> Iterator[Any]:
        yield data

    return rows


def write_disposition(strategy: str, **options: Any) -> Dict[str, Any]:
    return {"disposition": "merge", "strategy": strategy, **options}


# --- delete-insert ------------------------------------------------------------------------------


def test_delete_insert_by_primary_key_over_several_loads(backend: Backend) -> None:
    """Updated keys are replaced with their nested rows, new keys added, duplicates in one load
    collapse to the row `dedup_sort` picks, and a column added later reads NULL in old rows."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("delete-insert"),
        columns={"rating": {"dedup_sort": "desc"}},
    )
    pipeline = backend.pipeline()
    pipeline.run(
        players(
            [
                {"id": 1, "name": "ann", "rating": 10, "titles": ["a1", "a2"]},
                {"id": 2, "name": "bob", "rating": 20, "titles": ["b1"]},
                {"id": 3, "name": "cid", "rating": 30, "titles": []},
            ]
        )
    )
    pipeline.run(
        players(
            [
                {"id": 2, "name": "bob2", "rating": 21, "titles": ["b2", "b3"]},
                {"id": 4, "name": "dan-low", "rating": 1, "titles": ["d-low"]},
                {"id": 4, "name": "dan-high", "rating": 99, "titles": ["d-high"]},
                {"id": 4, "name": "dan-mid", "rating": 50, "titles": ["d-mid"]},
            ]
        )
    )
    info = pipeline.run(
        players([{"id": 1, "name": "ann2", "rating": 11, "country": "NO", "titles": ["a3"]}])
    )
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "players", ["id", "name", "rating", "country"]) == [
        (1, "ann2", 11, "NO"),
        (2, "bob2", 21, None),
        (3, "cid", 30, None),
        (4, "dan-high", 99, None),
    ]
    assert nested_rows(backend, dataset, "players", "players__titles", ["id"], "value") == [
        (1, "a3"),
        (2, "b2"),
        (2, "b3"),
        (4, "d-high"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__titles"])


@pytest.mark.parametrize("strategy", ["delete-insert", "upsert"])
def test_nested_tables_with_their_own_primary_keys(backend: Backend, strategy: str) -> None:
    """dlt's ethereum case in small: nested tables hinted with primary keys of their own (which
    makes each a merge chain of its own); loading the same blocks again changes no count."""
    hints: Dict[str, Any] = {"write_disposition": write_disposition(strategy)}

    @dlt.resource(
        name="blocks",
        primary_key="number",
        nested_hints={
            ("transactions",): {**hints, "primary_key": ("block", "index")},
            ("transactions", "logs"): {**hints, "primary_key": ("block", "index", "log")},
        },
        **hints,
    )
    def blocks(numbers: List[int]) -> Iterator[Any]:
        for n in numbers:
            yield {
                "number": n,
                "transactions": [
                    {
                        "block": n,
                        "index": i,
                        "logs": [{"block": n, "index": i, "log": j} for j in range(3)],
                    }
                    for i in range(4)
                ],
            }

    pipeline = backend.pipeline()
    pipeline.run(blocks([1]))
    pipeline.run(blocks([1, 2]))
    counts = {
        table: len(backend.rows(pipeline.dataset_name, table))
        for table in ("blocks", "blocks__transactions", "blocks__transactions__logs")
    }
    assert counts == {"blocks": 2, "blocks__transactions": 8, "blocks__transactions__logs": 24}
    pipeline.run(blocks([1, 2]))
    again = {table: len(backend.rows(pipeline.dataset_name, table)) for table in counts}
    assert again == counts


@pytest.mark.parametrize("order,kept", [("desc", "v3"), ("asc", "v1")])
def test_delete_insert_dedup_sort_order(backend: Backend, order: str, kept: str) -> None:
    """`dedup_sort` keeps the highest (desc) or lowest (asc) row of a key."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("delete-insert"),
        columns={"version": {"dedup_sort": order}},
    )
    pipeline = backend.pipeline()
    pipeline.run(
        players(
            [
                {"id": 1, "name": "v2", "version": 2},
                {"id": 1, "name": "v3", "version": 3},
                {"id": 1, "name": "v1", "version": 1},
            ]
        )
    )
    assert select(backend, pipeline.dataset_name, "players", ["id", "name"]) == [(1, kept)]


def test_delete_insert_by_merge_key_replaces_partitions(backend: Backend) -> None:
    """A merge key replaces all rows of each loaded partition and keeps the other partitions."""
    games = merge_resource(
        "games", merge_key="day", write_disposition=write_disposition("delete-insert")
    )
    pipeline = backend.pipeline()
    pipeline.run(games([{"day": 1, "game": "a"}, {"day": 1, "game": "b"}, {"day": 2, "game": "c"}]))
    pipeline.run(games([{"day": 2, "game": "d"}, {"day": 2, "game": "e"}]))
    info = pipeline.run(games([{"day": 1, "game": "f"}, {"day": 3, "game": "g"}]))
    assert select(backend, pipeline.dataset_name, "games", ["day", "game"]) == [
        (1, "f"),
        (2, "d"),
        (2, "e"),
        (3, "g"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["games"])


def test_delete_insert_with_primary_and_merge_key(backend: Backend) -> None:
    """A staged row replaces the rows with its primary key and the rows of its partition."""
    games = merge_resource(
        "games",
        primary_key="id",
        merge_key="day",
        write_disposition=write_disposition("delete-insert"),
    )
    pipeline = backend.pipeline()
    pipeline.run(
        games(
            [
                {"id": 1, "day": 1, "game": "x"},
                {"id": 2, "day": 1, "game": "y"},
                {"id": 3, "day": 2, "game": "z"},
                {"id": 4, "day": 3, "game": "q"},
            ]
        )
    )
    info = pipeline.run(games([{"id": 3, "day": 1, "game": "w"}]))
    # id 3 left day 2 (primary key) and day 1 was replaced (merge key); day 3 untouched
    assert select(backend, pipeline.dataset_name, "games", ["id", "day", "game"]) == [
        (3, 1, "w"),
        (4, 3, "q"),
    ]
    statements = followup_statements(info)
    assert not any(" OR " in s.upper() for s in statements if s.upper().startswith("DELETE"))
    assert_rerun_keeps_tables(backend, pipeline, info, ["games"])


def test_delete_insert_without_keys_appends_exactly_once(backend: Backend) -> None:
    """Without keys merge appends; re-running the job does not append the rows again."""
    events = merge_resource("events", write_disposition=write_disposition("delete-insert"))
    pipeline = backend.pipeline()
    pipeline.run(events([{"e": 1, "tags": ["x"]}]))
    info = pipeline.run(events([{"e": 1, "tags": ["x"]}, {"e": 2, "tags": []}]))
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "events", ["e"]) == [(1,), (1,), (2,)]
    assert nested_rows(backend, dataset, "events", "events__tags", ["e"], "value") == [
        (1, "x"),
        (1, "x"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["events", "events__tags"])


@pytest.mark.parametrize("flag_type", ["bool", "timestamp"])
def test_delete_insert_hard_delete(backend: Backend, flag_type: str) -> None:
    """Rows flagged deleted remove their key (and its nested rows) and are not inserted; a key
    whose latest row is not flagged is inserted."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("delete-insert"),
        columns={
            "deleted": {"data_type": flag_type, "hard_delete": True, "nullable": True},
            "seq": {"dedup_sort": "desc"},
        },
    )
    flag: Any = True if flag_type == "bool" else datetime.datetime(2024, 1, 1, tzinfo=UTC)
    pipeline = backend.pipeline()
    pipeline.run(
        players([{"id": i, "seq": 0, "name": f"p{i}", "kids": [f"k{i}"]} for i in (1, 2, 3, 5)])
    )
    info = pipeline.run(
        players(
            [
                {"id": 2, "seq": 1, "deleted": flag},
                {"id": 3, "seq": 1, "name": "p3-new", "kids": ["k3-new"]},
                {"id": 4, "seq": 1, "name": "born-dead", "deleted": flag, "kids": ["k4"]},
                # an earlier deletion of key 5 is overridden by a later row in the same load
                {"id": 5, "seq": 1, "deleted": flag},
                {"id": 5, "seq": 2, "name": "p5-back", "kids": ["k5-back"]},
            ]
        )
    )
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "players", ["id", "name"]) == [
        (1, "p1"),
        (3, "p3-new"),
        (5, "p5-back"),
    ]
    assert nested_rows(backend, dataset, "players", "players__kids", ["id"], "value") == [
        (1, "k1"),
        (3, "k3-new"),
        (5, "k5-back"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__kids"])


def test_delete_insert_source_filter(backend: Backend) -> None:
    """`source_filter` discards staged rows before the merge: they neither delete nor insert."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("delete-insert", source_filter="kind = 'keep'"),
    )
    pipeline = backend.pipeline()
    pipeline.run(players([{"id": 1, "kind": "keep", "v": "a", "kids": [1]}]))
    info = pipeline.run(
        players(
            [
                {"id": 1, "kind": "skip", "v": "ignored", "kids": [9]},
                {"id": 2, "kind": "keep", "v": "b", "kids": [2]},
                {"id": 3, "kind": "skip", "v": "c", "kids": [3]},
            ]
        )
    )
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "players", ["id", "v"]) == [(1, "a"), (2, "b")]
    assert nested_rows(backend, dataset, "players", "players__kids", ["id"], "value") == [
        (1, 1),
        (2, 2),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__kids"])


def test_delete_insert_destination_scope(backend: Backend) -> None:
    """`destination_scope` alone picks the rows to replace, with their nested rows."""
    games = merge_resource(
        "games",
        write_disposition=write_disposition("delete-insert", destination_scope="{table}.day >= 2"),
    )
    pipeline = backend.pipeline()
    pipeline.run(games([{"day": d, "game": f"g{d}", "moves": [f"m{d}"]} for d in (1, 2, 3)]))
    info = pipeline.run(games([{"day": 2, "game": "new", "moves": ["n1", "n2"]}]))
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "games", ["day", "game"]) == [(1, "g1"), (2, "new")]
    assert nested_rows(backend, dataset, "games", "games__moves", ["day"], "value") == [
        (1, "m1"),
        (2, "n1"),
        (2, "n2"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["games", "games__moves"])


def test_merge_leaves_no_helper_tables(backend: Backend) -> None:
    """Nested merges need no temporary or helper tables: both datasets hold only dlt's tables."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("delete-insert"),
        columns={"deleted": {"data_type": "bool", "hard_delete": True}},
    )
    pipeline = backend.pipeline()
    pipeline.run(players([{"id": 1, "titles": [{"t": "a", "years": [1, 2]}]}]))
    pipeline.run(players([{"id": 1, "titles": [{"t": "b", "years": [3]}]}, {"id": 2}]))
    dataset = pipeline.dataset_name
    data_tables = ["players", "players__titles", "players__titles__years"]
    dlt_tables = ["_dlt_loads", "_dlt_pipeline_state", "_dlt_version"]
    assert table_names(backend, dataset) == sorted(data_tables + dlt_tables)
    assert table_names(backend, f"{dataset}_staging") == sorted([*data_tables, "_dlt_version"])
    rows = backend.query(
        "SELECT y.value FROM "
        f"{backend.qualified(dataset, 'players__titles__years')} y ORDER BY y.value"
    )
    assert [r[0] for r in rows] == [3]


# --- upsert and insert-only ---------------------------------------------------------------------


def test_upsert_over_several_loads(backend: Backend) -> None:
    """Upsert updates by primary key, inserts new keys, keeps the rest; nested rows follow their
    parent (elements removed from a list are deleted); new columns arrive between loads."""
    players = merge_resource(primary_key="id", write_disposition=write_disposition("upsert"))
    pipeline = backend.pipeline()
    pipeline.run(
        players(
            [
                {"id": 1, "name": "ann", "titles": ["a1", "a2", "a3"]},
                {"id": 2, "name": "bob", "titles": ["b1"]},
            ]
        )
    )
    pipeline.run(
        players(
            [
                {"id": 1, "name": "ann2", "titles": ["a1"]},
                {"id": 3, "name": "cid", "titles": ["c1", "c2"]},
                {"id": 3, "name": "cid", "titles": ["c1", "c2"]},  # duplicate in one load
            ]
        )
    )
    info = pipeline.run(players([{"id": 2, "name": "bob2", "rating": 7, "titles": ["b9"]}]))
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "players", ["id", "name", "rating"]) == [
        (1, "ann2", None),
        (2, "bob2", 7),
        (3, "cid", None),
    ]
    assert nested_rows(backend, dataset, "players", "players__titles", ["id"], "value") == [
        (1, "a1"),
        (2, "b9"),
        (3, "c1"),
        (3, "c2"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__titles"])


def test_upsert_first_load_can_run_again(backend: Backend) -> None:
    """The first upsert into a table makes the unique index ON CONFLICT / ON DUPLICATE KEY needs;
    running that job again must not trip over the index it made. MySQL 8 has no CREATE INDEX IF
    NOT EXISTS, so on the MySQL family the index statement is guarded by a lookup instead (the
    same SQL on MariaDB, where it runs live here)."""
    players = merge_resource(primary_key="id", write_disposition=write_disposition("upsert"))
    pipeline = backend.pipeline()
    info = pipeline.run(players([{"id": 1, "name": "ann", "titles": ["a1"]}, {"id": 2}]))
    if backend.name == "mariadb":
        (path,) = [p for p in followup_files(info) if "players." in os.path.basename(p)]
        with open(path, encoding="utf-8") as f:
            lines = [guards.decode(line) for line in f if line.strip()]
        creates = [(g, s) for g, s in lines if s.upper().startswith("CREATE UNIQUE INDEX")]
        assert len(creates) == 2, lines  # root and nested table
        assert all(isinstance(g, guards.IndexMissing) for g, _ in creates)
        assert not any("IF NOT EXISTS" in s.upper() for _, s in creates)
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__titles"])
    pipeline.run(players([{"id": 2, "name": "bob", "titles": ["b1"]}]))
    assert select(backend, pipeline.dataset_name, "players", ["id", "name"]) == [
        (1, "ann"),
        (2, "bob"),
    ]


def test_upsert_hard_delete(backend: Backend) -> None:
    """A row flagged deleted removes its key and nested rows; a new key flagged deleted is not
    inserted."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("upsert"),
        columns={"deleted": {"data_type": "bool", "hard_delete": True}},
    )
    pipeline = backend.pipeline()
    pipeline.run(players([{"id": i, "name": f"p{i}", "kids": [i, i * 10]} for i in (1, 2)]))
    info = pipeline.run(
        players(
            [
                {"id": 1, "deleted": True},
                {"id": 2, "name": "p2-new", "deleted": False, "kids": [2]},
                {"id": 3, "name": "ghost", "deleted": True, "kids": [3]},
            ]
        )
    )
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "players", ["id", "name"]) == [(2, "p2-new")]
    assert nested_rows(backend, dataset, "players", "players__kids", ["id"], "value") == [(2, 2)]
    assert count(backend, dataset, "players__kids") == 1
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__kids"])


@pytest.mark.parametrize("row_version", [False, True])
def test_upsert_skip_unchanged_rows_keeps_their_load_id(
    backend: Backend, row_version: bool
) -> None:
    """With `skip_unchanged_rows`, rows equal to the loaded ones keep the load id that wrote
    them; with a row version column only that column is compared."""
    options: Dict[str, Any] = {"skip_unchanged_rows": True}
    if row_version:
        options["row_version_column_name"] = "version"
    players = merge_resource(
        primary_key="id", write_disposition=write_disposition("upsert", **options)
    )
    pipeline = backend.pipeline()
    first = pipeline.run(
        players([{"id": 1, "name": "a", "version": 1}, {"id": 2, "name": "b", "version": 1}])
    )
    # id 1: same version, other name (changed only without a row version); id 2: new version
    second = pipeline.run(
        players([{"id": 1, "name": "a2", "version": 1}, {"id": 2, "name": "b2", "version": 2}])
    )
    first_id, second_id = first.loads_ids[0], second.loads_ids[0]
    rows = select(backend, pipeline.dataset_name, "players", ["id", "name", "_dlt_load_id"])
    if row_version:
        assert rows == [(1, "a", first_id), (2, "b2", second_id)]
    else:
        assert rows == [(1, "a2", second_id), (2, "b2", second_id)]
    # the same rows again: nothing changes, not even the load ids
    pipeline.run(
        players([{"id": 1, "name": "a2", "version": 1}, {"id": 2, "name": "b2", "version": 2}])
    )
    assert select(backend, pipeline.dataset_name, "players", ["id", "_dlt_load_id"]) == [
        (1, first_id if row_version else second_id),
        (2, second_id),
    ]


def test_upsert_needs_a_primary_key(backend: Backend) -> None:
    """Upsert without a primary key is refused before anything is loaded, naming the key."""
    items = merge_resource("items", write_disposition=write_disposition("upsert"))
    pipeline = backend.pipeline()
    with pytest.raises(Exception, match=r"(?i)primary key"):
        pipeline.run(items([{"id": 1}]))


def test_insert_only_never_updates(backend: Backend) -> None:
    """insert-only adds new keys, leaves existing rows as they are, skips rows flagged deleted."""
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition("insert-only"),
        columns={"deleted": {"data_type": "bool", "hard_delete": True}},
    )
    pipeline = backend.pipeline()
    pipeline.run(players([{"id": 1, "name": "a", "kids": ["k1"]}]))
    info = pipeline.run(
        players(
            [
                {"id": 1, "name": "changed", "kids": ["k1"]},
                {"id": 2, "name": "b", "kids": ["k2"]},
                {"id": 2, "name": "b", "kids": ["k2"]},
                {"id": 3, "name": "gone", "deleted": True},
            ]
        )
    )
    dataset = pipeline.dataset_name
    assert select(backend, dataset, "players", ["id", "name"]) == [(1, "a"), (2, "b")]
    assert nested_rows(backend, dataset, "players", "players__kids", ["id"], "value") == [
        (1, "k1"),
        (2, "k2"),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__kids"])


@pytest.mark.parametrize("strategy", ["upsert", "insert-only"])
def test_portable_upsert_fallback(
    backend: Backend, strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UPDATE-then-INSERT fallback that unknown dialects get loads the same rows, here on
    each live backend with its native upsert switched off."""
    registered = type(get_dialect_capabilities(backend.engine.dialect.name))

    class Portable(registered):  # type: ignore[valid-type,misc]
        upsert_statements = DialectCapabilities.upsert_statements

    backend_name = backend.url.split(":")[0].split("+")[0]
    monkeypatch.setitem(DIALECT_REGISTRY, backend_name, Portable)
    players = merge_resource(
        primary_key="id",
        write_disposition=write_disposition(strategy, skip_unchanged_rows=strategy == "upsert")
        if strategy == "upsert"
        else write_disposition(strategy),
    )
    pipeline = backend.pipeline()
    pipeline.run(players([{"id": 1, "name": "a", "kids": [1, 2]}, {"id": 2, "name": "b"}]))
    info = pipeline.run(players([{"id": 1, "name": "a2", "kids": [1]}, {"id": 3, "name": "c"}]))
    statements = followup_statements(info)
    assert not any("ON CONFLICT" in s or "ON DUPLICATE" in s for s in statements)
    dataset = pipeline.dataset_name
    expected_name = "a2" if strategy == "upsert" else "a"
    assert select(backend, dataset, "players", ["id", "name"]) == [
        (1, expected_name),
        (2, "b"),
        (3, "c"),
    ]
    expected_kids = [(1, 1)] if strategy == "upsert" else [(1, 1), (1, 2)]
    assert (
        nested_rows(backend, dataset, "players", "players__kids", ["id"], "value") == expected_kids
    )
    assert_rerun_keeps_tables(backend, pipeline, info, ["players", "players__kids"])


def test_upsert_on_a_table_with_duplicate_keys_fails_clearly(backend: Backend) -> None:
    """A table appended to with repeated keys cannot get the unique key an upsert writes by: the
    load fails naming the duplicated key, and the rows stay as they were."""
    pipeline = backend.pipeline()
    pipeline.run([{"id": 1, "v": "a"}, {"id": 1, "v": "b"}], table_name="dupes")
    upsert = merge_resource(
        "dupes", primary_key="id", write_disposition=write_disposition("upsert")
    )
    with pytest.raises(Exception, match=r"(?i)duplicate|unique|constraint"):
        pipeline.run(upsert([{"id": 1, "v": "c"}]))
    assert select(backend, pipeline.dataset_name, "dupes", ["id", "v"]) == [(1, "a"), (1, "b")]


# --- scd2 -----------------------------------------------------------------------------------------


def _at(day: int) -> datetime.datetime:
    return datetime.datetime(2024, 5, day, 12, 30, 15, 123456, tzinfo=UTC)


def _scd2(day: int, name: str = "customers", **options: Any) -> Any:
    return merge_resource(
        name,
        write_disposition=write_disposition("scd2", boundary_timestamp=_at(day), **options),
    )


def test_scd2_keeps_history(backend: Backend) -> None:
    """Changed records get a new version, unchanged ones stay, absent ones are retired at the
    boundary; a record that comes back gets a new version; timestamps are exact."""
    pipeline = backend.pipeline()
    pipeline.run(_scd2(1)([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]))
    pipeline.run(_scd2(2)([{"id": 1, "v": "a2"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]))
    info = pipeline.run(_scd2(3)([{"id": 1, "v": "a2"}, {"id": 2, "v": "b"}]))
    pipeline.run(_scd2(4)([{"id": 1, "v": "a2"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]))
    columns = ["id", "v", "_dlt_valid_from", "_dlt_valid_to"]
    assert select(backend, pipeline.dataset_name, "customers", columns) == [
        (1, "a", _at(1), _at(2)),
        (1, "a2", _at(2), None),
        (2, "b", _at(1), None),
        (3, "c", _at(2), _at(3)),
        (3, "c", _at(4), None),
    ]
    assert len(followup_statements(info)) == 2


def test_scd2_custom_validity_columns_and_active_timestamp(backend: Backend) -> None:
    """Custom validity column names; active records carry `active_record_timestamp`."""
    high = datetime.datetime(9999, 12, 31, tzinfo=UTC)
    options = {
        "validity_column_names": ["valid_from", "valid_until"],
        "active_record_timestamp": high,
    }
    pipeline = backend.pipeline()
    pipeline.run(_scd2(1, **options)([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]))
    pipeline.run(_scd2(2, **options)([{"id": 1, "v": "a2"}, {"id": 2, "v": "b"}]))
    # retired versions keep their end: only active ones (`valid_until` = high) are retired
    info = pipeline.run(_scd2(3, **options)([{"id": 2, "v": "b"}]))
    assert select(
        backend, pipeline.dataset_name, "customers", ["id", "v", "valid_from", "valid_until"]
    ) == [
        (1, "a", _at(1), _at(2)),
        (1, "a2", _at(2), _at(3)),
        (2, "b", _at(1), high),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["customers"])


def test_scd2_row_version_column(backend: Backend) -> None:
    """With `row_version_column_name` a record changes only when that column changes."""
    options = {"row_version_column_name": "row_hash"}
    pipeline = backend.pipeline()
    pipeline.run(_scd2(1, **options)([{"id": 1, "v": "a", "row_hash": "h1"}]))
    pipeline.run(_scd2(2, **options)([{"id": 1, "v": "a-ignored", "row_hash": "h1"}]))
    pipeline.run(_scd2(3, **options)([{"id": 1, "v": "a3", "row_hash": "h3"}]))
    columns = ["id", "v", "row_hash", "_dlt_valid_from", "_dlt_valid_to"]
    assert select(backend, pipeline.dataset_name, "customers", columns) == [
        (1, "a", "h1", _at(1), _at(3)),
        (1, "a3", "h3", _at(3), None),
    ]


def test_scd2_incremental_with_merge_key(backend: Backend) -> None:
    """With a merge key only records of the loaded partitions are retired."""
    pipeline = backend.pipeline()
    first = [{"id": 1, "region": "eu", "v": "a"}, {"id": 2, "region": "us", "v": "b"}]
    pipeline.run(_scd2(1)(first).apply_hints(merge_key="region"))
    info = pipeline.run(
        _scd2(2)([{"id": 3, "region": "eu", "v": "c"}]).apply_hints(merge_key="region")
    )
    columns = ["id", "region", "_dlt_valid_from", "_dlt_valid_to"]
    assert select(backend, pipeline.dataset_name, "customers", columns) == [
        (1, "eu", _at(1), _at(2)),
        (2, "us", _at(1), None),
        (3, "eu", _at(2), None),
    ]
    assert_rerun_keeps_tables(backend, pipeline, info, ["customers"])


def test_scd2_nested_tables(backend: Backend) -> None:
    """Nested rows are inserted once per new version of their record, never duplicated."""
    pipeline = backend.pipeline()
    pipeline.run(_scd2(1)([{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": ["z"]}]))
    info = pipeline.run(_scd2(2)([{"id": 1, "tags": ["x"]}, {"id": 2, "tags": ["z"]}]))
    dataset = pipeline.dataset_name
    q = backend.engine.dialect.identifier_preparer.quote
    rows = backend.query(
        f"SELECT r.id, r.{q('_dlt_valid_to')}, c.value"
        f" FROM {backend.qualified(dataset, 'customers')} r"
        f" JOIN {backend.qualified(dataset, 'customers__tags')} c"
        f" ON c.{q('_dlt_parent_id')} = r.{q('_dlt_id')} ORDER BY r.id, c.value"
    )
    # the NULL of the active version sorts first or last depending on the database
    ordered = sorted(
        (tuple(normalize(v) for v in r) for r in rows), key=lambda r: (r[0], r[1] is None, r[2])
    )
    assert ordered == [(1, _at(2), "x"), (1, _at(2), "y"), (1, None, "x"), (2, None, "z")]
    assert count(backend, dataset, "customers__tags") == 4
    assert_rerun_keeps_tables(backend, pipeline, info, ["customers", "customers__tags"])


def test_scd2_source_filter(backend: Backend) -> None:
    """`source_filter` keeps filtered-out staged rows from retiring or inserting anything."""
    options = {"source_filter": "v <> 'skip'"}
    pipeline = backend.pipeline()
    pipeline.run(_scd2(1, **options)([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]))
    pipeline.run(_scd2(2, **options)([{"id": 1, "v": "a"}, {"id": 3, "v": "skip"}]))
    columns = ["id", "v", "_dlt_valid_from", "_dlt_valid_to"]
    assert select(backend, pipeline.dataset_name, "customers", columns) == [
        (1, "a", _at(1), None),
        (2, "b", _at(1), _at(2)),
    ]


def test_scd2_boundary_from_load_package(backend: Backend) -> None:
    """Without `boundary_timestamp` the load package's creation time bounds the versions."""
    customers = merge_resource("customers", write_disposition=write_disposition("scd2"))
    pipeline = backend.pipeline()
    first = pipeline.run(customers([{"id": 1, "v": "a"}]))
    second = pipeline.run(customers([{"id": 1, "v": "b"}]))
    created = [_package_created(pipeline, info) for info in (first, second)]
    columns = ["v", "_dlt_valid_from", "_dlt_valid_to"]
    assert select(backend, pipeline.dataset_name, "customers", columns) == [
        ("a", created[0], created[1]),
        ("b", created[1], None),
    ]


def _package_created(pipeline: dlt.Pipeline, info: LoadInfo) -> datetime.datetime:
    load_id = info.loads_ids[0]
    state = pipeline.get_load_package_state(load_id)
    value = state["created_at"]
    moment = datetime.datetime.fromisoformat(str(value))
    return moment.astimezone(UTC)


def _index_columns(backend: Backend, dataset: str, table: str) -> List[List[str]]:
    if backend.name == "duckdb":
        rows = backend.query(
            "SELECT expressions FROM duckdb_indexes()"
            f" WHERE schema_name = '{dataset}' AND table_name = '{table}'"
        )
        return sorted([[c.strip("'\" ") for c in str(e).strip("[]").split(",")] for (e,) in rows])
    with backend.engine.connect() as connection:
        if backend.name == "sqlite":
            from conftest import attach_sqlite_datasets

            attach_sqlite_datasets(connection, backend.url, backend.datasets)
        indexes = sa.inspect(connection).get_indexes(table, schema=dataset)
    return sorted([list(i["column_names"]) for i in indexes])


@pytest.mark.parametrize("strategy", ["delete-insert", "upsert", "scd2"])
def test_create_merge_indexes(backend: Backend, strategy: str) -> None:
    """`create_merge_indexes` indexes what merges look rows up by (keys, `_dlt_root_id`, scd2's
    row hash) on the destination tables only; merges give the same rows as without."""
    hints: Dict[str, Any] = {"write_disposition": write_disposition(strategy)}
    if strategy != "scd2":
        hints.update(primary_key="id", merge_key="day")
    players = merge_resource(**hints)
    pipeline = backend.pipeline(destination=backend.destination(create_merge_indexes=True))
    pipeline.run(players([{"id": 1, "day": 1, "titles": ["a"]}, {"id": 2, "day": 1, "titles": []}]))
    pipeline.run(players([{"id": 1, "day": 1, "titles": ["b", "c"]}, {"id": 3, "day": 2}]))
    dataset = pipeline.dataset_name
    root_indexes = _index_columns(backend, dataset, "players")
    expected_indexes = {
        "delete-insert": [["day"], ["id"]],
        "upsert": [["day"], ["id"]],  # `id`: the UNIQUE index upsert makes itself, not ours
        "scd2": [["_dlt_id"]],
    }
    assert root_indexes == expected_indexes[strategy]
    nested_indexes = _index_columns(backend, dataset, "players__titles")
    # scd2's nested tables have no root key: their rows are found through the parent's
    assert (["_dlt_parent_id"] if strategy == "scd2" else ["_dlt_root_id"]) in nested_indexes
    # none on the staging tables, which every load empties and fills again
    assert _index_columns(backend, f"{dataset}_staging", "players") in ([], [["id"]])
    expected = {
        # the merge key replaces day 1 whole: id 2 goes
        "delete-insert": [(1, 1), (3, 2)],
        "upsert": [(1, 1), (2, 1), (3, 2)],
        # scd2 retires id 2 (absent) and keeps both versions of id 1
        "scd2": [(1, 1), (1, 1), (2, 1), (3, 2)],
    }
    assert select(backend, dataset, "players", ["id", "day"]) == expected[strategy]
