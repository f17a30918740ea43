"""PostgreSQL: transactional DDL, TIMESTAMPTZ, JSONB, 63-byte identifiers."""

from __future__ import annotations

from typing import Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext

from dlt_sqlalchemy.dialects.base import DialectCapabilities
from dlt_sqlalchemy.dialects.types import PostgresqlTypeMapper
from dlt_sqlalchemy.load_paths import ExecutemanyPath, LoadPath


class PostgresqlCapabilities(DialectCapabilities):
    # NAMEDATALEN is 64 bytes; longer names are truncated silently (a NOTICE), which would make
    # two long names collide or a table unfindable: we refuse them up front instead
    identifier_unit = "bytes"

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.wei_precision = (78, 0)  # NUMERIC is arbitrary precision: room for any uint256
        caps.supports_ddl_transactions = True

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return PostgresqlTypeMapper

    def load_paths(self) -> Sequence[LoadPath]:
        """Parquet by ADBC ingestion when its driver is installed, both formats by COPY."""
        from dlt_sqlalchemy.paths.postgresql import PostgresqlAdbcPath, PostgresqlCopyPath

        return (PostgresqlAdbcPath(), PostgresqlCopyPath(), ExecutemanyPath())
