"""The job client as the jobs see it.

The job client makes the follow-up jobs and runs every job, so it imports them; they name here
what they use of it instead of importing it back. dlt hands a running job its client as
`_job_client`, and our job client hands itself to the follow-up generators: both are typed as
`JobHost`, which `SqlalchemyJobClient` satisfies structurally (mypy checks each hand-over).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol, Sequence

if TYPE_CHECKING:
    import sqlalchemy as sa
    from dlt.common.destination.capabilities import DestinationCapabilitiesContext
    from dlt.common.schema import TColumnSchema

    from dlt_sqlalchemy.client.sql_client import SqlalchemySqlClient
    from dlt_sqlalchemy.configuration import SqlalchemyClientConfiguration
    from dlt_sqlalchemy.dialects.base import DialectCapabilities


class JobHost(Protocol):
    """What a load or follow-up job needs from the job client that makes or runs it."""

    @property
    def sql_client(self) -> SqlalchemySqlClient: ...

    @property
    def dialect_caps(self) -> DialectCapabilities: ...

    @property
    def capabilities(self) -> DestinationCapabilitiesContext: ...

    @property
    def config(self) -> SqlalchemyClientConfiguration: ...

    def sa_table(
        self,
        table_name: str,
        columns: Optional[Sequence[TColumnSchema]] = None,
        dataset_name: Optional[str] = None,
    ) -> sa.Table:
        """The typed SQLAlchemy table the job client built for `table_name` in the dataset."""
        ...
