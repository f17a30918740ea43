"""The job that runs a follow-up `.sql` file (merge, replace) written by our follow-up jobs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Tuple, cast

from dlt.common import logger
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.common.storages import FileStorage
from dlt.destinations.job_client_impl import SqlLoadJob

from dlt_sqlalchemy.followup import guards

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_host import JobHost

# a statement is DDL by its first word, not by a `created_at` column somewhere in its text
_DDL_START = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)


class SqlStatementsJob(SqlLoadJob):
    """dlt's SQL job, deciding "is this DDL?" by how each statement starts, and running only the
    statements whose guards hold (see `dlt_sqlalchemy.followup.guards`).

    dlt searches the whole text for CREATE / ALTER / DROP, so a merge touching a `created_at`
    column counted as DDL and ran outside a transaction on databases without transactional DDL
    (MySQL): readers could see it half-applied.
    """

    def run(self) -> None:
        self._sql_client = self._job_client.sql_client
        with FileStorage.open_zipsafe_ro(self._file_path, "r", encoding="utf-8") as f:
            lines = [guards.decode(line) for line in f.read().split("\n") if line.strip()]
        statements = self._statements_to_run(lines)
        if not statements:
            logger.info(
                f"{self._file_name}: nothing to do, an earlier run of this job already did it"
            )
            return
        sql = "\n".join(statements)
        with self.maybe_transaction(sql):
            self._sql_client.execute_many(statements)

    def _statements_to_run(self, lines: List[Tuple[Optional[guards.TGuard], str]]) -> List[str]:
        plain = [
            (guard, fragment.strip())
            for guard, statement in lines
            # a guarded statement is one statement; a plain line may hold several (dlt's format)
            for fragment in ([statement] if guard is not None else statement.split(";"))
            if fragment.strip()
        ]
        if all(guard is None for guard, _ in plain):
            return [statement for _, statement in plain]
        client = cast("JobHost", self._job_client)
        try:
            return self._sql_client.run(  # type: ignore[no-any-return]
                lambda connection: guards.statements_to_run(plain, connection, client.dialect_caps)
            )
        except guards.GuardConflict as ex:
            raise DestinationTerminalException(f"{self._file_name}: {ex}") from ex

    def _string_contains_ddl_statements(self, sql: str) -> bool:
        return any(_DDL_START.match(statement) for statement in self._split_fragments(sql))
