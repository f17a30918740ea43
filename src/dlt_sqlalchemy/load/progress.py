"""Progress while a file loads: rows counted per batch into dlt's collector, one log line per file.

dlt's load step counts finished jobs only, so a file of ten million rows shows nothing until it
is done. The load paths report each batch's row count here (never per row: one call per batch of
thousands) and this forwards it to the collector the pipeline was given (`progress="log"`,
`"tqdm"`, `"enlighten"`, `"alive_progress"`) as a `Rows` counter, whose rate is the rows/s.

The collector is the one of dlt's `Load` step that owns the file being loaded: dlt keeps every
running step in `Runnable.RUNNING`, and the job's file lies under that step's package storage. No
dlt code is patched and a job run outside a load step (the doctor, tests) reports to nobody.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, Iterator, Optional, TypeVar

from dlt.common import logger
from dlt.common.runtime.collector import NULL_COLLECTOR, Collector

ROWS_COUNTER = "Rows"
"""Name of the collector counter the load step's rows go to."""

T = TypeVar("T")

_UPDATE_LOCK = threading.Lock()
"""Jobs run on several worker threads; collectors are written for one, so updates are serialized."""


def load_step_collector(file_path: str) -> Collector:
    """The collector of the running dlt `Load` step whose package holds `file_path`."""
    try:
        from dlt.common.runners.runnable import Runnable
        from dlt.load.load import Load
    except ImportError:  # pragma: no cover - dlt without its load step
        return NULL_COLLECTOR
    path = os.path.abspath(file_path)
    for runnable in list(Runnable.RUNNING.values()):
        if not isinstance(runnable, Load):
            continue
        try:
            root = os.path.abspath(runnable.load_storage.normalized_packages.storage.storage_path)
        except AttributeError:
            continue
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return runnable.collector
    return NULL_COLLECTOR


class LoadProgress:
    """Rows of one file as they go in: to the collector per batch, to the log when done."""

    def __init__(
        self, file_path: str, table_name: str, collector: Optional[Collector] = None
    ) -> None:
        self.file_path = file_path
        self.table_name = table_name
        self.collector = collector if collector is not None else load_step_collector(file_path)
        self.rows = 0
        self.started = time.perf_counter()

    def add(self, rows: int) -> None:
        """Counts `rows` more rows as loaded."""
        if rows <= 0:
            return
        self.rows += rows
        if self.collector is NULL_COLLECTOR:
            return
        with _UPDATE_LOCK:
            try:
                self.collector.update(ROWS_COUNTER, inc=rows, message=self.table_name)
            except Exception as ex:  # a display problem must never fail a load
                logger.debug(f"progress collector refused an update: {ex}")

    def counted(self, batches: Iterator[T], rows_of: Callable[[T], int]) -> Iterator[T]:
        """`batches` unchanged; each one counted once the consumer asks for the next, that is
        once it went in (a batch the consumer fails on is not counted)."""
        for batch in batches:
            yield batch
            self.add(rows_of(batch))

    def finish(self, rows_loaded: int, path_name: str) -> None:
        """Counts what the batches did not report (a path that loads the file whole) and logs
        the file's line: path, table, rows, rows/s."""
        self.add(rows_loaded - self.rows)
        elapsed = time.perf_counter() - self.started
        rate = rows_loaded / elapsed if elapsed > 0 else 0.0
        logger.info(
            f"Loaded {rows_loaded} rows from {self.file_path} into `{self.table_name}` by"
            f" {path_name} in {elapsed:.2f} s ({rate:,.0f} rows/s)"
        )
