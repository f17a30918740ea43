"""DuckDB through duckdb-engine: PostgreSQL-like SQL, but no `pg_catalog` reflection."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from sqlalchemy.dialects import postgresql

from dlt_sqlalchemy.dialects.base import (
    DialectCapabilities,
    DialectSqlClient,
    TErrorClass,
    schema_in_information_schema,
)
from dlt_sqlalchemy.dialects.duckdb.types import DuckdbTypeMapper
from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec, on_conflict_upsert
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath

# DuckDB raises one IOException for another process holding the file (it may let go: transient)
# and for a path that cannot be opened (only a new path helps: terminal); only the text differs
_LOCK_CONFLICT = re.compile(r"could not set lock|conflicting lock", re.IGNORECASE)
_UNUSABLE_PATH = re.compile(
    r"no such file or directory|not a directory|is a directory|permission denied|read-only",
    re.IGNORECASE,
)

if TYPE_CHECKING:
    from dlt_sqlalchemy.reads.readers import ArrowReader


class DuckdbCapabilities(DialectCapabilities):
    creates_if_not_exists = True
    deletes_through_joins = True

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.decimal_precision = (38, 9)
        caps.wei_precision = (38, 0)  # DECIMAL holds at most 38 digits
        # DuckDB parallelizes each statement itself; concurrent writers only conflict
        caps.max_parallel_load_jobs = 1

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return DuckdbTypeMapper

    def arrow_readers(self) -> Sequence[ArrowReader]:
        """DuckDB's own Arrow export, on the same connection."""
        from dlt_sqlalchemy.reads.readers import DbApiArrowReader, DuckdbArrowReader

        return (DuckdbArrowReader(), DbApiArrowReader())

    def load_paths(self) -> Sequence[LoadPath]:
        """Arrow batches inserted by DuckDB itself, then the portable `executemany`."""
        from dlt_sqlalchemy.dialects.duckdb.paths import DuckdbArrowPath

        return (DuckdbArrowPath(), ExecutemanyPath())

    def classify_error(self, e: Exception) -> Optional[TErrorClass]:
        """A lock held by another process is transient wherever it shows (connecting at sync, at
        the start of the load step, in a job, an ATTACH), so dlt retries the job and
        `retry_load` the run; a path that cannot be opened is terminal."""
        if type(e).__name__ != "IOException":
            return None
        message = str(e)
        if _LOCK_CONFLICT.search(message):  # first: the holder's path may read like a bad one
            return "transient"
        if _UNUSABLE_PATH.search(message):
            return "terminal"
        return None

    def merge_keys_unindexed(
        self,
        connection: sa.Connection,
        schema: Optional[str],
        table_name: str,
        keys: Sequence[str],
    ) -> bool:
        """Never: DuckDB joins merge keys by hashing both sides, an index would not be used
        (and its SQLAlchemy dialect cannot list unique constraints)."""
        return False

    def has_dataset(self, client: DialectSqlClient, dataset_name: str) -> bool:
        return schema_in_information_schema(client, dataset_name)

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        # duckdb-engine compiles with PostgreSQL's compiler, and DuckDB speaks ON CONFLICT
        return on_conflict_upsert(spec, postgresql.insert)
