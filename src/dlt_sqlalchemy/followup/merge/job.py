"""The merge follow-up job: SQL generated per strategy from typed SQLAlchemy tables.

dlt runs a follow-up job by executing its `.sql` file one statement per line, inside a transaction
where the capabilities allow it. The statements come from the strategy modules beside this one,
compiled for the dialect with literal values inlined (`followup.job.render`); dialect hooks decide
the native forms (upsert syntax, timestamp literals).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Sequence

from dlt.common.destination.client import PreparedTableSchema
from dlt.common.destination.utils import resolve_merge_strategy
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
        return cls.from_statements(table_chain, merge_sql(table_chain, job_client))


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
