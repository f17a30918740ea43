"""Replace from the staging dataset: copy the staged rows in, or swap the staged tables in.

`insert-from-staging` empties each table of the chain and copies the staged rows in: DELETE, then
INSERT ... SELECT, compiled by SQLAlchemy for the dialect and run by dlt's SQL job in one
transaction, so readers see either the old rows or the new ones. Running it twice gives the same
tables.

`staging-optimized` moves the staged tables into place instead of copying them, on dialects whose
`DialectCapabilities.swap_tables` can do that atomically (PostgreSQL: DROP and ALTER TABLE in one
transaction; MySQL/MariaDB: one multi-table RENAME TABLE; SQLite and DuckDB when staging tables
live beside the real ones under a prefix); elsewhere it falls back to `insert-from-staging`.
A swap replaces the table object itself: its indexes, grants and comments become those of the
staged table, and a view that depends on it makes the swap fail (and roll back).

The swapped-away staging table is made again by the next load (`initialize_storage` in the job
client), as dlt skips staging DDL when the staging schema version is unchanged. Running a swap
that already committed again changes nothing: its statements are guarded by the existence of the
staged tables (`dlt_sqlalchemy.followup.guards`), so the job finds them gone and skips the swap. A
dialect whose `swap_tables` guards statements itself keeps its own guards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from dlt.common.destination.client import PreparedTableSchema
from dlt.destinations.job_impl import FollowupJobRequestImpl

from dlt_sqlalchemy.followup.guards import Guarded, TablesExist
from dlt_sqlalchemy.followup.job import SqlalchemyFollowupJob, render, table_name
from dlt_sqlalchemy.followup.merge.constructs import TStatement

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_host import JobHost


class StagingReplaceJob(SqlalchemyFollowupJob):
    """`insert-from-staging` (and `staging-optimized` where no swap is possible)."""

    @classmethod
    def from_job_client(
        cls, table_chain: Sequence[PreparedTableSchema], job_client: JobHost
    ) -> FollowupJobRequestImpl:
        return cls.from_statements(table_chain, insert_from_staging_sql(table_chain, job_client))


class StagingSwapJob(SqlalchemyFollowupJob):
    """`staging-optimized` as an atomic swap of the staged tables into place."""

    @classmethod
    def from_job_client(
        cls, table_chain: Sequence[PreparedTableSchema], job_client: JobHost
    ) -> Optional[FollowupJobRequestImpl]:
        """The swap job, or None where the dialect cannot swap these tables atomically."""
        statements = swap_sql(table_chain, job_client)
        if statements is None:
            return None
        return cls.from_statements(table_chain, statements)


def table_pairs(
    table_chain: Sequence[PreparedTableSchema], job_client: JobHost
) -> List[Tuple[sa.Table, sa.Table]]:
    """(destination table, staged table) for each table of the chain, typed and located."""
    client = job_client.sql_client
    return [
        (
            job_client.sa_table(table_name(table), dataset_name=client.home_dataset_name),
            job_client.sa_table(table_name(table), dataset_name=client.staging_dataset_name),
        )
        for table in table_chain
    ]


def insert_from_staging_sql(
    table_chain: Sequence[PreparedTableSchema], job_client: JobHost
) -> List[str]:
    statements: List[TStatement] = []
    for target, staged in table_pairs(table_chain, job_client):
        columns = [c.key for c in target.columns]
        statements.append(sa.delete(target))
        statements.append(
            sa.insert(target).from_select(
                [target.c[c] for c in columns], sa.select(*[staged.c[c] for c in columns])
            )
        )
    return _render(job_client, statements)


def swap_sql(
    table_chain: Sequence[PreparedTableSchema], job_client: JobHost
) -> Optional[List[str]]:
    pairs = table_pairs(table_chain, job_client)
    statements = job_client.dialect_caps.swap_tables(job_client.sql_client, pairs)
    if statements is None:
        return None
    if not any(isinstance(s, Guarded) for s in statements):
        # run again after it committed, the whole swap is skipped: its staged tables are gone
        staged_tables = TablesExist(tuple((staged.schema, staged.name) for _, staged in pairs))
        statements = [Guarded(s, staged_tables) for s in statements]
    return _render(job_client, statements)


def _render(job_client: JobHost, statements: Sequence[TStatement]) -> List[str]:
    return render(job_client.sql_client, statements)
