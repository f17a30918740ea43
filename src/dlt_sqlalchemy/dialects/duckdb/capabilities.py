"""DuckDB through duckdb-engine: PostgreSQL-like SQL, but no `pg_catalog` reflection."""

from __future__ import annotations

from typing import List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from sqlalchemy.dialects import postgresql

from dlt_sqlalchemy.dialects.base import (
    DialectCapabilities,
    DialectSqlClient,
    schema_in_information_schema,
)
from dlt_sqlalchemy.dialects.duckdb.types import DuckdbTypeMapper
from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec, on_conflict_upsert
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath


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

    def load_paths(self) -> Sequence[LoadPath]:
        """Arrow batches inserted by DuckDB itself, then the portable `executemany`."""
        from dlt_sqlalchemy.dialects.duckdb.paths import DuckdbArrowPath

        return (DuckdbArrowPath(), ExecutemanyPath())

    def has_dataset(self, client: DialectSqlClient, dataset_name: str) -> bool:
        return schema_in_information_schema(client, dataset_name)

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(
        self, client: DialectSqlClient, spec: UpsertSpec
    ) -> List[TStatement]:
        # duckdb-engine compiles with PostgreSQL's compiler, and DuckDB speaks ON CONFLICT
        return on_conflict_upsert(spec, postgresql.insert)
