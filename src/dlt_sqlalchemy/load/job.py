"""The load job: one file into one table, in one transaction, by the dialect's best load path.

A failure rolls the file's transaction back: no partial rows remain, whatever the path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

from dlt.common import logger
from dlt.common.destination.client import HasFollowupJobs, RunnableLoadJob
from dlt.common.exceptions import TerminalValueError
from dlt.common.metrics import LoadJobMetrics
from dlt.common.storages.load_package import ParsedLoadJobFileName

from dlt_sqlalchemy.capabilities import DEFAULT_BATCH_ROWS
from dlt_sqlalchemy.load.failures import explain_failure
from dlt_sqlalchemy.load.path import (
    BatchFailed,
    LoadPathUnavailable,
    LoadRequest,
    choose_load_path,
)
from dlt_sqlalchemy.load.progress import LoadProgress

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
        sql_client = client.sql_client
        table = client.sa_table(self.load_table_name)
        # dlt columns in the order of the table's columns (an `adapt_table` hook may reorder)
        columns: List[Dict[str, Any]] = table.info["dlt_columns"]
        progress = LoadProgress(self._file_path, self.load_table_name)
        with sql_client.begin_transaction():
            request = LoadRequest(
                connection=sql_client.native_connection,
                table=table,
                columns=columns,
                file_path=self._file_path,
                file_format=self.file_format,
                batch_rows=client.capabilities.max_rows_per_insert or DEFAULT_BATCH_ROWS,
                progress=progress,
            )
            try:
                path = choose_load_path(
                    client.dialect_caps.load_paths(), request, client.config.load_path
                )
            except LoadPathUnavailable as ex:
                raise TerminalValueError(str(ex)) from None
            self.load_path = path.name
            source = (self._file_path, self.file_format)
            logger.info(f"Loading {self.file_format} file into `{table.name}` by {path.name}")
            try:
                self.rows_loaded = path.load(request)
            except BatchFailed as failed:
                cause, batch = failed.cause, failed.batch
                raise explain_failure(
                    cause, sql_client, self.load_table_name, table, columns, batch, source
                ) from cause
            except Exception as ex:
                raise explain_failure(
                    ex, sql_client, self.load_table_name, table, columns, None, source
                ) from ex
        # committed: the rows are in
        progress.finish(self.rows_loaded, path.name)

    def metrics(self) -> Optional[LoadJobMetrics]:
        metrics = super().metrics()
        if metrics is None or self.load_path is None:
            return metrics
        # dlt's job metrics have no field of their own for it, and restore from their fields only
        return metrics._replace(remote_url=f"load-path:{self.load_path}")
