"""Writes the dlt type -> database type table of each dialect page in `docs/dialects/`.

The tables are compiled from the type mappers themselves, so they cannot drift from the code:

    python scripts/dialect_type_tables.py          # rewrite the tables in place
    python scripts/dialect_type_tables.py --check  # exit 1 if a page is out of date

A table sits between `<!-- type-table:start -->` and `<!-- type-table:end -->`. No database or
driver is needed: each dialect is an unconnected SQLAlchemy dialect object, given the server
version where the mapping depends on it (Oracle booleans).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from dlt_sqlalchemy import sqlalchemy
from dlt_sqlalchemy.capabilities import dialect_for
from dlt_sqlalchemy.configuration import SqlalchemyCredentials

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "docs", "dialects")

# page -> (URL, server versions to show as extra columns, keyed by column title)
DIALECTS: Dict[str, Tuple[str, Dict[str, Optional[Tuple[int, ...]]]]] = {
    "sqlite": ("sqlite:////tmp/chess.db", {}),
    "mysql": ("mysql+mysqldb://loader@localhost/dwh", {}),
    "postgresql": ("postgresql+psycopg://loader@localhost/dwh", {}),
    "duckdb": ("duckdb:////tmp/chess.duckdb", {}),
    "mssql": ("mssql+pyodbc://loader@db/dwh?driver=ODBC+Driver+18", {}),
    "oracle": (
        "oracle+oracledb://loader@db:1521/?service_name=DWH",
        {"before 23ai": (19, 0), "23ai": (23, 4)},
    ),
    "trino": ("trino://loader@db:8080/hive", {}),
    "firebird": (
        "firebird+firebird://loader@localhost:3050//var/lib/firebird/data/dwh.fdb",
        {"Firebird 3": (3, 0), "Firebird 4": (4, 0)},
    ),
}

ROWS: List[Tuple[str, Dict[str, Any]]] = [
    ("`text`", {"data_type": "text"}),
    ("`text`, precision 20", {"data_type": "text", "precision": 20}),
    ("`text`, key column ¹", {"data_type": "text", "unique": True}),
    ("`bigint`", {"data_type": "bigint"}),
    ("`bigint`, precision 32", {"data_type": "bigint", "precision": 32}),
    ("`bigint`, precision 16", {"data_type": "bigint", "precision": 16}),
    ("`double`", {"data_type": "double"}),
    ("`bool`", {"data_type": "bool"}),
    ("`timestamp` (tz-aware, the default)", {"data_type": "timestamp"}),
    ("`timestamp`, precision 3", {"data_type": "timestamp", "precision": 3}),
    ("`timestamp`, `timezone: false`", {"data_type": "timestamp", "timezone": False}),
    ("`date`", {"data_type": "date"}),
    ("`time`", {"data_type": "time"}),
    ("`decimal`", {"data_type": "decimal"}),
    ("`decimal`, precision 10, scale 2", {"data_type": "decimal", "precision": 10, "scale": 2}),
    ("`wei`", {"data_type": "wei"}),
    ("`json`", {"data_type": "json"}),
    ("`binary`", {"data_type": "binary"}),
    ("`binary`, precision 16", {"data_type": "binary", "precision": 16}),
]

START, END = "<!-- type-table:start -->", "<!-- type-table:end -->"


def _render(url: str, version: Optional[Tuple[int, ...]], hints: Dict[str, Any]) -> str:
    destination = sqlalchemy(url)
    dialect = dialect_for(SqlalchemyCredentials(url))
    assert dialect is not None
    caps = destination.capabilities()
    if version is not None:
        dialect.server_version_info = version
        dialect_caps: Any = caps.dialect_capabilities
        dialect_caps.refine_capabilities(caps, _Connected(dialect))
    mapper: Any = caps.get_type_mapper(dialect)
    try:
        sa_type = mapper.to_destination_type({"name": "c", **hints}, {"name": "t"})
    except Exception as ex:  # a type the dialect refuses
        return f"not stored ({type(ex).__name__})"
    return str(sa_type.compile(dialect=dialect))


class _Connected:
    """Stands in for a connection: `refine_capabilities` only reads its dialect."""

    def __init__(self, dialect: sa.engine.interfaces.Dialect) -> None:
        self.dialect = dialect


def table(page: str) -> str:
    url, versions = DIALECTS[page]
    titles = list(versions) or ["database type"]
    columns: Sequence[Optional[Tuple[int, ...]]] = list(versions.values()) or [None]
    lines = [
        "| dlt type | " + " | ".join(titles) + " |",
        "|---|" + "---|" * len(titles),
    ]
    for label, hints in ROWS:
        cells = [f"`{_render(url, v, hints)}`" for v in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages")
    args = parser.parse_args(argv)
    stale = []
    for page in DIALECTS:
        path = os.path.join(DOCS, f"{page}.md")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
        if not pattern.search(text):
            raise SystemExit(f"{path}: no {START} ... {END} block")
        start, end = pattern.search(text).span()  # type: ignore[union-attr]
        updated = f"{text[:start]}{START}\n{table(page)}\n{END}{text[end:]}"
        if updated != text:
            stale.append(path)
            if not args.check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(updated)
    for path in stale:
        print(("stale: " if args.check else "updated: ") + os.path.relpath(path))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
