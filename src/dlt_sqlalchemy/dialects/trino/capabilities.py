"""Trino: millisecond timestamps, no constraints, no transactions.

Trino folds every identifier to lower case, quoted or not, so names that differ only in case
are one name there: use a lower-case naming convention (dlt's default `snake_case`).
"""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema

from dlt_sqlalchemy.dialects.base import (
    DialectCapabilities,
    DialectSqlClient,
    schema_in_information_schema,
)
from dlt_sqlalchemy.dialects.trino.types import MAX_FRACTION_DIGITS, TrinoTypeMapper


class TrinoCapabilities(DialectCapabilities):
    creates_if_not_exists = True
    # Trino's information_schema.columns has no length, precision or scale columns; its
    # `data_type` spells them out (`varchar(20)`, `timestamp(3) with time zone`), which the
    # type mapper parses
    information_schema_details = False
    supports_indexes = False

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

    def has_dataset(self, client: DialectSqlClient, dataset_name: str) -> bool:
        # the trino package's `has_schema` takes no `info_cache`, which SQLAlchemy 2's
        # inspector passes: asked through reflection, every load would fail at its first step
        return schema_in_information_schema(client, dataset_name)

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
