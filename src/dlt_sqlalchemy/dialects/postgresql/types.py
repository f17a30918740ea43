"""PostgreSQL's type mapper."""

from __future__ import annotations

from typing import Any

from dlt.common.schema.typing import TColumnSchema
from sqlalchemy.dialects import postgresql

from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TSaType, _is_tz_aware


class PostgresqlTypeMapper(SqlalchemyTypeMapper):
    """PostgreSQL: TIMESTAMPTZ with precision, JSONB, BYTEA, NUMERIC."""

    def _db_type_from_timestamp_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.TIMESTAMP(
            timezone=_is_tz_aware(column), precision=self.timestamp_precision(column)
        )

    def _db_type_from_time_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.TIME(precision=self.timestamp_precision(column))

    def _db_type_from_json_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.JSONB(none_as_null=True)

    def _db_type_from_binary_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return postgresql.BYTEA()
