"""Follow-up jobs as dlt runs them: a `.sql` file of statements, one per line.

Our generators build SQLAlchemy statements (and guarded ones, see `guards`); `render` compiles
them for the dialect, literal values inlined, and `SqlalchemyFollowupJob.from_statements` writes
the file that `statements_job.SqlStatementsJob` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence, cast

import sqlalchemy as sa
from dlt.common.destination.client import PreparedTableSchema
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.destinations.job_impl import FollowupJobRequestImpl
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.sql_jobs import SqlFollowupJob

from dlt_sqlalchemy.followup import guards
from dlt_sqlalchemy.followup.guards import Guarded
from dlt_sqlalchemy.followup.merge.constructs import TStatement

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.sql_client import SqlalchemySqlClient


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


def render(sql_client: SqlalchemySqlClient, statements: Sequence[TStatement]) -> List[str]:
    """SQL text of `statements` for the client's dialect, literal values inlined."""
    return [_render_one(sql_client, s) for s in statements]


def _render_one(sql_client: SqlalchemySqlClient, statement: TStatement) -> str:
    if isinstance(statement, Guarded):
        return guards.encode(_render_one(sql_client, statement.statement), statement.guard)
    if isinstance(statement, str):
        return statement
    return sql_client.compile(cast(sa.ClauseElement, statement))


def table_name(table: Any) -> str:
    """The name of a dlt table schema (typed optional by dlt, always set on loaded tables)."""
    return str(table["name"])
