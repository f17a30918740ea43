"""One dataset per database, for databases without schemas (or `use_schemas = false`).

Where a dataset cannot be a schema, its tables are unqualified and live in the connection's
default schema, so nothing in a table's name says which dataset it belongs to. Two pipelines
with different dataset names would then read and overwrite each other's `_dlt_version`,
`_dlt_pipeline_state` and data tables without a word. The database therefore records the one
dataset it holds in a table of one row, `_dlt_sqla_dataset`, written when the dataset is
created and checked whenever a client asks whether its dataset exists (at every sync, before
any data work): a different name is refused (`DatabaseHoldsAnotherDataset`).

Dropping the dataset cannot drop a schema: it drops the tables the dataset's stored schemas
name, dlt's and ours (`_dlt*`), and the marker, and leaves any other table of the database
alone.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import zlib
from typing import Callable, Iterable, List, Optional, Set

import sqlalchemy as sa

from dlt_sqlalchemy.dialects.base import DialectCapabilities

MARKER_TABLE = "_dlt_sqla_dataset"
DEFAULT_STAGING_PREFIX = "_dlt_stg_"
"""Short, because databases without schemas tend to have short names (Firebird 3: 31)."""
VERSION_TABLE = "_dlt_version"


def marker_table(quoted: Callable[[str], str]) -> sa.Table:
    # a primary key: servers that require one on every table (Galera, managed MySQL) take it
    return sa.Table(
        quoted(MARKER_TABLE),
        sa.MetaData(),
        sa.Column(quoted("dataset_name"), sa.String(255), primary_key=True),
    )


def dataset_held(
    connection: sa.Connection,
    dialect_caps: DialectCapabilities,
    schema: str,
    fold: Callable[[str], str],
    quoted: Callable[[str], str],
) -> Optional[str]:
    """The dataset the database holds, None when it holds none yet."""
    if fold(MARKER_TABLE) not in dialect_caps.list_tables(connection, schema):
        return None
    marker = marker_table(quoted)
    names = connection.execute(sa.select(marker.c[0])).scalars().all()
    return str(names[0]) if names else None


def create_marker(
    connection: sa.Connection,
    dialect_caps: DialectCapabilities,
    schema: str,
    fold: Callable[[str], str],
    quoted: Callable[[str], str],
) -> None:
    """Creates `_dlt_sqla_dataset` where missing. Commit before `claim`: Firebird cannot write
    to a table in the transaction that created it."""
    if fold(MARKER_TABLE) not in dialect_caps.list_tables(connection, schema):
        marker_table(quoted).create(connection, checkfirst=False)


def claim(connection: sa.Connection, quoted: Callable[[str], str], dataset_name: str) -> None:
    """Records `dataset_name` as the dataset of the database (the caller checked it holds none)."""
    marker = marker_table(quoted)
    connection.execute(sa.insert(marker).values({marker.c[0].name: dataset_name}))


def tables_of_dataset(
    connection: sa.Connection,
    dialect_caps: DialectCapabilities,
    schema: str,
    fold: Callable[[str], str],
    quoted: Callable[[str], str],
    staging_prefix: str,
) -> List[str]:
    """The tables `drop_dataset` removes: those the stored schemas name, dlt's own and ours,
    the staging tables, the marker last."""
    present = dialect_caps.list_tables(connection, schema)
    named: Set[str] = set()
    if fold(VERSION_TABLE) in present:
        version = sa.table(quoted(VERSION_TABLE), sa.column(quoted("schema")))
        for stored in connection.execute(sa.select(version.c[0])).scalars():
            named.update(fold(name) for name in _table_names(stored))
    internal = fold("_dlt")
    prefix = fold(staging_prefix)
    dropped = [
        name
        for name in present
        if name != fold(MARKER_TABLE)
        and (name in named or name.startswith(internal) or name.startswith(prefix))
    ]
    if fold(MARKER_TABLE) in present:
        dropped.append(fold(MARKER_TABLE))
    return dropped


def _table_names(stored_schema: Optional[str]) -> Iterable[str]:
    """Table names of a schema as `_dlt_version` stores it (JSON, or zlib'd JSON in base64)."""
    if not stored_schema:
        return []
    text = stored_schema
    with contextlib.suppress(ValueError, zlib.error):
        text = zlib.decompress(base64.b64decode(stored_schema, validate=True)).decode("utf-8")
    try:
        tables = json.loads(text).get("tables", {})
    except (ValueError, AttributeError):
        return []
    return [str(name) for name in tables]


def mentions_dataset(sql: str, datasets: Iterable[str]) -> bool:
    """Whether `sql` may qualify a table with one of `datasets`: a cheap test before parsing.

    dlt's dataset reads qualify every table (`"ds"."table"`); the statements dlt and we build
    for loading are unqualified where datasets are not schemas, and skip the parse.
    """
    patterns = (rf"(?i)\b{re.escape(dataset)}[\"`\]]?\s*\." for dataset in datasets)
    return any(re.search(pattern, sql) for pattern in patterns)


def unqualified(
    sql: str,
    sqlglot_dialect: str,
    physical: Callable[[str, str], Optional[str]],
    needs_quotes: Optional[Callable[[str], bool]] = None,
) -> str:
    """`sql` with every table of our datasets named as stored: unqualified, staging prefixed.

    `physical(dataset, table)` gives the stored name of `table` of `dataset`, or None when the
    dataset is not ours (that name is left as written, and the database says if it is wrong).
    `needs_quotes`, for databases that fold unquoted names to upper case (Firebird, Oracle):
    dlt's reads quote every lower-case name, which there names another table than the one
    created unquoted; identifiers that need no quotes lose them.
    """
    import sqlglot
    from sqlglot import expressions as sge

    tree = sqlglot.parse_one(sql, read=sqlglot_dialect)
    for node in list(tree.find_all(sge.Table, sge.Column)):
        db = node.args.get("db")
        if db is None:
            continue
        if isinstance(node, sge.Table):
            stored = physical(db.name, node.name)
            if stored is None:
                continue
            node.set("this", sge.to_identifier(stored, quoted=True))
            node.set("db", None)
            node.set("catalog", None)
        else:
            table = node.args.get("table")
            stored = physical(db.name, table.name) if table is not None else None
            if stored is None:
                continue
            node.set("table", sge.to_identifier(stored, quoted=True))
            node.set("db", None)
            node.set("catalog", None)
    if needs_quotes is not None:
        for identifier in tree.find_all(sge.Identifier):
            if identifier.quoted and not needs_quotes(identifier.name):
                identifier.set("quoted", False)
    return tree.sql(dialect=sqlglot_dialect)
