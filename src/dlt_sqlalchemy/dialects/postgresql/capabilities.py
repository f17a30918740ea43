"""PostgreSQL: transactional DDL, TIMESTAMPTZ, JSONB, 63-byte identifiers."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from sqlalchemy.dialects import postgresql

from dlt_sqlalchemy.dialects.base import DialectCapabilities, DialectSqlClient
from dlt_sqlalchemy.dialects.postgresql.types import PostgresqlTypeMapper
from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec, on_conflict_upsert
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath

if TYPE_CHECKING:
    from dlt_sqlalchemy.reads.readers import ArrowReader


class PostgresqlCapabilities(DialectCapabilities):
    creates_if_not_exists = True
    deletes_through_joins = True

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

    def arrow_readers(self) -> Sequence[ArrowReader]:
        """ADBC (binary COPY into Arrow) when its driver is installed, else DB-API batches from a
        server-side cursor."""
        from dlt_sqlalchemy.reads.readers import AdbcPostgresqlReader, DbApiArrowReader

        return (AdbcPostgresqlReader(), DbApiArrowReader())

    def load_paths(self) -> Sequence[LoadPath]:
        """Parquet by ADBC ingestion when its driver is installed, both formats by COPY."""
        from dlt_sqlalchemy.dialects.postgresql.paths import PostgresqlAdbcPath, PostgresqlCopyPath

        return (PostgresqlAdbcPath(), PostgresqlCopyPath(), ExecutemanyPath())

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        return on_conflict_upsert(spec, postgresql.insert)

    def swap_tables(
        self, client: DialectSqlClient, pairs: Sequence[Tuple[sa.Table, sa.Table]]
    ) -> Optional[List[TStatement]]:
        """DROP the destination table, move the staged one over (SET SCHEMA, RENAME): DDL is
        transactional, so readers wait on the lock and then see the new table, never a gap."""
        statements: List[TStatement] = []
        for target, staged in pairs:
            preparer = self.dialect_for_ddl(staged).identifier_preparer
            statements.append(sa.schema.DropTable(target))
            if staged.schema != target.schema:
                statements.append(
                    f"ALTER TABLE {preparer.format_table(staged)}"
                    f" SET SCHEMA {preparer.quote_schema(target.schema)}"  # type: ignore[arg-type]
                )
                staged = sa.Table(staged.name, sa.MetaData(), schema=target.schema)
                staged.info["dialect"] = target.info["dialect"]
            if staged.name != target.name:
                statements.append(self.rename_table_sql(staged, str(target.name)))
        return statements
