"""DuckDB: Arrow batches registered as views and inserted with `INSERT ... SELECT`.

DuckDB reads Arrow memory directly (no per-value conversion on either side) and casts to the
column types itself. The batches run through the duckdb connection under duckdb-engine, in the
job's transaction.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, Optional

import sqlalchemy as sa

from dlt_sqlalchemy.load.bulk import (
    PYARROW_HINT,
    arrow_batches,
    has_pyarrow,
    plain_types,
    prefetching,
)
from dlt_sqlalchemy.load.path import BatchFailed, LoadPath, LoadRequest
from dlt_sqlalchemy.sql_text import compile_text

# rows per INSERT: large enough that per-statement overhead vanishes, small enough for memory
ARROW_BATCH_ROWS = 50_000


class DuckdbArrowPath(LoadPath):
    """Each Arrow batch inserted by DuckDB from a registered view."""

    name = "arrow"
    file_formats = ("typed-jsonl", "parquet")

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        if not has_pyarrow():
            return f"pyarrow is not installed: {PYARROW_HINT}"
        if not hasattr(request.connection.connection.driver_connection, "register"):
            return "the driver connection cannot register Arrow data"
        if not plain_types(request.table, request.connection.dialect):
            return "a column type processes its values in Python"
        return None

    def load(self, request: LoadRequest) -> int:
        view = f"dlt_sqla_batch_{uuid.uuid4().hex}"
        names = [c.name for c in request.table.columns]
        source = sa.table(view, *(sa.column(n) for n in names))
        insert = sa.insert(request.table).from_select(
            names, sa.select(*(source.c[n] for n in names))
        )
        sql = compile_text(insert, request.connection.dialect)
        duck: Any = request.connection.connection.driver_connection
        rows = 0
        with prefetching(_rebatched(arrow_batches(request, ARROW_BATCH_ROWS))) as batches:
            for batch in batches:
                duck.register(view, batch)
                try:
                    duck.execute(sql)
                except Exception as ex:
                    with contextlib.suppress(Exception):  # the transaction is aborted already
                        duck.unregister(view)
                    raise BatchFailed(ex, [a.to_pylist() for a in batch.columns]) from ex
                duck.unregister(view)
                rows += batch.num_rows
        return rows


def _rebatched(batches: Any) -> Any:
    """Joins the small batches of typed-jsonl lines into tables of about `ARROW_BATCH_ROWS`."""
    import pyarrow as pa

    pending = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        if size >= ARROW_BATCH_ROWS:
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending)
