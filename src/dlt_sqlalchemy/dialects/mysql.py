"""MySQL and MariaDB: schemas are databases, DDL commits implicitly, DATETIME has no zone."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext

from dlt_sqlalchemy.dialects.base import DialectCapabilities, StorageColumn, group_storage_columns
from dlt_sqlalchemy.dialects.types import MysqlTypeMapper

# identifiers (tables, columns, schemas) are limited to 64 characters; SQLAlchemy's dialect
# reports 255, the limit of column labels, which is not what CREATE TABLE enforces
MAX_IDENTIFIER_LENGTH = 64


class MysqlCapabilities(DialectCapabilities):
    drop_schema_cascade = False  # DROP SCHEMA drops the whole database; no CASCADE keyword

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.max_identifier_length = MAX_IDENTIFIER_LENGTH
        caps.max_column_identifier_length = MAX_IDENTIFIER_LENGTH
        # every DDL statement commits the open transaction
        caps.supports_ddl_transactions = False
        caps.enforces_nulls_on_alter = False
        caps.wei_precision = (65, 0)  # DECIMAL holds at most 65 digits
        caps.supports_tz_aware_datetime = True  # stored as UTC DATETIME, read back aware

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return MysqlTypeMapper

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        # COLUMN_TYPE keeps the display width that tells BOOL (tinyint(1)) from TINYINT
        query = sa.text(
            "SELECT table_name, column_name, column_type, is_nullable, numeric_precision,"
            " numeric_scale FROM information_schema.columns"
            " WHERE table_schema = :schema AND table_name IN :names"
            " ORDER BY table_name, ordinal_position"
        ).bindparams(sa.bindparam("names", expanding=True))
        rows = connection.execute(query, {"schema": dataset_name, "names": list(table_names)})
        return group_storage_columns(
            (t, c, "boolean" if str(ty).lower() == "tinyint(1)" else ty, n, p, s)
            for t, c, ty, n, p, s in rows
        )
