"""A file committed in chunks of N rows (option `rows_per_commit`), resumable after a failure.

Clusters cap what one transaction may change (Galera's wsrep_max_ws_rows and wsrep_max_ws_size):
a file larger than that can never load in one transaction. Committed in chunks, a failure midway
leaves the committed chunks in the table, so each chunk's commit also records how many rows of
the file are in (table `_dlt_sqla_file_progress`, keyed by load id and file name). dlt retries a
failed job with the same file in the same package: the retry skips the rows recorded and loads
the rest, and no row is lost or loaded twice. The record is deleted once the file is in.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Tuple

import sqlalchemy as sa
from dlt.common.json import json
from dlt.common.storages import FileStorage

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_host import JobHost

PROGRESS_TABLE = "_dlt_sqla_file_progress"
_CREATING = threading.Lock()


class FileProgress:
    """The progress record of one file of one load package, in the dataset of its table."""

    def __init__(self, client: JobHost, dataset: Optional[str], load_id: str, file_name: str):
        self.client = client
        self.load_id = load_id
        self.file_name = file_name
        quoted = client.sql_client.quoted
        self.table = sa.Table(
            quoted(PROGRESS_TABLE),
            sa.MetaData(),
            sa.Column("load_id", sa.String(64), primary_key=True),
            sa.Column("file_name", sa.String(255), primary_key=True),
            sa.Column("chunks_done", sa.Integer(), nullable=False),
            sa.Column("rows_done", sa.BigInteger(), nullable=False),
            schema=dataset,
        )
        self._mine = sa.and_(self.table.c.load_id == load_id, self.table.c.file_name == file_name)
        self._recorded = False  # whether the record exists (then UPDATE, else INSERT)

    def ensure_table(self) -> None:
        """Creates the progress table unless it exists; its own statement, before any chunk
        (DDL commits an open transaction on MySQL and Oracle).

        The jobs of one load run in parallel threads: a lock makes them create it one at a
        time (PostgreSQL refuses even concurrent IF NOT EXISTS), and a creation that fails
        because another process made the table meanwhile is fine.
        """
        sql_client = self.client.sql_client
        caps = self.client.dialect_caps
        table = caps.table_to_create(sql_client, self.table, {"name": PROGRESS_TABLE}, True)
        with _CREATING:
            if self._exists():
                return
            try:
                create = sa.schema.CreateTable(table, if_not_exists=caps.creates_if_not_exists)
                sql_client.execute_sql(create)
            except Exception:
                if not self._exists():
                    raise

    def _exists(self) -> bool:
        connection = self.client.sql_client.native_connection
        return sa.inspect(connection).has_table(str(self.table.name), schema=self.table.schema)

    def read(self) -> Tuple[int, int]:
        """(chunks, rows) of the file committed by earlier attempts; (0, 0) for a new file."""
        query = sa.select(self.table.c.chunks_done, self.table.c.rows_done).where(self._mine)
        rows = self.client.sql_client.execute_sql(query) or []
        self._recorded = bool(rows)
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def record(self, chunks_done: int, rows_done: int) -> None:
        """Records progress inside the chunk's own transaction: both commit, or neither."""
        values = {"chunks_done": chunks_done, "rows_done": rows_done}
        statement: Any
        if self._recorded:
            statement = sa.update(self.table).where(self._mine).values(values)
        else:
            statement = sa.insert(self.table).values(
                load_id=self.load_id, file_name=self.file_name, **values
            )
        self.client.sql_client.execute_sql(statement)
        self._recorded = True

    def forget(self) -> None:
        """Deletes the record once every row of the file is in."""
        self.client.sql_client.execute_sql(sa.delete(self.table).where(self._mine))


def chunk_files(
    file_path: str, file_format: str, rows_per_chunk: int, skip_rows: int, folder: str
) -> Iterator[Tuple[str, int]]:
    """(path, rows) of files holding the rows of `file_path` after the first `skip_rows`, at
    most `rows_per_chunk` each, in the file's own format; each is deleted once the next one is
    asked for, so at most one chunk is on disk at a time."""
    chunks = _parquet_chunks if file_format == "parquet" else _jsonl_chunks
    for path, rows in chunks(file_path, rows_per_chunk, skip_rows, folder):
        try:
            yield path, rows
        finally:
            if os.path.exists(path):
                os.remove(path)


def _parquet_chunks(
    file_path: str, rows_per_chunk: int, skip_rows: int, folder: str
) -> Iterator[Tuple[str, int]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(file_path, pre_buffer=False) as parquet:
        schema = parquet.schema_arrow
        pending: List[Any] = []
        pending_rows = 0
        to_skip = skip_rows
        number = 0
        for batch in parquet.iter_batches(batch_size=rows_per_chunk):
            if to_skip:
                cut = min(to_skip, batch.num_rows)
                batch = batch.slice(cut)
                to_skip -= cut
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= rows_per_chunk:
                table = pa.Table.from_batches(pending, schema=schema)
                head, tail = table.slice(0, rows_per_chunk), table.slice(rows_per_chunk)
                number += 1
                yield _write_parquet(head, folder, number), head.num_rows
                pending, pending_rows = tail.to_batches(), tail.num_rows
        if pending_rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield _write_parquet(table, folder, number + 1), table.num_rows


def _write_parquet(table: Any, folder: str, number: int) -> str:
    import pyarrow.parquet as pq

    path = os.path.join(folder, f"chunk_{number}.parquet")
    pq.write_table(table, path)
    return path


def _jsonl_chunks(
    file_path: str, rows_per_chunk: int, skip_rows: int, folder: str
) -> Iterator[Tuple[str, int]]:
    pending: List[Any] = []
    to_skip = skip_rows
    number = 0
    with FileStorage.open_zipsafe_ro(file_path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            rows = json.loadb(line)
            if to_skip:
                cut = min(to_skip, len(rows))
                rows = rows[cut:]
                to_skip -= cut
            pending.extend(rows)
            while len(pending) >= rows_per_chunk:
                number += 1
                yield _write_jsonl(pending[:rows_per_chunk], folder, number), rows_per_chunk
                del pending[:rows_per_chunk]
    if pending:
        yield _write_jsonl(pending, folder, number + 1), len(pending)


def _write_jsonl(rows: List[Any], folder: str, number: int) -> str:
    path = os.path.join(folder, f"chunk_{number}.typed-jsonl")
    with open(path, "wb") as f:
        f.write(json.dumpb(rows))
        f.write(b"\n")
    return path


def chunk_folder() -> tempfile.TemporaryDirectory:  # type: ignore[type-arg]
    return tempfile.TemporaryDirectory(prefix="dlt_sqla_chunks_")
