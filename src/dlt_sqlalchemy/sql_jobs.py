"""The job that runs a follow-up `.sql` file (merge, replace) written by our follow-up jobs."""

from __future__ import annotations

import re

from dlt.destinations.job_client_impl import SqlLoadJob

# a statement is DDL by its first word, not by a `created_at` column somewhere in its text
_DDL_START = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)


class SqlStatementsJob(SqlLoadJob):
    """dlt's SQL job, deciding "is this DDL?" by how each statement starts.

    dlt searches the whole text for CREATE / ALTER / DROP, so a merge touching a `created_at`
    column counted as DDL and ran outside a transaction on databases without transactional DDL
    (MySQL): readers could see it half-applied.
    """

    def _string_contains_ddl_statements(self, sql: str) -> bool:
        return any(_DDL_START.match(statement) for statement in self._split_fragments(sql))
