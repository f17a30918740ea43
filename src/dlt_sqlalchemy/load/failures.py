"""Why a batch failed, told in the user's terms: which table, which column, what value.

Drivers differ in what they say: MySQL and PostgreSQL quote the column, SQLite and DuckDB write
`table.column`, PostgreSQL's length and range errors name no column at all. These helpers find
the column from the driver's diagnostics, its message, or the failed batch and the table we built.
Only errors caused by the data become `ValueNotStorable`; a terminal error of the statement itself
(no INSERT permission, a missing column) keeps dlt's plain terminal type.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from dlt.common.exceptions import DltException, TerminalException, TransientException
from dlt.destinations.exceptions import DatabaseTerminalException

from dlt_sqlalchemy.client.errors import column_of, driver_message, is_value_error
from dlt_sqlalchemy.exceptions import ValueNotStorable
from dlt_sqlalchemy.load.inserts import BIND_ERRORS, BindRefused
from dlt_sqlalchemy.load.readers import parquet_column

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.sql_client import SqlalchemySqlClient

TColumns = List[List[Any]]


def explain_failure(
    ex: Exception,
    sql_client: SqlalchemySqlClient,
    table_name: str,
    table: sa.Table,
    columns: Sequence[Dict[str, Any]],
    batch: Optional[TColumns],
    file: Optional[Tuple[str, str]] = None,
) -> Exception:
    """The exception to raise for `ex`: `ValueNotStorable` naming the column where we can.

    `file` (path, format) lets a value refused before the database saw it (by Arrow's casts,
    or as bytes that are no UTF-8) be traced to its column, by reading the file again.
    """
    if isinstance(ex, BindRefused):
        reason = sql_client._scrub(str(ex))
        return ValueNotStorable(table_name, _known_column(ex.column, columns), reason, ex.cause)
    refused = _refused_before_the_database(ex)
    if refused is not None:
        reason = sql_client._scrub(f"{type(refused).__name__}: {refused}")
        column = _column_refusing_values(file, columns) if file else None
        if column is None:
            column = _column_in_message(reason, table_name, columns)
        if column is None and batch is not None:
            column = _out_of_range_column(table, columns, batch) or _overlong_text_column(
                table, columns, batch
            )
        return ValueNotStorable(table_name, column, reason, refused)
    translated = sql_client._translated(ex)
    if not isinstance(translated, DatabaseTerminalException) or not is_value_error(ex):
        return translated
    reason = sql_client._scrub(driver_message(ex))
    column = _known_column(column_of(ex), columns) or _column_in_message(
        reason, table_name, columns
    )
    if column is None and batch is not None:
        column = _overlong_text_column(table, columns, batch) or _out_of_range_column(
            table, columns, batch
        )
    return ValueNotStorable(table_name, column, reason, translated.dbapi_exception)


def _known_column(name: Optional[str], columns: Sequence[Dict[str, Any]]) -> Optional[str]:
    """`name` as the schema spells it, if it is one of the loaded columns (case-folded or not)."""
    if name:
        for column in columns:
            if str(column["name"]).lower() == name.lower():
                return str(column["name"])
    return None


def _column_in_message(
    message: str, table_name: str, columns: Sequence[Dict[str, Any]]
) -> Optional[str]:
    """Most drivers name the offending column: quoted (MySQL, PostgreSQL) or as `table.column`
    (SQLite, DuckDB). Longest names first, so `id` does not claim a message about `game_id`."""
    for column in sorted(columns, key=lambda c: -len(c["name"])):
        name = re.escape(column["name"])
        quoted = rf"[\"'`]{name}[\"'`]"
        qualified = rf"(?<![\w$]){re.escape(table_name)}\.{name}(?![\w$])"
        if re.search(f"{quoted}|{qualified}", message, re.IGNORECASE):
            return str(column["name"])
    return None


def _overlong_text_column(
    table: sa.Table, columns: Sequence[Dict[str, Any]], batch: TColumns
) -> Optional[str]:
    """Finds a text or binary column whose declared length a value of the failed batch exceeds.

    PostgreSQL's "value too long for type character varying(5)" names no column; the table we
    created knows every length.
    """
    for sa_column, column, values in zip(table.columns, columns, batch, strict=False):
        limit = getattr(sa_column.type, "length", None) or column.get("precision")
        if column.get("data_type") not in ("text", "binary") or not limit:
            continue
        if any(isinstance(v, (str, bytes)) and len(v) > limit for v in values):
            return str(column["name"])
    return None


# bits of the integer types SQLAlchemy can give a column, by the type's visit name
_INTEGER_BITS = {
    "TINYINT": 8,
    "small_integer": 16,
    "SMALLINT": 16,
    "MEDIUMINT": 24,
    "integer": 32,
    "INTEGER": 32,
    "INT": 32,
    "big_integer": 64,
    "BIGINT": 64,
}


def _out_of_range_column(
    table: sa.Table, columns: Sequence[Dict[str, Any]], batch: TColumns
) -> Optional[str]:
    """Finds an integer or decimal column that a value of the failed batch overflows.

    PostgreSQL's "smallint out of range" and "numeric field overflow" name no column.
    """
    for sa_column, column, values in zip(table.columns, columns, batch, strict=False):
        data_type = column.get("data_type")
        if data_type == "bigint":
            bits = column.get("precision") or _INTEGER_BITS.get(sa_column.type.__visit_name__)
            if bits and any(
                isinstance(v, int) and not -(2 ** (bits - 1)) <= v < 2 ** (bits - 1) for v in values
            ):
                return str(column["name"])
        elif data_type in ("decimal", "wei"):
            precision = getattr(sa_column.type, "precision", None)
            scale = getattr(sa_column.type, "scale", None) or 0
            if precision and any(_too_many_digits(v, precision - scale) for v in values):
                return str(column["name"])
    return None


def _too_many_digits(value: Any, integer_digits: int) -> bool:
    if value is None or isinstance(value, bool):
        return False
    try:
        return bool(abs(value) >= 10**integer_digits)
    except TypeError:  # a text-encoded decimal: not ours to judge
        return False


def _refused_before_the_database(ex: Exception) -> Optional[Exception]:
    """The conversion error underneath `ex` when a value was refused on its way in, by Arrow,
    by Python or by the driver while binding (`ValueError: numeric overflow`, a `TypeError`
    from a dialect's bind processor); None for an error the database raised.

    SQLAlchemy wraps what a driver raises outside its DB-API errors in a `StatementError`.
    Retrying cannot change a value, so all of these are terminal.
    """
    if isinstance(ex, sa.exc.StatementError) and not isinstance(ex, sa.exc.DBAPIError):
        ex = ex.orig if isinstance(ex.orig, Exception) else ex
    classified = (DltException, TerminalException, TransientException, sa.exc.SQLAlchemyError)
    if isinstance(ex, classified):
        return None  # dlt's, ours or SQLAlchemy's own: already classified, or about the statement
    if isinstance(ex, BIND_ERRORS):  # ArrowInvalid and UnicodeDecodeError are ValueErrors
        return ex
    is_arrow = type(ex).__module__.startswith("pyarrow")
    return ex if is_arrow and type(ex).__name__ in ("ArrowInvalid", "ArrowTypeError") else None


def _column_refusing_values(
    file: Tuple[str, str], columns: Sequence[Dict[str, Any]]
) -> Optional[str]:
    """The first column of a parquet file whose values do not convert to the column's type (or
    are invalid UTF-8), found by converting the file column by column; None when every column
    converts (or the format is not parquet)."""
    path, file_format = file
    if file_format != "parquet":
        return None
    for column in columns:
        try:
            for array in parquet_column(path, column):
                array.validate(full=True)  # for strings, also that they are UTF-8
        except Exception:
            return str(column["name"])
    return None
