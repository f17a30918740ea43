"""SQL building blocks shared by the merge strategies and the dialect hooks.

SQLAlchemy has no MERGE construct, so `MergeInto` is a small custom clause compiled for the
dialects that use MERGE (SQL Server, Oracle, generic). `UpsertSpec` describes one upsert in
dialect-neutral terms, so that each dialect can pick its native form (ON CONFLICT, ON DUPLICATE
KEY, MERGE) and `portable_upsert` works everywhere else.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Union

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from dlt_sqlalchemy.followup.guards import Guarded

TStatement = Union[sa.Executable, str, Guarded]
"""A statement of a follow-up job: a SQLAlchemy construct, or SQL text already rendered, either
of them possibly `Guarded` by a condition that makes running the job again harmless."""

TCondition = Union[sa.ColumnElement[bool], sa.TextClause]
"""A WHERE condition: an expression, or user SQL (`source_filter`, `destination_scope`)."""


@dataclasses.dataclass
class UpsertSpec:
    """One upsert (or insert-only) of prepared source rows into a target table by key.

    `source` holds the rows to write: deduplicated by `keys`, already filtered, never marked
    deleted, with columns keyed like the target's. Hard deletes happen before, as plain DELETEs,
    so no dialect has to fold them into its upsert form.
    """

    target: sa.Table
    source: sa.Subquery
    keys: List[str]
    """Column keys that identify a row: the conflict target."""
    columns: List[str]
    """Column keys written on insert, in order."""
    update: List[str]
    """Column keys set on a match, in order: columns that take no part in change detection come
    first, because MySQL evaluates its assignments left to right."""
    compare: List[str] = dataclasses.field(default_factory=list)
    """Columns whose values tell a changed row from an unchanged one (`skip_unchanged_rows`)."""
    compare_by_version: bool = False
    """`compare` is a row version column: it is never NULL and is compared with `<>`."""
    skip_unchanged: bool = False
    """Update a matched row only if `changed` holds."""
    insert_only: bool = False
    index_name: str = ""
    """Name for the unique index a native upsert needs on `keys`, if the dialect creates one."""

    def key_match(self, target: Any, source: Any) -> sa.ColumnElement[bool]:
        return sa.and_(*[target[k] == source[k] for k in self.keys])

    def changed(self, target: Any, source: Any) -> Optional[sa.ColumnElement[bool]]:
        """The condition for updating a matched row: None means always."""
        if not self.skip_unchanged or not self.compare:
            return None
        if self.compare_by_version:
            return sa.or_(*[target[c] != source[c] for c in self.compare])
        return sa.or_(*[target[c].is_distinct_from(source[c]) for c in self.compare])


def portable_upsert(spec: UpsertSpec) -> List[TStatement]:
    """UPDATE the matched rows, then INSERT the rest: plain SQL that any database runs.

    Correlated subqueries instead of UPDATE ... FROM, because the latter is spelled differently
    on every database (and missing on some); no unique key is needed on the target.
    """
    target, source = spec.target, spec.source
    statements: List[TStatement] = []
    if not spec.insert_only and spec.update:
        match = spec.key_match(target.c, source.c)
        changed = spec.changed(target.c, source.c)
        condition = match if changed is None else sa.and_(match, changed)
        values = {
            target.c[c]: sa.select(source.c[c]).where(match).scalar_subquery() for c in spec.update
        }
        statements.append(sa.update(target).values(values).where(sa.exists().where(condition)))
    absent = ~sa.exists().where(spec.key_match(target.c, source.c))
    statements.append(
        sa.insert(target).from_select(
            [target.c[c] for c in spec.columns],
            sa.select(*[source.c[c] for c in spec.columns]).where(absent),
        )
    )
    return statements


class MergeInto(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """`MERGE INTO target USING source ON key WHEN MATCHED ... WHEN NOT MATCHED ...`.

    Built from an `UpsertSpec`; the target is aliased `d` and the source `s`, so conditions
    compare `d` columns with `s` columns.
    """

    inherit_cache = False

    def __init__(self, spec: UpsertSpec) -> None:
        self.spec = spec
        self.target = spec.target.alias("d")
        self.source = spec.source.alias("s")
        self.on = spec.key_match(self.target.c, self.source.c)
        self.update: Dict[str, sa.ColumnElement[Any]] = (
            {} if spec.insert_only else {c: self.source.c[c] for c in spec.update}
        )
        self.update_where = spec.changed(self.target.c, self.source.c) if self.update else None

    def parts(self, compiler: SQLCompiler, **kw: Any) -> Dict[str, str]:
        """The clauses rendered by `compiler`, for the dialect variants to arrange."""
        kw.pop("asfrom", None)
        format_column = compiler.preparer.format_column
        spec = self.spec
        columns = [spec.target.c[c] for c in spec.columns]
        return {
            "target": compiler.process(self.target, asfrom=True, **kw),
            "source": compiler.process(self.source, asfrom=True, **kw),
            "on": compiler.process(self.on, **kw),
            "set": ", ".join(
                f"{format_column(spec.target.c[c])} = {compiler.process(v, **kw)}"
                for c, v in self.update.items()
            ),
            "update_where": (
                compiler.process(self.update_where, **kw) if self.update_where is not None else ""
            ),
            "insert_columns": ", ".join(format_column(c) for c in columns),
            "insert_values": ", ".join(
                compiler.process(self.source.c[c], **kw) for c in spec.columns
            ),
        }


@compiles(MergeInto)
def _compile_merge(element: MergeInto, compiler: SQLCompiler, **kw: Any) -> str:
    """Standard SQL MERGE (SQL Server's spelling: the condition goes on the WHEN clause)."""
    p = element.parts(compiler, **kw)
    sql = f"MERGE INTO {p['target']} USING {p['source']} ON {p['on']}"
    if p["set"]:
        when = f"WHEN MATCHED AND ({p['update_where']})" if p["update_where"] else "WHEN MATCHED"
        sql += f" {when} THEN UPDATE SET {p['set']}"
    # every part was rendered by the dialect's compiler: quoted identifiers, literal values
    sql += f" WHEN NOT MATCHED THEN INSERT ({p['insert_columns']}) VALUES ({p['insert_values']})"  # noqa: S608
    return sql


@compiles(MergeInto, "oracle")
def _compile_merge_oracle(element: MergeInto, compiler: SQLCompiler, **kw: Any) -> str:
    """Oracle: the ON condition in parentheses, the update condition as a trailing WHERE."""
    p = element.parts(compiler, **kw)
    sql = f"MERGE INTO {p['target']} USING {p['source']} ON ({p['on']})"
    if p["set"]:
        sql += f" WHEN MATCHED THEN UPDATE SET {p['set']}"
        if p["update_where"]:
            sql += f" WHERE ({p['update_where']})"
    # every part was rendered by the dialect's compiler: quoted identifiers, literal values
    sql += f" WHEN NOT MATCHED THEN INSERT ({p['insert_columns']}) VALUES ({p['insert_values']})"  # noqa: S608
    return sql


def unique_key_index(spec: UpsertSpec) -> sa.Index:
    """The unique index on `spec.keys` that a native upsert's conflict target needs.

    Built on a detached copy of the target, so the job client's shared `Table` is not changed.
    """
    target = spec.target
    copy = sa.Table(
        target.name,
        sa.MetaData(),
        *[sa.Column(target.c[k].name, target.c[k].type) for k in spec.keys],
        schema=target.schema,
    )
    return sa.Index(spec.index_name, *[copy.c[target.c[k].name] for k in spec.keys], unique=True)


def on_conflict_upsert(spec: UpsertSpec, insert: Callable[[sa.Table], Any]) -> List[TStatement]:
    """INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE / DO NOTHING, for the dialects that
    spell it so (PostgreSQL, SQLite, DuckDB); `insert` is the dialect's own `insert()`.

    ON CONFLICT needs a unique index on the keys, which dlt's tables have only with
    `create_primary_keys`: it is created here, once per table (IF NOT EXISTS), in the same
    transaction. A target that already holds duplicate keys cannot get it, and the merge fails
    with the database's message naming the duplicated key.
    """
    target, source = spec.target, spec.source
    keys = [target.c[k] for k in spec.keys]
    statements: List[TStatement] = [
        sa.schema.CreateIndex(unique_key_index(spec), if_not_exists=True)
    ]
    # SQLite needs a WHERE in the SELECT to tell ON CONFLICT from a join's ON
    select = sa.select(*[source.c[c] for c in spec.columns]).where(sa.true())
    statement = insert(target).from_select([target.c[c] for c in spec.columns], select)
    if spec.insert_only or not spec.update:
        statements.append(statement.on_conflict_do_nothing(index_elements=keys))
        return statements
    excluded = statement.excluded
    changed = spec.changed(target.c, excluded)
    statements.append(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={target.c[c]: excluded[c] for c in spec.update},
            where=changed,
        )
    )
    return statements


class RowNumber(sa.sql.functions.GenericFunction[int]):
    """`row_number()`, always with its parentheses.

    sqlalchemy-firebird renders SQLAlchemy's own `func.row_number()` as a bare `row_number`,
    which Firebird refuses. A construct of our own, compiled the same on every dialect, fixes
    that for our statements without changing the dialect for other code in the process.
    """

    type = sa.Integer()
    inherit_cache = True
    name = "dlt_sqla_row_number"  # registered under a name of its own, never as `row_number`


@compiles(RowNumber)
def _row_number(element: RowNumber, compiler: SQLCompiler, **kw: Any) -> str:
    return "row_number()"
