"""The load job: one file into one table, in one transaction, by the dialect's best load path.

A failure rolls the file's transaction back: no partial rows remain, whatever the path. With the
option `rows_per_commit` the file commits in chunks instead, and a retry resumes after the last
committed chunk (`load.chunks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

import sqlalchemy as sa
from dlt.common import logger
from dlt.common.destination.client import HasFollowupJobs, RunnableLoadJob
from dlt.common.exceptions import TerminalValueError
from dlt.common.metrics import LoadJobMetrics
from dlt.common.storages.load_package import ParsedLoadJobFileName

from dlt_sqlalchemy.capabilities import DEFAULT_BATCH_ROWS
from dlt_sqlalchemy.client.errors import is_value_error
from dlt_sqlalchemy.load.chunks import FileProgress, chunk_files, chunk_folder
from dlt_sqlalchemy.load.failures import explain_failure
from dlt_sqlalchemy.load.path import (
    BatchFailed,
    LoadPathUnavailable,
    LoadRequest,
    choose_load_path,
)
from dlt_sqlalchemy.load.progress import LoadProgress
from dlt_sqlalchemy.load.staging import clear_foreign_rows, concurrent_load, foreign_load_ids

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_host import JobHost


class LoadFileJob(RunnableLoadJob, HasFollowupJobs):
    """Loads one typed-jsonl or parquet file (into the staging dataset where dlt says)."""

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path)
        self.file_format = ParsedLoadJobFileName.parse(file_path).file_format
        self.load_path: Optional[str] = None
        """Name of the path that loaded the file (also in the job metrics' `remote_url`)."""
        self.rows_loaded = 0

    def run(self) -> None:
        # dlt sets `_job_client` to the job client of this worker thread
        client = cast("JobHost", self._job_client)
        table = client.sa_table(self.load_table_name)
        rows_per_commit = client.config.rows_per_commit
        # rows as batches go in, to the pipeline's progress collector; a log line per file
        loaded = LoadProgress(self._file_path, self.load_table_name)
        if rows_per_commit:
            self._run_in_chunks(client, table, rows_per_commit, loaded)
        else:
            with client.sql_client.begin_transaction():
                self._clear_staging(client, table)
                self.rows_loaded = self._load(client, table, self._file_path, loaded)
        # committed: the rows are in
        loaded.finish(self.rows_loaded, self.load_path or "-")

    def _clear_staging(self, client: JobHost, table: sa.Table) -> None:
        """In a staging table, rows of other packages go first (see `load.staging`)."""
        if getattr(client, "in_staging_dataset_mode", False):
            clear_foreign_rows(client, table, self._schema, self._load_id)

    def _run_in_chunks(
        self, client: JobHost, table: sa.Table, rows_per_commit: int, loaded: LoadProgress
    ) -> None:
        """Commits every `rows_per_commit` rows, each commit with the file's progress, and
        resumes after the rows an earlier attempt committed (see `load.chunks`)."""
        parsed = ParsedLoadJobFileName.parse(self._file_path)
        # without the retry count, which dlt raises in the file name on each retry
        key = f"{parsed.table_name}.{parsed.file_id}.{parsed.file_format}"
        progress = FileProgress(client, table.schema, self._load_id, key)
        progress.ensure_table()
        chunks_done, rows_done = progress.read()
        if rows_done:
            logger.info(f"Resuming {key} after {rows_done} rows committed in {chunks_done} chunks")
        sql_client = client.sql_client
        with chunk_folder() as folder:
            chunks = chunk_files(
                self._file_path, self.file_format, rows_per_commit, rows_done, folder
            )
            for chunk_path, chunk_rows in chunks:
                with sql_client.begin_transaction():
                    self._clear_staging(client, table)
                    chunk_loaded = self._load(
                        client, table, chunk_path, loaded, commits_with_job=True
                    )
                    chunks_done, rows_done = chunks_done + 1, rows_done + chunk_rows
                    progress.record(chunks_done, rows_done)
                self.rows_loaded += chunk_loaded
        with sql_client.begin_transaction():
            progress.forget()

    def _load(
        self,
        client: JobHost,
        table: sa.Table,
        file_path: str,
        loaded: Optional[LoadProgress],
        commits_with_job: bool = False,
    ) -> int:
        """Loads `file_path` into `table` inside the open transaction; returns the rows."""
        sql_client = client.sql_client
        # dlt columns in the order of the table's columns (an `adapt_table` hook may reorder)
        columns: List[Dict[str, Any]] = table.info["dlt_columns"]
        request = LoadRequest(
            connection=sql_client.native_connection,
            table=table,
            columns=columns,
            file_path=file_path,
            file_format=self.file_format,
            batch_rows=client.capabilities.max_rows_per_insert or DEFAULT_BATCH_ROWS,
            progress=loaded,
            commits_with_job=commits_with_job,
        )
        try:
            path = choose_load_path(
                client.dialect_caps.load_paths(), request, client.config.load_path
            )
        except LoadPathUnavailable as ex:
            raise TerminalValueError(str(ex)) from None
        self.load_path = path.name
        source = (file_path, self.file_format)
        logger.info(f"Loading {self.file_format} file into `{table.name}` by {path.name}")
        try:
            return path.load(request)
        except BatchFailed as failed:
            cause, batch = failed.cause, failed.batch
            self._raise_if_concurrent(client, table, cause)
            explained = explain_failure(
                cause, sql_client, self.load_table_name, table, columns, batch, source
            )
            raise explained from _cause_of(explained, cause)
        except Exception as ex:
            self._raise_if_concurrent(client, table, ex)
            explained = explain_failure(
                ex, sql_client, self.load_table_name, table, columns, None, source
            )
            raise explained from _cause_of(explained, ex)

    def _raise_if_concurrent(self, client: JobHost, table: sa.Table, ex: Exception) -> None:
        """A duplicate key in a staging table that another package's rows reached meanwhile (on
        a cluster: committed via another node) is that concurrency, not a value of ours."""
        if not getattr(client, "in_staging_dataset_mode", False) or not is_value_error(ex):
            return
        sql_client = client.sql_client
        try:
            sql_client.rollback_transaction()  # the statement's failure aborted it (PostgreSQL)
            foreign = foreign_load_ids(client, table, self._schema, self._load_id)
        except Exception:  # the look is only to explain: the original error stands
            return
        if foreign:
            raise concurrent_load(client, table, sorted(foreign)) from ex

    def metrics(self) -> Optional[LoadJobMetrics]:
        metrics = super().metrics()
        if metrics is None or self.load_path is None:
            return metrics
        # dlt's job metrics have no field of their own for it, and restore from their fields only
        return metrics._replace(remote_url=f"load-path:{self.load_path}")


def _cause_of(explained: Exception, cause: Exception) -> Optional[BaseException]:
    """The cause to raise `explained` from. An error left as it was (not a database error we
    know) is not made its own cause: that loop hangs every reader of `__cause__` chains. A chain
    the SQL client cut because it carries a secret stays cut."""
    if explained is cause:
        return None
    if explained.__suppress_context__ and explained.__cause__ is None:
        return None
    return explained.__cause__ or cause
