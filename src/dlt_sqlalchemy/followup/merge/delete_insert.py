"""`delete-insert`: delete the destination rows the staged rows replace, then insert them.

Differences from dlt's generic SQL, all deliberate:

* the primary key and the merge key delete in separate statements instead of one condition
  joined by OR, which defeats indexes on most databases;
* nested rows are found through the root rows that are about to go (a subquery), so no helper
  table is created - and none is left behind; where the dialect says so
  (`DialectCapabilities.deletes_through_joins`), both deletes join the distinct staged keys
  instead of testing a correlated EXISTS per destination row;
* the statements are idempotent: running them again after a crash, or twice, gives the same
  tables. Without keys (append fallback) or with a `destination_scope`, rows of an earlier attempt
  of the same load are recognized by their row key, which comes from the staged rows.
"""

from __future__ import annotations

from typing import List, Sequence

import sqlalchemy as sa

from dlt_sqlalchemy.followup.merge.chain import MergeChain
from dlt_sqlalchemy.followup.merge.constructs import TCondition, TStatement


def delete_insert_statements(chain: MergeChain) -> List[TStatement]:
    statements: List[TStatement] = []
    root = chain.target(chain.root)
    staged_root = chain.staged(chain.root)
    key_sets = [keys for keys in (chain.primary_keys, chain.merge_keys) if keys]
    row_key = chain.key(chain.row_key(chain.root)) if chain.nested else None

    if chain.destination_scope is not None:
        # the scope alone selects the rows to replace, so the database can prune partitions
        statements.extend(delete_with_nested(chain, root, chain.scope_clause()))
    elif chain.dialect_caps.deletes_through_joins:
        for keys in key_sets:
            statements.extend(delete_joined_with_nested(chain, root, keys))
    else:
        for keys in key_sets:
            staged = staged_root.alias("s")
            pairs = [(root.c[k], staged.c[k]) for k in chain.keys(keys)]
            matched = chain.matched(pairs, where=chain.filter_clause())
            statements.extend(delete_with_nested(chain, root, matched))
    if chain.destination_scope is not None or not key_sets:
        # nothing keyed deletes the rows a previous attempt of this load inserted: their row keys
        # are the staged ones (random per load), so they go by those
        statements.extend(_delete_previous_attempt(chain, root, staged_root))

    source = chain.root_rows("s")
    kept = chain.is_kept(source.c)
    columns = chain.column_keys(root)
    statements.append(
        sa.insert(root).from_select(
            [root.c[c] for c in columns], sa.select(*[source.c[c] for c in columns]).where(*kept)
        )
    )
    if not chain.nested:
        return statements

    assert row_key is not None
    # nested rows follow the root rows that were inserted: filtered, deduplicated, not deleted
    needs_root_filter = bool(chain.primary_keys or chain.hard_delete or chain.source_filter)
    inserted_roots = sa.select(source.c[row_key]).where(*kept)
    for table in chain.nested:
        target = chain.target(table)
        where = []
        if needs_root_filter:
            root_key = chain.staged(table).c[chain.key(chain.root_key(table))]
            where.append(chain.among(root_key, inserted_roots))
        rows = chain.staged_rows(table, "n", dedup_by=[chain.row_key(table)], where=where)
        columns = chain.column_keys(target)
        statements.append(
            sa.insert(target).from_select(
                [target.c[c] for c in columns], sa.select(*[rows.c[c] for c in columns])
            )
        )
    return statements


def delete_with_nested(
    chain: MergeChain, root: sa.Table, condition: TCondition
) -> List[TStatement]:
    """Deletes the root rows matching `condition` and, first, their nested rows."""
    statements: List[TStatement] = []
    if chain.nested:
        row_key = root.c[chain.key(chain.row_key(chain.root))]
        doomed = sa.select(row_key).where(condition)
        for table in chain.nested:
            target = chain.target(table)
            root_key = target.c[chain.key(chain.root_key(table))]
            statements.append(sa.delete(target).where(chain.among(root_key, doomed)))
    statements.append(sa.delete(root).where(condition))
    return statements


def delete_joined_with_nested(
    chain: MergeChain, root: sa.Table, keys: Sequence[str]
) -> List[TStatement]:
    """`delete_with_nested` for the root rows whose `keys` a staged row has, as deletes that
    join the distinct staged keys (`DELETE ... USING`) instead of testing a correlated EXISTS
    per row: MySQL and MariaDB run such a subquery of a DELETE row by row, and the nested
    tables' `IN (rows of the root matching EXISTS)` multiplied that by the root's size."""
    staged = chain.staged(chain.root)
    key_columns = chain.keys(keys)
    staged_keys = (
        sa.select(*[staged.c[k] for k in key_columns])
        .where(*chain.filter_clause())
        .distinct()
        .subquery("staged_keys")
    )
    match = [root.c[k] == staged_keys.c[k] for k in key_columns]
    statements: List[TStatement] = []
    if chain.nested:
        row_key = root.c[chain.key(chain.row_key(chain.root))]
        doomed = (sa.select(row_key).select_from(root.join(staged_keys, sa.and_(*match)))).subquery(
            "doomed"
        )
        for table in chain.nested:
            target = chain.target(table)
            root_key = target.c[chain.key(chain.root_key(table))]
            statements.append(sa.delete(target).where(root_key == doomed.c[row_key.key]))
    statements.append(sa.delete(root).where(*match))
    return statements


def _delete_previous_attempt(
    chain: MergeChain, root: sa.Table, staged_root: sa.Table
) -> List[TStatement]:
    if not chain.has_row_key(chain.root):
        return []  # without row keys an earlier attempt cannot be told apart
    row_key_name = chain.row_key(chain.root)
    staged_keys = sa.select(staged_root.c[chain.key(row_key_name)])
    statements: List[TStatement] = []
    for table in chain.nested:
        target = chain.target(table)
        root_key = target.c[chain.key(chain.root_key(table))]
        statements.append(sa.delete(target).where(chain.among(root_key, staged_keys)))
    statements.append(
        sa.delete(root).where(chain.among(root.c[chain.key(row_key_name)], staged_keys))
    )
    return statements
