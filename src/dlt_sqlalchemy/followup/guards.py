"""Conditions under which a follow-up statement runs, so that running a job again is harmless.

dlt runs a follow-up job again when it did not record the job's outcome (the loader crashed, the
connection dropped after the COMMIT). Most of our statements are idempotent by construction
(DELETE then INSERT, upserts by key), but two kinds cannot be written so in plain SQL:

- a swap moves the staged tables into place; after it committed they are gone, and running it
  again would fail (or, statement by statement, drop the new tables);
- MySQL 8 has no `CREATE INDEX IF NOT EXISTS` (MariaDB has), and its DDL commits on its own.

A guarded statement carries its condition in a comment ahead of it, so the job file stays plain
SQL that a person can read and run. `SqlStatementsJob` evaluates every guard of a file against
the database before it runs any statement of it, then runs the statements whose guard holds.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Sequence, Tuple, Union

if TYPE_CHECKING:
    import sqlalchemy as sa

TTableRef = Tuple[Optional[str], str]
"""(schema, table) as stored: physical names, the staging prefix included."""


@dataclasses.dataclass(frozen=True)
class TablesExist:
    """Run while all `tables` exist; skip once none does: a previous run already moved them.

    Some but not all of them existing means a non-atomic swap was interrupted half-way: that is
    refused with the names, since neither running nor skipping would give the staged data.
    """

    tables: Tuple[TTableRef, ...]


@dataclasses.dataclass(frozen=True)
class IndexMissing:
    """Run unless the index `name` exists on `table`: `CREATE INDEX IF NOT EXISTS` by hand."""

    table: TTableRef
    name: str


TGuard = Union[TablesExist, IndexMissing]


class Catalog(Protocol):
    """What judging a guard asks of the database: implemented by `DialectCapabilities`, whose
    module builds guarded statements and so sits above this one."""

    def list_tables(self, connection: sa.Connection, dataset_name: str) -> List[str]: ...

    def has_index(
        self, connection: sa.Connection, schema: Optional[str], table_name: str, index_name: str
    ) -> bool: ...


@dataclasses.dataclass(frozen=True)
class Guarded:
    """A follow-up statement (a SQLAlchemy construct or SQL text) and its guard."""

    statement: Any
    guard: TGuard


class GuardConflict(Exception):
    """The database is in a state where a guarded job can neither run nor be skipped."""


_PREFIX = "/* dlt-sqlalchemy guard "
_SUFFIX = " */ "
_LINE = re.compile(re.escape(_PREFIX) + r"(.*?)" + re.escape(_SUFFIX) + r"(.*)\Z", re.DOTALL)


def encode(sql: str, guard: TGuard) -> str:
    """`sql` with `guard` as a leading comment, on one line."""
    if isinstance(guard, TablesExist):
        data: Dict[str, Any] = {"tables_exist": [list(t) for t in guard.tables]}
    else:
        data = {"index_missing": {"table": list(guard.table), "name": guard.name}}
    # `/` escaped so the comment cannot end early, `;` so dlt's split on `;` leaves the line whole
    text = json.dumps(data, ensure_ascii=True).replace("/", "\\/").replace(";", "\\u003b")
    return f"{_PREFIX}{text}{_SUFFIX}{sql}"


def decode(line: str) -> Tuple[Optional[TGuard], str]:
    """(guard, statement) of a line of a follow-up file; no guard for a plain statement."""
    match = _LINE.match(line.strip())
    if match is None:
        return None, line.strip()
    data = json.loads(match.group(1))
    if "tables_exist" in data:
        tables = tuple((schema, str(name)) for schema, name in data["tables_exist"])
        return TablesExist(tables), match.group(2)
    index = data["index_missing"]
    schema, table = index["table"]
    return IndexMissing((schema, str(table)), str(index["name"])), match.group(2)


def statements_to_run(
    lines: Sequence[Tuple[Optional[TGuard], str]],
    connection: sa.Connection,
    dialect_caps: Catalog,
) -> List[str]:
    """The statements whose guards hold, every guard judged before any statement runs."""
    listed: Dict[Optional[str], List[str]] = {}

    def tables_of(schema: Optional[str]) -> List[str]:
        if schema not in listed:
            # an unqualified table (datasets are not schemas) is in the default schema
            looked_in = schema or connection.dialect.default_schema_name or ""
            listed[schema] = dialect_caps.list_tables(connection, looked_in)
        return listed[schema]

    def holds(guard: TGuard) -> bool:
        if isinstance(guard, IndexMissing):
            schema, table = guard.table
            return not dialect_caps.has_index(connection, schema, table, guard.name)
        present = [(s, t) for s, t in guard.tables if t in tables_of(s)]
        if len(present) == len(guard.tables):
            return True
        if not present:
            return False
        missing = [t for t in guard.tables if t not in present]
        raise GuardConflict(
            f"Of the tables {_names(guard.tables)} that this job moves, {_names(missing)} are"
            " gone and the rest are not: an earlier run of it stopped half-way. Load the data"
            " again (the next load stages it anew)."
        )

    decided: Dict[TGuard, bool] = {}
    result = []
    for guard, statement in lines:
        if guard is not None:
            if guard not in decided:
                decided[guard] = holds(guard)
            if not decided[guard]:
                continue
        result.append(statement)
    return result


def _names(tables: Sequence[TTableRef]) -> str:
    return ", ".join(f"`{s}.{t}`" if s else f"`{t}`" for s, t in tables)
