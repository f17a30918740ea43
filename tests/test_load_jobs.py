"""The typed-jsonl load job: batches, streaming, one transaction per file."""

from __future__ import annotations

import datetime
import decimal
import gzip
import inspect
from typing import Any, Dict, List

import dlt
import pytest
from dlt.common.json import json

from conftest import Backend
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath, LoadRequest
from dlt_sqlalchemy.load.readers import read_typed_jsonl


def _write_typed_jsonl(path: Any, lines: List[List[Dict[str, Any]]], compress: bool) -> None:
    payload = b"".join(json.typed_dumpb(rows) + b"\n" for rows in lines)
    if compress:
        payload = gzip.compress(payload)
    path.write_bytes(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_typed_jsonl_batches_cross_line_boundaries(tmp_path: Any, compress: bool) -> None:
    """Rows are regrouped into batches of the configured size, whatever the writer's lines hold."""
    lines = [
        [
            {"id": i, "at": datetime.date(2024, 1, 1 + i % 28), "amount": decimal.Decimal(i)}
            for i in range(s, s + 7)
        ]
        for s in range(0, 21, 7)
    ]
    path = tmp_path / "t.0.0.typed-jsonl"
    _write_typed_jsonl(path, lines, compress)
    columns = [
        {"name": "id", "data_type": "bigint"},
        {"name": "at", "data_type": "date"},
        {"name": "amount", "data_type": "decimal"},
        {"name": "missing", "data_type": "text"},
    ]
    batches = read_typed_jsonl(str(path), columns, batch_rows=5)
    assert inspect.isgenerator(batches), "the file is streamed, never read whole"
    sizes, ids, dates, amounts = [], [], [], []
    for batch in batches:
        assert len(batch) == len(columns)
        sizes.append(len(batch[0]))
        ids.extend(batch[0])
        dates.extend(batch[1])
        amounts.extend(batch[2])
        assert batch[3] == [None] * len(batch[0])
    assert sizes == [5, 5, 5, 5, 1]
    assert ids == list(range(21))
    assert dates[3] == datetime.date(2024, 1, 4)
    assert amounts[20] == decimal.Decimal(20)


def test_failed_file_leaves_no_rows_across_batches(backend: Backend) -> None:
    """A value that does not fit in a late batch rolls back the earlier batches of the file."""
    pipeline = backend.pipeline(destination=backend.destination(max_rows_per_insert=2))

    @dlt.resource(name="short", columns={"code": {"data_type": "text", "nullable": False}})
    def short(rows: Any) -> Any:
        yield rows

    pipeline.run(short([{"id": 0, "code": "ok"}]))
    # five good rows in three batches, then a NULL for a NOT NULL column in the last batch
    bad = [{"id": i, "code": "abc"} for i in range(1, 6)] + [{"id": 6, "code": None}]
    with pytest.raises(Exception):
        pipeline.run(short(bad))
    ids = [
        r[0]
        for r in backend.query(
            f"SELECT id FROM {backend.qualified(pipeline.dataset_name, 'short')}"
        )
    ]
    assert ids == [0]


def test_batch_size_is_configurable_and_loads_everything(backend: Backend) -> None:
    """A small `max_rows_per_insert` still loads every row of a many-line file."""
    pipeline = backend.pipeline(destination=backend.destination(max_rows_per_insert=7))
    rows = [{"id": i, "v": f"value {i}"} for i in range(100)]
    pipeline.run(rows, table_name="many")
    count = backend.query(
        f"SELECT count(*), sum(id) FROM {backend.qualified(pipeline.dataset_name, 'many')}"
    )
    assert tuple(count[0]) == (100, sum(range(100)))


def _load_paths_of(info: Any) -> set[str]:
    """The load paths recorded in the job metrics of a load."""
    paths = set()
    for metrics in info.metrics.values():
        for job in metrics[0]["job_metrics"].values():
            if job.remote_url and job.remote_url.startswith("load-path:"):
                paths.add(job.remote_url.split(":", 1)[1])
    return paths


def test_load_path_is_recorded_in_job_metrics(backend: Backend) -> None:
    """Each job says which load path moved its rows."""
    pipeline = backend.pipeline()
    info = pipeline.run([{"id": 1}], table_name="t")
    paths = _load_paths_of(info)
    assert paths and paths <= {p.name for p in _dialect_paths(pipeline)}


def _dialect_paths(pipeline: dlt.Pipeline) -> Any:
    with pipeline.destination_client() as client:
        return client.dialect_caps.load_paths()


def test_forced_load_path_is_used_and_an_unknown_one_is_refused(backend: Backend) -> None:
    """`load_path="executemany"` forces the portable path; a name no path has fails clearly."""
    pipeline = backend.pipeline(destination=backend.destination(load_path="executemany"))
    info = pipeline.run([{"id": 1}], table_name="t")
    assert _load_paths_of(info) == {"executemany"}
    from dlt.common.configuration.exceptions import ConfigurationValueError

    from passwords import assert_password_nowhere, captured_logs, url_with_password

    with url_with_password(backend) as (url, secret), captured_logs() as logs:
        broken = backend.pipeline(
            destination=backend.destination(credentials=url, load_path="carrier_pigeon")
        )
        with pytest.raises(Exception, match="carrier_pigeon") as failure:
            broken.run([{"id": 1}], table_name="t")
        assert "executemany" in str(failure.value)
        # refused while the configuration resolves, before extract and normalize did any work
        assert isinstance(failure.value.exception, ConfigurationValueError)  # type: ignore[attr-defined]
        assert failure.value.step == "sync"  # type: ignore[attr-defined]
        assert not broken.list_extracted_load_packages()
        assert not broken.list_normalized_load_packages()
        assert_password_nowhere(secret, failure.value, logs.getvalue(), broken)


class _CountingPath(LoadPath):
    """A registered dialect's own path, to show the hook is what the job consults."""

    name = "counting"
    file_formats = ("typed-jsonl", "parquet")
    calls = 0

    def load(self, request: LoadRequest) -> int:
        type(self).calls += 1
        return ExecutemanyPath().load(request)


def test_dialect_load_paths_hook_chooses_the_path(backend: Backend, monkeypatch: Any) -> None:
    """The first available path of `DialectCapabilities.load_paths()` loads the file."""
    from dlt_sqlalchemy.dialects import get_dialect_capabilities

    dialect_class = type(get_dialect_capabilities(backend.engine.url.get_backend_name()))
    monkeypatch.setattr(
        dialect_class, "load_paths", lambda self: (_CountingPath(), ExecutemanyPath())
    )
    pipeline = backend.pipeline()
    info = pipeline.run([{"id": 1}, {"id": 2}], table_name="t")
    assert _load_paths_of(info) == {"counting"}
    assert _CountingPath.calls >= 1
    assert sorted(r[0] for r in pipeline.dataset().t.select("id").fetchall()) == [1, 2]


def test_sql_job_judges_ddl_by_statement_start(tmp_path: Any) -> None:
    """A merge touching `created_at` is not DDL (it keeps its transaction); a CREATE is."""
    from dlt_sqlalchemy.followup.statements_job import SqlStatementsJob

    path = tmp_path / "t.abc.0.sql"
    path.write_text("")
    job = SqlStatementsJob(str(path))
    merge = 'DELETE FROM "d"."t" WHERE "created_at" < 1\nINSERT INTO "d"."t" SELECT * FROM "s"."t"'
    assert not job._string_contains_ddl_statements(merge)
    assert job._string_contains_ddl_statements('UPDATE "t" SET a = 1\nDROP TABLE "s"."t"')
    assert job._string_contains_ddl_statements("  create unique index i on t (id)")
