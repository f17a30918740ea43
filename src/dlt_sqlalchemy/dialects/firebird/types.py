"""Firebird type mapping: what sqlalchemy-firebird compiles and Firebird 3 accepts.

sqlalchemy-firebird compiles SQLAlchemy's `Double` as `DOUBLE`, which Firebird refuses (it
takes `DOUBLE PRECISION`), so doubles are DOUBLE PRECISION. Text without a length is a text
BLOB, which Firebird cannot put in a primary key or an index: key columns (dlt's row, parent and
root keys, primary and merge keys) are VARCHAR of `key_text_length` characters instead.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema

from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TSaType


class FirebirdTypeMapper(SqlalchemyTypeMapper):
    key_text_length = 255
    """Characters of a text key: 1020 bytes of UTF-8, within Firebird's index key limit
    (a quarter of the 8 KiB default page)."""

    def keeps_time_zones(self) -> bool:
        # Firebird 3 has no zone types; on 4.0 too, aware timestamps are kept as naive UTC, so
        # that a dataset reads the same whichever release wrote it
        return False

    def _db_type_from_double_type(self, column: TColumnSchema, table: Any = None) -> TSaType:
        return sa.DOUBLE_PRECISION()
