"""Progress while loading: rows per batch into the pipeline's collector, a log line per file."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import DefaultDict, Dict, Iterator, List, Optional

import pytest
from dlt.common.runtime.collector import DictCollector

from conftest import Backend, make_rows
from dlt_sqlalchemy.load.progress import ROWS_COUNTER, LoadProgress

ROWS = 40_000  # more than one batch on every path (the largest batch is DuckDB's 50k: 2 files)


class RecordingCollector(DictCollector):
    """dlt's own counting collector, keeping what each step counted and every increment."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: Dict[str, Dict[str, int]] = {}
        self.increments: DefaultDict[str, List[int]] = defaultdict(list)
        self.messages: List[Optional[str]] = []

    def update(
        self,
        name: str,
        inc: int = 1,
        total: Optional[int] = None,
        inc_total: Optional[int] = None,
        message: Optional[str] = None,
        label: Optional[str] = None,
    ) -> None:
        super().update(name, inc, total, inc_total, message, label)
        if name == ROWS_COUNTER:
            self.increments[self.step].append(inc)
            self.messages.append(message)

    def _stop(self) -> None:
        self.finished[self.step] = dict(self.counters)
        super()._stop()


@pytest.fixture
def dlt_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.LogCaptureFixture]:
    """dlt's logger does not propagate: its records are captured by hand."""
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "INFO")
    caplog.set_level(logging.INFO)
    dlt_logger = logging.getLogger("dlt")
    level = dlt_logger.level
    dlt_logger.setLevel(logging.INFO)
    dlt_logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        dlt_logger.removeHandler(caplog.handler)
        dlt_logger.setLevel(level)


@pytest.mark.parametrize("file_format", ["typed-jsonl", "parquet"])
def test_rows_reach_the_collector_batch_by_batch(
    backend: Backend, file_format: str, dlt_logs: pytest.LogCaptureFixture
) -> None:
    """The load step's collector counts every row loaded (data, nested and state tables), in
    several increments per file rather than one at the end, and each file gets an INFO line."""
    collector = RecordingCollector()
    pipeline = backend.pipeline(progress=collector)
    rows = make_rows(ROWS, tags=lambda i: [i, i + 1])  # a nested table of 2 * ROWS rows
    pipeline.run(rows, table_name="games", loader_file_format=file_format)

    load_steps = [step for step in collector.finished if step.startswith("Load ")]
    assert len(load_steps) == 1
    counted = collector.finished[load_steps[0]][ROWS_COUNTER]
    normalized = pipeline.last_trace.last_normalize_info.row_counts
    assert counted == sum(normalized.values())
    assert counted == 3 * ROWS + normalized["_dlt_pipeline_state"]
    loaded = backend.query(
        f"SELECT COUNT(*) FROM {backend.qualified(pipeline.dataset_name, 'games')}"
    )
    assert loaded[0][0] == ROWS
    # per batch, not per file: the two big tables alone come in more increments than files
    increments = collector.increments[load_steps[0]]
    assert len(increments) > len(normalized)
    assert max(increments) <= 50_000
    assert {"games", "games__tags"} <= set(collector.messages)

    lines = [r.getMessage() for r in dlt_logs.records if r.getMessage().startswith("Loaded ")]
    games = [line for line in lines if "into `games`" in line]
    assert games, lines
    assert sum(int(re.match(r"Loaded (\d+) rows", line).group(1)) for line in games) == ROWS  # type: ignore[union-attr]
    assert all(re.search(r"from \S+games\.\S+ into", line) for line in games), games
    assert all(re.search(r"rows/s\)$", line) for line in games), games


def test_a_batch_the_consumer_fails_on_is_not_counted() -> None:
    """Rows count once they went in: a batch whose insert raised is not reported."""
    collector = RecordingCollector()
    with collector("Load test"):
        progress = LoadProgress("/tmp/f.parquet", "games", collector)
        batches = progress.counted(iter([[1, 2, 3], [4, 5], [6]]), len)
        with pytest.raises(RuntimeError):
            for batch in batches:
                if batch == [6]:
                    raise RuntimeError("refused")
        assert collector.counters[ROWS_COUNTER] == 5
        progress.finish(5, "test")
        assert collector.counters[ROWS_COUNTER] == 5
        # a path that loads the file whole reports it at the end
        whole = LoadProgress("/tmp/g.parquet", "games", collector)
        whole.finish(7, "test")
        assert collector.counters[ROWS_COUNTER] == 12


def test_rows_per_commit_counts_every_chunk(backend: Backend) -> None:
    """A file committed in chunks (`rows_per_commit`) counts the rows of every chunk, once."""
    collector = RecordingCollector()
    pipeline = backend.pipeline(
        destination=backend.destination(rows_per_commit=7_000), progress=collector
    )
    pipeline.run(make_rows(20_000), table_name="games", loader_file_format="parquet")
    load_steps = [step for step in collector.finished if step.startswith("Load ")]
    normalized = pipeline.last_trace.last_normalize_info.row_counts
    assert collector.finished[load_steps[0]][ROWS_COUNTER] == sum(normalized.values())
    assert len(collector.increments[load_steps[0]]) >= 3  # at least one per chunk
