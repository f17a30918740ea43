"""What Firebird stores, read from its system tables (it has no `information_schema`).

Types come from `RDB$FIELDS` as codes, turned here into the generic type names the type mapper
reads back (`numeric`, `double precision`, `blob`...), so schema sync sees what we created.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import sqlalchemy as sa

from dlt_sqlalchemy.dialects.base import StorageColumn

# RDB$FIELD_TYPE codes (Firebird 3 and 4); integers with a sub type 1/2 are NUMERIC/DECIMAL
_TYPE_NAMES = {
    7: "smallint",
    8: "integer",
    16: "bigint",
    26: "numeric",  # INT128 (Firebird 4), only ever NUMERIC here
    10: "float",
    27: "double precision",
    12: "date",
    13: "time",
    35: "timestamp",
    29: "timestamp with time zone",
    28: "time with time zone",
    14: "char",
    37: "varchar",
    23: "boolean",
}
_BLOB = 261

_RELATIONS = sa.table(
    "rdb$relations",
    sa.column("rdb$relation_name"),
    sa.column("rdb$relation_type"),
    sa.column("rdb$system_flag"),
)


def table_names(connection: sa.Connection) -> List[str]:
    """User tables, named as SQLAlchemy names them: upper-case (unquoted) names lower-cased,
    the way dlt's names are folded here, quoted names as they are."""
    rel = _RELATIONS
    query = sa.select(sa.func.trim(rel.c["rdb$relation_name"])).where(
        rel.c["rdb$relation_type"] == 0,
        sa.func.coalesce(rel.c["rdb$system_flag"], 0) == 0,
    )
    normalize = connection.dialect.normalize_name
    return [str(normalize(name)) for name in connection.execute(query).scalars()]


_COLUMNS_SQL = """
SELECT TRIM(rf.rdb$relation_name), TRIM(rf.rdb$field_name), f.rdb$field_type,
       f.rdb$field_sub_type, f.rdb$field_precision, f.rdb$field_scale,
       f.rdb$character_length, rf.rdb$null_flag, f.rdb$null_flag
FROM rdb$relation_fields rf
JOIN rdb$fields f ON f.rdb$field_name = rf.rdb$field_source
WHERE TRIM(rf.rdb$relation_name) IN ({names})
ORDER BY rf.rdb$relation_name, rf.rdb$field_position
"""


def storage_columns(
    connection: sa.Connection, tables: Sequence[str]
) -> Dict[str, List[StorageColumn]]:
    if not tables:
        return {}
    dialect = connection.dialect
    names = ", ".join(f":t{i}" for i in range(len(tables)))
    params = {f"t{i}": dialect.denormalize_name(name) for i, name in enumerate(tables)}
    found: Dict[str, List[StorageColumn]] = {}
    for row in connection.execute(sa.text(_COLUMNS_SQL.format(names=names)), params):
        table, column, code, sub_type, precision, scale, length, null_flag, domain_null = row
        db_type, p, s = _type_of(code, sub_type, precision, scale, length)
        found.setdefault(str(dialect.normalize_name(table)), []).append(
            StorageColumn(
                name=str(dialect.normalize_name(column)),
                db_type=db_type,
                nullable=not (null_flag or domain_null),
                precision=p,
                scale=s,
            )
        )
    return found


def _type_of(
    code: int,
    sub_type: Optional[int],
    precision: Optional[int],
    scale: Optional[int],
    length: Optional[int],
) -> tuple[str, Optional[int], Optional[int]]:
    if code == _BLOB:
        return ("text" if sub_type == 1 else "blob"), None, None
    if code in (7, 8, 16, 26) and (sub_type in (1, 2) or (scale or 0) < 0):
        return "numeric", precision, -(scale or 0)
    if code in (14, 37):
        return _TYPE_NAMES[code], length, None
    return _TYPE_NAMES.get(code, "text"), None, None
