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
from dlt_sqlalchemy.load_jobs import TypedJsonlInsertJob


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
    job = TypedJsonlInsertJob(str(path))
    columns = [
        {"name": "id", "data_type": "bigint"},
        {"name": "at", "data_type": "date"},
        {"name": "amount", "data_type": "decimal"},
        {"name": "missing", "data_type": "text"},
    ]
    batches = job.read_batches(columns, batch_rows=5)
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
