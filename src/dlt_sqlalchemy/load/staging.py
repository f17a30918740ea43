"""A staging table shared by concurrent loaders of one dataset (issue #15 item 5).

Every pipeline loading into dataset `ds` merges through the same staging dataset `ds_staging`.
dlt empties a staging table when a package starts; a second pipeline loading the same dataset
at the same time finds the first one's rows there (on a cluster: via another node, after the
first one's commit aborted its own). Its load then fails on a duplicate key, or its merge takes
in rows that are not its own, and re-running the package fails the same way.

Before a file loads into a staging table, rows of another package are looked at: those of a
package that has completed (its row in `_dlt_loads`) are leftovers and are deleted, in the
file's own transaction, so a retried or re-run package starts from a staging table holding
only its own rows; rows of a package that has not completed belong to a loader still running:
that is said (`ConcurrentStagingLoad`, transient, so dlt retries the job) instead of a
misleading duplicate-key error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import sqlalchemy as sa

from dlt_sqlalchemy.exceptions import ConcurrentStagingLoad

if TYPE_CHECKING:
    from dlt.common.schema import Schema

    from dlt_sqlalchemy.client.job_host import JobHost

# at most this many other packages are named in a message
_SHOWN = 3


def foreign_load_ids(
    client: JobHost, table: sa.Table, schema: Schema, load_id: str
) -> Optional[List[str]]:
    """Load ids of other packages with rows in the staging `table`; None when the table has no
    load id column (nested tables: their rows come and go with their root's)."""
    column = client.sql_client.quoted(schema.naming.normalize_identifier("_dlt_load_id"))
    if column not in table.c:
        return None
    load_ids = table.c[column]
    query = sa.select(load_ids).where(load_ids != load_id).distinct().limit(100)
    return [str(row[0]) for row in client.sql_client.execute_sql(query) or []]


def clear_foreign_rows(client: JobHost, table: sa.Table, schema: Schema, load_id: str) -> None:
    """Deletes rows of completed other packages from the staging `table`; raises
    `ConcurrentStagingLoad` when a package still loading has rows there."""
    foreign = foreign_load_ids(client, table, schema, load_id)
    if not foreign:
        return
    sql_client = client.sql_client
    loads = client.sa_table(schema.loads_table_name, dataset_name=sql_client.home_dataset_name)
    loads_id = loads.c[sql_client.quoted(schema.naming.normalize_identifier("load_id"))]
    completed = {
        str(row[0])
        for row in sql_client.execute_sql(sa.select(loads_id).where(loads_id.in_(foreign))) or []
    }
    running = sorted(set(foreign) - completed)
    if running:
        raise concurrent_load(client, table, running)
    column = table.c[sql_client.quoted(schema.naming.normalize_identifier("_dlt_load_id"))]
    sql_client.execute_sql(sa.delete(table).where(column.in_(sorted(completed))))


def concurrent_load(client: JobHost, table: sa.Table, running: List[str]) -> ConcurrentStagingLoad:
    sql_client = client.sql_client
    shown = ", ".join(running[:_SHOWN]) + (" ..." if len(running) > _SHOWN else "")
    return ConcurrentStagingLoad(
        str(table.name),
        str(table.schema or sql_client.home_dataset_name),
        sql_client.home_dataset_name,
        shown,
    )
