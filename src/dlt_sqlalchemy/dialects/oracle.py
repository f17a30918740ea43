"""Oracle: upper-case folding of unquoted names, `ALTER TABLE ... ADD (...)`."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import sqlalchemy as sa

from dlt_sqlalchemy.dialects.base import DialectCapabilities


class OracleCapabilities(DialectCapabilities):
    def is_undefined_relation(self, e: Exception) -> Optional[bool]:
        return True if "ORA-00942" in str(e) else None

    def alter_table_add_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> List[str]:
        dialect = self.dialect_for_ddl(table)
        qualified = dialect.identifier_preparer.format_table(table)
        column_sql = ", ".join(
            str(sa.schema.CreateColumn(column).compile(dialect=dialect)) for column in columns
        )
        return [f"ALTER TABLE {qualified} ADD ({column_sql})"]
