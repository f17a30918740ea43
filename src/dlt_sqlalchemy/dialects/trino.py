"""Trino: millisecond timestamps, no constraints, no transactions.

Trino folds every identifier to lower case, quoted or not, so names that differ only in case
are one name there: use a lower-case naming convention (dlt's default `snake_case`).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema

from dlt_sqlalchemy.dialects.base import DialectCapabilities, StorageColumn, group_storage_columns
from dlt_sqlalchemy.dialects.trino_types import MAX_FRACTION_DIGITS, TrinoTypeMapper


class TrinoCapabilities(DialectCapabilities):
    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.timestamp_precision = MAX_FRACTION_DIGITS
        caps.max_timestamp_precision = MAX_FRACTION_DIGITS
        caps.supports_ddl_transactions = False
        caps.supports_transactions = False
        caps.decimal_precision = (38, 9)
        caps.wei_precision = (38, 0)  # DECIMAL holds 38 digits

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return TrinoTypeMapper

    def adapt_table(self, table: sa.Table, table_schema: PreparedTableSchema) -> sa.Table:
        """Drops primary key and unique constraints, which Trino has none of.

        Also with `create_primary_keys` / `create_unique_indexes` on: those options may be set
        for other destinations of the same project, and Trino's dialect would only warn and
        leave them out of the DDL anyway.
        """
        keyed = [c for c in table.columns if c.primary_key or c.unique]
        if not keyed:
            return table
        metadata = table.metadata
        metadata.remove(table)
        columns = []
        for column in table.columns:
            copy = column._copy()
            copy.primary_key = False
            copy.unique = False
            columns.append(copy)
        return sa.Table(table.name, metadata, *columns, schema=table.schema)

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        """Trino's `information_schema.columns` has no length, precision or scale columns; its
        `data_type` spells them out (`varchar(20)`, `decimal(38,9)`, `timestamp(3) with time
        zone`), which is the form the type mapper parses."""
        columns = sa.table(
            "columns",
            sa.column("table_schema"),
            sa.column("table_name"),
            sa.column("column_name"),
            sa.column("data_type"),
            sa.column("is_nullable"),
            sa.column("ordinal_position"),
            schema="information_schema",
        )
        query = (
            sa.select(
                columns.c.table_name,
                columns.c.column_name,
                columns.c.data_type,
                columns.c.is_nullable,
            )
            .where(columns.c.table_schema == dataset_name)
            .where(columns.c.table_name.in_(list(table_names)))
            .order_by(columns.c.table_name, columns.c.ordinal_position)
        )
        rows = connection.execute(query)
        return group_storage_columns((t, c, ty, n, None, None) for t, c, ty, n in rows)
