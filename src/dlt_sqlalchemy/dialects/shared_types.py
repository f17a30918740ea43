"""Limits shared by the compiled-only dialects' type mappers (SQL Server, Oracle, Trino).

A column asking for more than the database holds fails when its table is first planned (dlt
calls the mapper while normalizing), naming the column, rather than as a DDL error half-way
through a load.
"""

from __future__ import annotations

import decimal
from typing import Any, Tuple

import sqlalchemy as sa
from dlt.common.exceptions import TerminalValueError
from dlt.common.schema.typing import TColumnSchema

from dlt_sqlalchemy.dialects.type_mapper import JsonText, SqlalchemyTypeMapper


class PlainDecimal(sa.types.TypeDecorator[decimal.Decimal]):
    """DECIMAL(p, s) whose SQL literals are written out in positional notation.

    SQLAlchemy renders a `Decimal` literal with `str()`, which gives `1E-9` for small values; SQL
    Server and Trino read exponent notation as a binary float, not an exact decimal.
    """

    impl = sa.DECIMAL
    cache_ok = True

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        if not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value))  # a float through its shortest repr
        return format(value, "f")


def checked_decimal(
    mapper: SqlalchemyTypeMapper, column: TColumnSchema, table: Any, max_precision: int
) -> Tuple[int, int]:
    """The (precision, scale) of a `decimal` column, refused above `max_precision` digits."""
    precision, scale = mapper.decimal_precision(column)
    if precision > max_precision or scale > precision:
        raise TerminalValueError(
            f"Column `{column.get('name')}` of table `{_table_name(table)}` asks for"
            f" DECIMAL({precision}, {scale}); this database holds at most {max_precision} digits"
            " with the scale not above the precision.",
            "decimal",
        )
    return precision, scale


def checked_wei(mapper: SqlalchemyTypeMapper, max_precision: int) -> Tuple[int, int]:
    """`wei` precision from capabilities, which a user may override beyond what fits."""
    precision, scale = mapper.capabilities.wei_precision
    if precision > max_precision:
        raise TerminalValueError(
            f"`wei_precision` ({precision}, {scale}) exceeds the {max_precision} digits this"
            " database's decimal type holds.",
            "wei",
        )
    return precision, scale


def checked_fraction(
    mapper: SqlalchemyTypeMapper, column: TColumnSchema, table: Any, max_precision: int
) -> int:
    """Fractional-second digits of a `timestamp` or `time` column, refused above the maximum."""
    precision = mapper.timestamp_precision(column)
    if not 0 <= precision <= max_precision:
        raise TerminalValueError(
            f"Column `{column.get('name')}` of table `{_table_name(table)}` asks for"
            f" {precision} fractional second digits; this database keeps 0 to {max_precision}.",
            str(column.get("data_type")),
        )
    return precision


def _table_name(table: Any) -> str:
    return table["name"] if table else "?"


__all__ = ["JsonText", "PlainDecimal", "checked_decimal", "checked_fraction", "checked_wei"]
