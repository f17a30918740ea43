"""ADBC ingestion: Arrow batches bound by an ADBC driver on a connection of its own.

ADBC drivers take Arrow columns in C, with no Python object per value, which makes them the
fastest path where one exists (PostgreSQL's binary COPY, SQLite's prepared INSERT). The price is
the connection: it is not the job's, so the file loads in a transaction of its own that commits
once at the end. What the dialects' ADBC paths share follows from that:

- under `rows_per_commit` a chunk must commit together with its progress record in the job's
  transaction, so ADBC steps aside;
- any failure rolls ADBC's transaction back and the dialect's path in the job's transaction
  loads the file again: its errors name the column and value a user needs to see.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar, Iterator, Optional

from dlt.common import logger

from dlt_sqlalchemy.load.bulk import PYARROW_HINT, has_module, has_pyarrow
from dlt_sqlalchemy.load.path import LoadPath, LoadRequest

if TYPE_CHECKING:
    import pyarrow as pa


class AdbcIngestPath(LoadPath):
    """A load path through an ADBC driver's bulk ingestion, falling back to `fallback()`."""

    name = "adbc"
    driver_module: ClassVar[str]
    """The ADBC driver's module, looked for without importing it."""
    install_hint: ClassVar[str]

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        if request.commits_with_job:
            return (
                "with `rows_per_commit` each chunk commits with its progress record in the"
                " job's transaction, and ADBC commits on a connection of its own"
            )
        if not has_module(self.driver_module):
            return f"the ADBC driver is not installed: {self.install_hint}"
        if not has_pyarrow():
            return f"pyarrow is not installed: {PYARROW_HINT}"
        return self.dialect_reason(request)

    @abstractmethod
    def dialect_reason(self, request: LoadRequest) -> Optional[str]:
        """Why the dialect's ADBC path cannot take this file here; None if it can."""

    @abstractmethod
    def fallback(self) -> LoadPath:
        """The path that loads the file in the job's transaction when ADBC fails."""

    @abstractmethod
    def ingest(self, request: LoadRequest) -> int:
        """Loads and commits the whole file through ADBC; returns the rows."""

    def load(self, request: LoadRequest) -> int:
        fallback = self.fallback()
        try:
            return self.ingest(request)
        except Exception as ex:
            logger.info(
                f"ADBC ingestion into `{request.table.name}` failed ({type(ex).__name__}: {ex});"
                f" loading the file by {fallback.name} instead"
            )
            return fallback.load(request)


def batch_reader(batches: Iterator[pa.RecordBatch]) -> Optional[pa.RecordBatchReader]:
    """A reader over `batches` with the first batch's schema (decimals keep the precision the
    file has); None for a file without rows."""
    import pyarrow as pa

    first = next(batches, None)
    if first is None:
        return None
    return pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
