"""Firebird 3, a database without schemas, through the third-party `sqlalchemy-firebird`, with a
plain URL and no options: a fresh database per test on the live server (127.0.0.1:3050).

The server is set up by `scripts/test` (Debian's firebird3.0-server); without it these tests
skip locally and fail under CI=true, like every other live backend.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import uuid
from decimal import Decimal
from typing import Any, Dict, Iterator, List

import dlt
import pytest
import sqlalchemy as sa
from dlt.pipeline.exceptions import PipelineStepFailed

from dlt_sqlalchemy import sqlalchemy as sqlalchemy_destination
from dlt_sqlalchemy.exceptions import DatabaseHoldsAnotherDataset
from dlt_sqlalchemy.testing import CHECKS, ConformanceTarget
from dlt_sqlalchemy.testing.checks import run_check
from test_errors import assert_value_not_storable
from test_load_paths import EDGE_TEXTS, paths_used

HOST = os.environ.get("DLT_SQLA_TEST_FIREBIRD_HOST", "127.0.0.1:3050")
DIRECTORY = os.environ.get("DLT_SQLA_TEST_FIREBIRD_DIR", "/tmp/dlt_sqla_firebird")
PASSWORD = os.environ.get("DLT_SQLA_TEST_FIREBIRD_PASSWORD", "masterkey")
UTC = datetime.timezone.utc


def _problem() -> Any:
    try:
        from firebird.driver import connect
    except ImportError as ex:
        return f"firebird-driver is not installed ({ex}): pip install 'dlt-sqlalchemy[firebird]'"
    try:
        connect(f"inet://{HOST}/employee", user="SYSDBA", password=PASSWORD).close()
    except Exception as ex:
        if "employee" in str(ex) or "I/O error" in str(ex) or "not found" in str(ex):
            return None  # the server answered: the sample database is just not there
        return f"{type(ex).__name__}: {str(ex).splitlines()[0]}"
    return None


@pytest.fixture
def firebird_url() -> Iterator[str]:
    """A URL of a fresh, empty database of the test's own."""
    problem = _problem()
    if problem is not None:
        message = (
            f"Firebird at {HOST} is not usable ({problem}); `bash scripts/test` installs and"
            " starts it (Debian firebird3.0-server)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and a required backend is missing: {message}")
        pytest.skip(message)
    from firebird.driver import create_database

    path = f"{DIRECTORY}/t_{uuid.uuid4().hex[:10]}.fdb"
    create_database(f"inet://{HOST}/{path}", user="SYSDBA", password=PASSWORD).close()
    url = f"firebird+firebird://SYSDBA:{PASSWORD}@{HOST}/{path}?charset=UTF8"
    yield url
    from firebird.driver import connect

    with contextlib.suppress(Exception):  # best effort: the directory is a scratch area
        connect(f"inet://{HOST}/{path}", user="SYSDBA", password=PASSWORD).drop_database()


def make_pipeline(url: str, tmp_path: Any, dataset: str = "games", **kwargs: Any) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=kwargs.pop("pipeline_name", f"fb_{uuid.uuid4().hex[:8]}"),
        destination=sqlalchemy_destination(url),
        dataset_name=dataset,
        pipelines_dir=str(kwargs.pop("pipelines_dir", tmp_path / "pipelines")),
    )


def scalar(url: str, sql: str) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


def games(n: int, rev: int = 0, start: int = 0) -> List[Dict[str, Any]]:
    return [
        {"id": i, "white": f"player {i}", "rev": rev, "moves": [{"ply": p} for p in range(3)]}
        for i in range(start, start + n)
    ]


def test_append_nested_with_a_plain_url(firebird_url: str, tmp_path: Any) -> None:
    pipeline = make_pipeline(firebird_url, tmp_path)
    info = pipeline.run(games(10), table_name="games")
    assert not info.has_failed_jobs
    assert scalar(firebird_url, "SELECT count(*) FROM games") == 10
    assert scalar(firebird_url, "SELECT count(*) FROM games__moves") == 30
    assert scalar(firebird_url, 'SELECT dataset_name FROM "_dlt_sqla_dataset"') == "games"


@pytest.mark.parametrize("strategy", ["delete-insert", "upsert"])
def test_merge_replace_and_evolution(firebird_url: str, tmp_path: Any, strategy: str) -> None:
    pipeline = make_pipeline(firebird_url, tmp_path)
    hints: Dict[str, Any] = {
        "write_disposition": {"disposition": "merge", "strategy": strategy},
        "primary_key": "id",
        "table_name": "games",
    }
    pipeline.run(games(10), **hints)
    incoming = [{**row, "opening": "sicilian"} for row in games(10, rev=1, start=5)]
    pipeline.run(incoming, **hints)
    assert scalar(firebird_url, "SELECT count(*) FROM games") == 15
    assert scalar(firebird_url, "SELECT sum(rev) FROM games") == 10
    assert scalar(firebird_url, """SELECT count(*) FROM games WHERE opening = 'sicilian'""") == 10
    assert scalar(firebird_url, "SELECT count(*) FROM games__moves") == 45

    pipeline.run([{"id": 1}], table_name="openings", write_disposition="replace")
    pipeline.run([{"id": 2}, {"id": 3}], table_name="openings", write_disposition="replace")
    assert scalar(firebird_url, "SELECT count(*) FROM openings") == 2


@pytest.mark.parametrize("file_format", ["parquet", "typed-jsonl"])
def test_every_type_reads_back_equal(firebird_url: str, tmp_path: Any, file_format: str) -> None:
    """Values equal on read-back; timestamps to Firebird's 100 microseconds."""
    ts = datetime.datetime(2024, 5, 17, 13, 45, 12, 123456, tzinfo=UTC)
    row = {
        "id": 1,
        "txt": "naïve café ♞",
        "big": 9_007_199_254_740_993,
        "dbl": 0.1 + 0.2,
        "flag": True,
        "ts": ts,
        "day": datetime.date(2024, 2, 29),
        "clock": datetime.time(23, 59, 58, 123400),
        "dec": Decimal("123456789.123456789"),
        "blob": b"\x00\xffchess",
        "doc": {"a": [1, 2, {"b": None}]},
    }
    columns: Dict[str, Any] = {
        "ts": {"data_type": "timestamp"},
        "day": {"data_type": "date"},
        "clock": {"data_type": "time"},
        "dec": {"data_type": "decimal"},
        "blob": {"data_type": "binary"},
        "doc": {"data_type": "json"},
    }
    pipeline = make_pipeline(firebird_url, tmp_path)
    info = pipeline.run([row], table_name="types", columns=columns, loader_file_format=file_format)
    assert paths_used(info, "types") == {"execute_block"}
    got = dict(zip(row, pipeline.dataset()["types"].select(*row).fetchall()[0]))
    assert got["txt"] == row["txt"]
    assert got["big"] == row["big"]
    assert got["dbl"] == row["dbl"]
    assert got["flag"] is True
    assert got["ts"] == ts.replace(microsecond=123400)  # 100 microseconds
    assert got["day"] == row["day"]
    assert got["clock"] == row["clock"]
    assert got["dec"] == row["dec"]
    assert bytes(got["blob"]) == row["blob"]
    assert got["doc"] == row["doc"]


def test_dataset_reads(firebird_url: str, tmp_path: Any) -> None:
    pipeline = make_pipeline(firebird_url, tmp_path)
    pipeline.run(games(20), table_name="games")
    dataset = pipeline.dataset()
    assert dataset["games"].arrow().num_rows == 20
    assert len(dataset["games"].limit(5).fetchall()) == 5
    assert len(dataset["games__moves"].fetchall()) == 60
    joined = dataset(
        'SELECT count(*) FROM games g JOIN "games__moves" m ON m."_dlt_parent_id" = g."_dlt_id"'
    )
    assert joined.fetchall()[0][0] == 60


def test_state_restores_on_a_fresh_machine(firebird_url: str, tmp_path: Any) -> None:
    @dlt.resource(table_name="games")
    def tracked() -> Iterator[Dict[str, Any]]:
        dlt.current.resource_state()["cursor"] = 42
        yield from games(3)

    first = make_pipeline(firebird_url, tmp_path, pipeline_name="chess")
    first.run(tracked())
    again = make_pipeline(
        firebird_url, tmp_path, pipeline_name="chess", pipelines_dir=tmp_path / "fresh"
    )
    again.sync_destination()
    resources = again.state["sources"][first.default_schema_name]["resources"]
    assert resources["tracked"] == {"cursor": 42}
    assert "games" in again.default_schema.tables


def test_another_dataset_is_refused(firebird_url: str, tmp_path: Any) -> None:
    make_pipeline(firebird_url, tmp_path, "games").run(games(5), table_name="games")
    with pytest.raises(PipelineStepFailed) as failed:
        make_pipeline(firebird_url, tmp_path, "puzzles").run(games(7), table_name="games")
    cause = failed.value.__context__
    while cause is not None and not isinstance(cause, DatabaseHoldsAnotherDataset):
        cause = cause.__context__
    assert isinstance(cause, DatabaseHoldsAnotherDataset), failed.value
    assert scalar(firebird_url, "SELECT count(*) FROM games") == 5


def test_names_longer_than_firebird_3_allows_are_shortened(
    firebird_url: str, tmp_path: Any
) -> None:
    pipeline = make_pipeline(firebird_url, tmp_path)
    long_name = "a_table_name_that_is_far_longer_than_thirty_one"
    pipeline.run([{"a_column_name_that_is_also_much_too_long": 1}], table_name=long_name)
    stored = pipeline.default_schema.naming.normalize_table_identifier(long_name)
    assert len(stored.encode()) <= 31
    assert scalar(firebird_url, f"SELECT count(*) FROM {stored}") == 1


@pytest.mark.parametrize("check", list(CHECKS))
def test_conformance_kit_passes_with_no_options(
    firebird_url: str, tmp_path: Any, check: str
) -> None:
    result = run_check(check, ConformanceTarget(firebird_url, str(tmp_path / "kit")))
    assert result.outcome == "passed", result


@pytest.mark.parametrize("file_format", ["parquet", "typed-jsonl"])
def test_block_path_keeps_texts_that_break_careless_literals(
    firebird_url: str, tmp_path: Any, file_format: str
) -> None:
    texts = [t for t in EDGE_TEXTS if "\x00" not in t]
    rows = [{"id": i, "txt": t, "key": f"k'{i}"} for i, t in enumerate(texts)]
    pipeline = make_pipeline(firebird_url, tmp_path)
    columns: Dict[str, Any] = {"key": {"data_type": "text", "precision": 20}}
    info = pipeline.run(rows, table_name="texts", columns=columns, loader_file_format=file_format)
    assert paths_used(info, "texts") == {"execute_block"}
    got = sorted(pipeline.dataset()["texts"].select("id", "txt", "key").fetchall())
    assert [(r[1], r[2]) for r in got] == [(r["txt"], r["key"]) for r in rows]


def test_block_path_loads_many_blocks(firebird_url: str, tmp_path: Any) -> None:
    pipeline = make_pipeline(firebird_url, tmp_path)
    info = pipeline.run(games(1234), table_name="games")
    assert paths_used(info, "games") == {"execute_block"}
    assert scalar(firebird_url, "SELECT count(*) FROM games") == 1234
    assert scalar(firebird_url, "SELECT count(*) FROM games__moves") == 3702


def test_a_value_the_column_cannot_hold_fails_the_file_terminally(
    firebird_url: str, tmp_path: Any
) -> None:
    pipeline = make_pipeline(firebird_url, tmp_path)
    pipeline.run([{"id": 1, "code": "ok"}], table_name="codes", columns={"code": {"precision": 5}})
    rows = [{"id": i, "code": "ok"} for i in range(2, 600)] + [{"id": 600, "code": "far too long"}]
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run(rows, table_name="codes", columns={"code": {"precision": 5}})
    assert_value_not_storable(failed.value, "codes", "code")
    assert scalar(firebird_url, "SELECT count(*) FROM codes") == 1  # no row of the file


def test_nulls_into_blobs_through_executemany(firebird_url: str, tmp_path: Any) -> None:
    """sqlalchemy-firebird's BLOB bind processor raises on None: NULLs are passed around it."""
    pipeline = dlt.pipeline(
        pipeline_name=f"fb_{uuid.uuid4().hex[:8]}",
        destination=sqlalchemy_destination(firebird_url, load_path="executemany"),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    rows = [{"id": 1, "blob": b"\x00chess"}, {"id": 2, "blob": None}]
    columns: Dict[str, Any] = {"blob": {"data_type": "binary"}}
    info = pipeline.run(rows, table_name="blobs", columns=columns)
    assert paths_used(info, "blobs") == {"executemany"}
    got = sorted(pipeline.dataset()["blobs"].select("id", "blob").fetchall())
    assert [(i, None if b is None else bytes(b)) for i, b in got] == [(1, b"\x00chess"), (2, None)]
