"""`upsert`, `insert-only` and `cdc`: write staged rows by primary key, in each database's
native form.

The dialect picks the form (`DialectCapabilities.upsert_statements`): INSERT ... ON CONFLICT,
ON DUPLICATE KEY UPDATE, MERGE, or the portable UPDATE-then-INSERT. This module prepares what
they all share: the source rows (filtered, one per key, deleted ones split off), the hard deletes,
and the nested tables, which dlt merges by their row key and cleans of removed list elements.

`cdc` is an upsert that first deletes the destination rows absent from the merge source (a full
snapshot of the rows in scope): in the whole table, in the partitions whose `merge_key` values
were loaded, or within `destination_scope`. Nested rows of the deleted roots go with them.
"""

from __future__ import annotations

from typing import List

import sqlalchemy as sa
from dlt.common.destination.utils import get_merge_compare_columns
from dlt.common.schema.typing import TTableSchema
from dlt.common.schema.utils import get_first_column_name_with_prop

from dlt_sqlalchemy.followup.merge.chain import MergeChain
from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec
from dlt_sqlalchemy.followup.merge.delete_insert import delete_with_nested

UPSERT_INDEX_SUFFIX = "__dlt_upsert_key"


def upsert_statements(
    chain: MergeChain, insert_only: bool = False, delete_absent: bool = False
) -> List[TStatement]:
    strategy = "insert-only" if insert_only else "cdc" if delete_absent else "upsert"
    if not chain.primary_keys:
        raise chain.error(
            f"The `{strategy}` merge strategy needs a primary key on table"
            f" `{chain.root['name']}`: set `primary_key` on the resource."
        )
    statements: List[TStatement] = []
    root = chain.target(chain.root)
    # dlt defines that insert-only ignores `source_filter`
    rows = chain.root_rows("s", filtered=not insert_only)
    kept = chain.is_kept(rows.c)
    root_row_key = chain.key(chain.row_key(chain.root)) if chain.nested else None
    if delete_absent:
        statements.extend(delete_with_nested(chain, root, _absent(chain, root)))

    if chain.nested and not insert_only:
        assert root_row_key is not None
        staged_root = chain.staged(chain.root)
        merged_roots = sa.select(staged_root.c[root_row_key]).where(*chain.filter_clause())
        for table in chain.nested:
            target = chain.target(table)
            staged = chain.staged(table).alias("n")
            row_key = chain.key(chain.row_key(table))
            root_key = target.c[chain.key(chain.root_key(table))]
            if chain.hard_delete is not None:
                deleted_roots = sa.select(rows.c[root_row_key]).where(chain.is_deleted(rows.c))
                statements.append(sa.delete(target).where(chain.among(root_key, deleted_roots)))
            # list elements that are gone: rows of merged parents that were not staged again
            gone = chain.matched([(target.c[row_key], staged.c[row_key])], negate=True)
            statements.append(sa.delete(target).where(chain.among(root_key, merged_roots), gone))

    if chain.hard_delete is not None and not insert_only:
        keys = chain.keys(chain.primary_keys)
        deleted = chain.matched(
            [(root.c[k], rows.c[k]) for k in keys], where=[chain.is_deleted(rows.c)]
        )
        statements.append(sa.delete(root).where(deleted))

    source = sa.select(*rows.c).where(*kept).subquery("src")
    spec = _spec(chain, chain.root, root, source, chain.primary_keys, insert_only)
    statements.extend(chain.dialect_caps.upsert_statements(chain.sql_client, spec))

    for table in chain.nested:
        target = chain.target(table)
        where = []
        if not insert_only and (chain.hard_delete is not None or chain.source_filter):
            assert root_row_key is not None
            root_key = chain.staged(table).c[chain.key(chain.root_key(table))]
            where.append(chain.among(root_key, sa.select(source.c[root_row_key])))
        nested_rows = chain.staged_rows(table, "src", dedup_by=[chain.row_key(table)], where=where)
        statements.extend(
            chain.dialect_caps.upsert_statements(
                chain.sql_client,
                _spec(chain, table, target, nested_rows, [chain.row_key(table)], insert_only),
            )
        )
    return statements


def _absent(chain: MergeChain, root: sa.Table) -> sa.ColumnElement[bool]:
    """Destination rows in scope whose primary key the (filtered) staged rows do not hold.

    Each test is its own correlated EXISTS on the keys, so an index on them can serve it.
    """
    staged = chain.staged(chain.root)

    def loaded(keys: List[str], alias: str, negate: bool = False) -> sa.ColumnElement[bool]:
        rows = staged.alias(alias)
        pairs = [(root.c[k], rows.c[k]) for k in chain.keys(keys)]
        return chain.matched(pairs, where=chain.filter_clause(), negate=negate)

    conditions = [loaded(chain.primary_keys, "s", negate=True)]
    if chain.destination_scope is not None:
        conditions.append(chain.scope_clause())  # type: ignore[arg-type]
    elif chain.merge_keys:
        conditions.append(loaded(chain.merge_keys, "m"))
    return sa.and_(*conditions)


def _spec(
    chain: MergeChain,
    table: TTableSchema,
    target: sa.Table,
    source: sa.Subquery,
    keys: List[str],
    insert_only: bool,
) -> UpsertSpec:
    key_columns = chain.keys(keys)
    columns = chain.column_keys(target)
    compare = [c for c in chain.keys(get_merge_compare_columns(table)) if c in columns]
    by_version = get_first_column_name_with_prop(table, "x-row-version") is not None
    update = [c for c in columns if c not in key_columns]
    # assignments that change detection does not look at go first (see `UpsertSpec.update`)
    update = [c for c in update if c not in compare] + [c for c in update if c in compare]
    return UpsertSpec(
        target=target,
        source=source,
        keys=key_columns,
        columns=columns,
        update=update,
        compare=compare,
        compare_by_version=by_version,
        skip_unchanged=bool(chain.root.get("x-merge-skip-unchanged-rows", False)),
        insert_only=insert_only,
        index_name=chain.index_name(target, UPSERT_INDEX_SUFFIX),
    )
