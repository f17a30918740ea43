"""The merge follow-up job: SQL generated per strategy from typed SQLAlchemy tables.

dlt runs a follow-up job by executing its `.sql` file one statement per line, inside a transaction
where the capabilities allow it. The statements come from the strategy modules beside this one,
compiled for the dialect with literal values inlined (`followup.job.render`); dialect hooks decide
the native forms (upsert syntax, timestamp literals).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, List, Optional, Sequence, Set, Tuple, cast

from dlt.common import logger
from dlt.common.destination.client import PreparedTableSchema
from dlt.common.destination.utils import resolve_merge_strategy
from dlt.common.schema.typing import TTableSchema
from dlt.destinations.job_impl import FollowupJobRequestImpl

from dlt_sqlalchemy.followup.job import SqlalchemyFollowupJob, table_name
from dlt_sqlalchemy.followup.merge.chain import MergeChain
from dlt_sqlalchemy.followup.merge.constructs import TStatement
from dlt_sqlalchemy.followup.merge.delete_insert import delete_insert_statements
from dlt_sqlalchemy.followup.merge.scd2 import scd2_statements
from dlt_sqlalchemy.followup.merge.upsert import upsert_statements

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_host import JobHost


class SqlalchemyMergeJob(SqlalchemyFollowupJob):
    """Merges the staging dataset into the destination with the table chain's merge strategy."""

    @classmethod
    def from_job_client(
        cls, table_chain: Sequence[PreparedTableSchema], job_client: JobHost
    ) -> FollowupJobRequestImpl:
        warn_if_merge_keys_unindexed(table_chain[0], job_client)
        return cls.from_statements(table_chain, merge_sql(table_chain, job_client))


# (server, dataset, table) already looked at in this process: the look costs a round trip, the
# warning is worth reading once
_LOOKED_AT: Set[Tuple[str, Optional[str], str]] = set()
_LOOKED_AT_LOCK = threading.Lock()


def warn_if_merge_keys_unindexed(root: PreparedTableSchema, job_client: JobHost) -> None:
    """Says once per table when a delete-insert merge looks rows up by keys no index starts
    with: every merge then reads the whole destination table (20k rows into a Galera cluster:
    54 s plus replica lag, against 0.7 s with a primary key). A warning where the dialect says
    such a scan holds up others, INFO elsewhere."""
    schema = cast(TTableSchema, root)
    strategy = resolve_merge_strategy({table_name(root): schema}, schema, job_client.capabilities)
    if strategy != "delete-insert" or not job_client.dialect_caps.supports_indexes:
        return
    columns = root["columns"]
    keys = [n for n, c in columns.items() if c.get("merge_key")] or [
        n for n, c in columns.items() if c.get("primary_key")
    ]
    if not keys:
        return
    sql_client = job_client.sql_client
    dataset, name = sql_client.physical_name(table_name(root))
    credentials = sql_client.credentials
    server = (
        f"{credentials.drivername}://{credentials.host}:{credentials.port}/{credentials.database}"
    )
    looked_at = (server, dataset, name)
    with _LOOKED_AT_LOCK:
        if looked_at in _LOOKED_AT:
            return
        _LOOKED_AT.add(looked_at)
    fold = job_client.capabilities.casefold_identifier
    try:
        with sql_client:
            connection = sql_client.native_connection
            caps = job_client.dialect_caps
            unindexed = caps.merge_keys_unindexed(
                connection, dataset, name, [fold(k) for k in keys]
            )
            costly = unindexed and caps.unindexed_merges_hold_up_others(connection)
    except Exception as ex:  # only advice: a look that fails must not fail the merge
        logger.debug(f"Could not read the indexes of `{name}`: {type(ex).__name__}")
        return
    if unindexed:
        # a warning where the scan holds up others (a cluster's replicas); elsewhere advice at
        # INFO: dlt's own contract is that a plain merge logs no warning
        log = logger.warning if costly else logger.info
        log(
            f"Merging into `{name}` (dataset `{dataset}`) looks rows up by"
            f" {', '.join(f'`{k}`' for k in keys)}, which no index of the table starts with:"
            " every merge reads the whole table, which grows slow with the table (and on a"
            " cluster holds locks the replicas wait for). New tables get the index with the"
            " destination option `create_merge_indexes=True` (or a primary key with"
            " `create_primary_keys=True`); for this table, create an index on those columns."
        )


def merge_sql(table_chain: Sequence[PreparedTableSchema], job_client: JobHost) -> List[str]:
    """The merge statements for `table_chain` as SQL text, in the order they must run."""
    chain = MergeChain(table_chain, job_client)
    return chain.render(merge_statements(chain))


def merge_statements(chain: MergeChain) -> List[TStatement]:
    root = chain.root
    strategy = resolve_merge_strategy({table_name(root): root}, root, chain.job_client.capabilities)
    if strategy == "delete-insert":
        return delete_insert_statements(chain)
    if strategy == "upsert":
        return upsert_statements(chain)
    if strategy == "cdc":
        return upsert_statements(chain, delete_absent=True)
    if strategy == "insert-only":
        return upsert_statements(chain, insert_only=True)
    if strategy == "scd2":
        return scd2_statements(chain)
    raise chain.error(f"The `{strategy}` merge strategy is not implemented by this destination.")
