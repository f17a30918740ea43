"""The merge follow-up job: SQL generated per strategy from typed SQLAlchemy tables.

dlt runs a follow-up job by executing its `.sql` file one statement per line, inside a transaction
where the capabilities allow it. The statements come from `dlt_sqlalchemy.merge` (one module per
strategy), compiled for the dialect with literal values inlined; dialect hooks decide the native
forms (upsert syntax, timestamp literals).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from dlt.common.destination.client import PreparedTableSchema
from dlt.common.destination.utils import resolve_merge_strategy
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.destinations.job_impl import FollowupJobRequestImpl
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.sql_jobs import SqlFollowupJob

from dlt_sqlalchemy.merge.chain import MergeChain, table_name
from dlt_sqlalchemy.merge.constructs import TStatement
from dlt_sqlalchemy.merge.delete_insert import delete_insert_statements
from dlt_sqlalchemy.merge.scd2 import scd2_statements
from dlt_sqlalchemy.merge.upsert import upsert_statements

if TYPE_CHECKING:
    from dlt_sqlalchemy.job_client import SqlalchemyJobClient


class SqlalchemyFollowupJob(SqlFollowupJob):
    """A SQL follow-up job written from statements generated with the job client at hand.

    dlt's `from_table_chain` hands `generate_sql` only the SQL client; our generators need the
    job client too (its typed tables), so jobs are made with `from_statements` instead.
    """

    @classmethod
    def from_statements(
        cls, table_chain: Sequence[PreparedTableSchema], statements: Sequence[str]
    ) -> FollowupJobRequestImpl:
        for statement in statements:
            if ";" in statement:
                # dlt's SQL job splits its file on every `;`, even inside a string literal
                raise ValueError(
                    f"A statement of the `{table_chain[0]['name']}` follow-up job contains `;`,"
                    " which dlt's SQL job would split apart (is it in a `source_filter` or"
                    f" `destination_scope`?): {statement}"
                )
        file_info = ParsedLoadJobFileName(
            table_name(table_chain[0]), ParsedLoadJobFileName.new_file_id(), 0, "sql"
        )
        job = cls(file_info.file_name())
        # one statement per line: dlt executes the file line by line
        job._save_text_file("\n".join(" ".join(s.splitlines()) for s in statements))
        return job

    @classmethod
    def generate_sql(
        cls,
        table_chain: Sequence[PreparedTableSchema],
        sql_client: SqlClientBase[Any],
        params: Optional[Any] = None,
    ) -> List[str]:
        raise NotImplementedError(f"{cls.__name__} is made with `from_statements`")


class SqlalchemyMergeJob(SqlalchemyFollowupJob):
    """Merges the staging dataset into the destination with the table chain's merge strategy."""

    @classmethod
    def from_job_client(
        cls, table_chain: Sequence[PreparedTableSchema], job_client: SqlalchemyJobClient
    ) -> FollowupJobRequestImpl:
        return cls.from_statements(table_chain, merge_sql(table_chain, job_client))


def merge_sql(
    table_chain: Sequence[PreparedTableSchema], job_client: SqlalchemyJobClient
) -> List[str]:
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
