"""Replace from the staging dataset: empty each table of the chain, copy the staged rows in.

The statements are compiled by SQLAlchemy for the dialect and run by dlt's SQL job in one
transaction, so readers see either the old rows or the new ones (where DML is transactional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.client import PreparedTableSchema
from dlt.common.schema.utils import is_complete_column
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.sql_jobs import SqlFollowupJob

if TYPE_CHECKING:
    from dlt_sqlalchemy.sql_client import SqlalchemySqlClient


class StagingReplaceJob(SqlFollowupJob):
    """`insert-from-staging` (and, for now, `staging-optimized`): DELETE, then INSERT ... SELECT."""

    @classmethod
    def generate_sql(
        cls,
        table_chain: Sequence[PreparedTableSchema],
        sql_client: SqlClientBase[Any],
        params: Optional[Any] = None,
    ) -> List[str]:
        client: SqlalchemySqlClient = sql_client  # type: ignore[assignment]
        statements: List[str] = []
        for table in table_chain:
            table_name = str(table["name"])
            names = [str(c["name"]) for c in table["columns"].values() if is_complete_column(c)]
            target = client.table_ref(table_name, *[sa.column(client.quoted(n)) for n in names])
            with client.with_staging_dataset():
                staged = client.table_ref(table_name, *[sa.column(client.quoted(n)) for n in names])
            statements.append(client.compile(sa.delete(target)))
            statements.append(
                client.compile(sa.insert(target).from_select(list(target.c), sa.select(*staged.c)))
            )
        return statements
