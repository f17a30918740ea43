"""Microsoft SQL Server: `ALTER TABLE ... ADD` without the COLUMN keyword."""

from __future__ import annotations

from typing import Any, List, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DestinationCapabilitiesContext

from dlt_sqlalchemy.dialects.base import DialectCapabilities


class MssqlCapabilities(DialectCapabilities):
    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.max_identifier_length = 128
        caps.max_column_identifier_length = 128

    def alter_table_add_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> List[str]:
        dialect = self.dialect_for_ddl(table)
        qualified = dialect.identifier_preparer.format_table(table)
        column_sql = ", ".join(
            str(sa.schema.CreateColumn(column).compile(dialect=dialect)) for column in columns
        )
        return [f"ALTER TABLE {qualified} ADD {column_sql}"]
