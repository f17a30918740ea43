"""Load paths: how the rows of one file reach the database.

Each dialect offers its paths, fastest first, through `DialectCapabilities.load_paths()`; the job
takes the first one that handles the file format and is available here (driver installed, server
allows it), unless the `load_path` option forces one. `executemany` handles every format on every
dialect, so there is always a path. A path loads inside the job's transaction and must not commit.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from dlt_sqlalchemy.load.inserts import BatchInserter
from dlt_sqlalchemy.load.readers import JSON_IS_TEXT, READERS, TColumns

if TYPE_CHECKING:
    from dlt_sqlalchemy.load.progress import LoadProgress


@dataclasses.dataclass
class LoadRequest:
    """One file to load into one table, inside an open transaction."""

    connection: sa.Connection
    table: sa.Table
    columns: List[Dict[str, Any]]
    """dlt column schemas, in the order of `table.columns`."""
    file_path: str
    file_format: str
    batch_rows: int
    progress: Optional[LoadProgress] = None
    """Where the paths report rows per batch as they go in (see `load.progress`); paths that
    read through `arrow_batches` or the file readers report without doing anything."""
    commits_with_job: bool = False
    """The rows must commit in the job's transaction together with its other writes (with
    `rows_per_commit`, each chunk's progress record): a path that commits on a connection of
    its own would let a failure between the two commits load the chunk twice on retry."""


class BatchFailed(Exception):
    """A batch was refused; carries the batch so the job can say which value did not fit."""

    def __init__(self, cause: Exception, batch: Optional[TColumns]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.batch = batch


class LoadPath(ABC):
    """A way to move a file's rows into a table. Subclass it to add a bulk path for a dialect."""

    name: ClassVar[str]
    file_formats: ClassVar[Tuple[str, ...]]

    def is_available(self, request: LoadRequest) -> bool:
        """Whether this path can run here (driver present, server settings allow it): where
        `unavailable_reason` gives none. Override only where the reason cannot be told."""
        return self.unavailable_reason(request) is None

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        """Why the path cannot run here, told to a user who forced it; None if it can."""
        return None

    @abstractmethod
    def load(self, request: LoadRequest) -> int:
        """Loads every row of the file; returns how many. Raise `BatchFailed` on refused data."""


class ExecutemanyPath(LoadPath):
    """Batched INSERTs through the driver's `executemany`: works with any dialect and driver."""

    name = "executemany"
    file_formats = ("typed-jsonl", "parquet")

    def load(self, request: LoadRequest) -> int:
        json_columns = [
            column.name
            for column, dlt_column in zip(request.table.columns, request.columns)
            if dlt_column.get("data_type") == "json"
        ]
        inserter = BatchInserter(
            request.connection,
            request.table,
            json_columns,
            JSON_IS_TEXT[request.file_format],
            prepare_cursor=self.prepare_cursor,
        )
        batches = READERS[request.file_format](
            request.file_path, request.columns, request.batch_rows
        )
        if request.progress is not None:
            batches = request.progress.counted(batches, _python_rows)
        rows = 0
        for batch in batches:
            try:
                rows += inserter.insert(batch)
            except Exception as ex:
                raise BatchFailed(ex, batch) from ex
        return rows

    def prepare_cursor(self, cursor: Any) -> None:
        """Sets driver options on the cursor before `executemany` (pyodbc's fast_executemany)."""


def _python_rows(batch: TColumns) -> int:
    return len(batch[0]) if batch else 0


def choose_load_path(
    paths: Sequence[LoadPath], request: LoadRequest, forced: Optional[str] = None
) -> LoadPath:
    """The first path of `paths` for the file's format that is available, or the forced one.

    A forced path that exists on the dialect but handles other file formats (ADBC takes only
    parquet; dlt writes its state table as typed-jsonl) leaves this file to the usual choice.
    """
    candidates = [p for p in paths if request.file_format in p.file_formats]
    if forced:
        for path in candidates:
            if path.name == forced:
                if not path.is_available(request):
                    raise LoadPathUnavailable(
                        forced, request.file_format, candidates, path.unavailable_reason(request)
                    )
                return path
        if forced not in {p.name for p in paths} | {ExecutemanyPath.name}:
            raise LoadPathUnavailable(forced, request.file_format, candidates)
    for path in candidates:
        if path.is_available(request):
            return path
    return ExecutemanyPath()


class LoadPathUnavailable(ValueError):
    def __init__(
        self,
        name: str,
        file_format: str,
        candidates: Sequence[LoadPath],
        reason: Optional[str] = None,
    ) -> None:
        known = ", ".join(p.name for p in candidates) or "none"
        because = f" ({reason})" if reason else ""
        super().__init__(
            f"The load path `{name}` was forced (option `load_path`) but cannot load"
            f" {file_format} files here{because}. Paths for {file_format} on this dialect:"
            f" {known}."
        )
