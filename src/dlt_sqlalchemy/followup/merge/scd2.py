"""`scd2`: keep the history of a table; each version of a record is a row with a validity range.

Staged rows are compared with the active destination rows by their row version (a content hash,
`_dlt_id` by default): active rows whose version was not staged are retired (their "valid to" set
to the boundary timestamp) - in the whole table, or only in the partitions named by the merge key
or the destination scope - and staged versions not yet active are inserted, valid from the
boundary. Nested tables are insert-only, by their row key.

Timestamps are literals of the validity columns' own types, rendered per dialect by SQLAlchemy
(and by `DialectCapabilities.timestamp_literal` where that is not enough, Oracle), never by string
formatting. The statements are idempotent: run twice, the second run finds nothing to retire and
nothing new to insert.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from dlt.common.schema.typing import TTableSchema
from dlt.common.schema.utils import (
    get_active_record_timestamp,
    get_first_column_name_with_prop,
    get_validity_column_names,
)
from dlt.common.storages.load_package import load_package_state

from dlt_sqlalchemy.followup.job import table_name
from dlt_sqlalchemy.followup.merge.chain import MergeChain
from dlt_sqlalchemy.followup.merge.constructs import TCondition, TStatement


def scd2_statements(chain: MergeChain) -> List[TStatement]:
    root_schema = chain.root
    from_name, to_name = get_validity_column_names(root_schema)
    version_name = get_first_column_name_with_prop(root_schema, "x-row-version")
    if from_name is None or to_name is None or version_name is None:
        raise chain.error(
            f"Table `{root_schema['name']}` lacks the validity or row version columns of the"
            " `scd2` merge strategy."
        )
    root = chain.target(root_schema)
    staged_root = chain.staged(root_schema)
    valid_from, valid_to, version = (chain.key(n) for n in (from_name, to_name, version_name))

    boundary_value = root_schema.get("x-boundary-timestamp")
    if boundary_value is None:
        boundary_value = load_package_state()["state"]["created_at"]
    from_boundary = chain.timestamp(boundary_value, root.c[valid_from], _tz_aware(chain, from_name))
    to_boundary = chain.timestamp(boundary_value, root.c[valid_to], _tz_aware(chain, to_name))
    active_timestamp = get_active_record_timestamp(root_schema)
    active_value: sa.ColumnElement[Any]
    is_active: sa.ColumnElement[bool]
    if active_timestamp is None:
        active_value = sa.null()
        is_active = root.c[valid_to].is_(None)
    else:
        active_value = chain.timestamp(
            active_timestamp, root.c[valid_to], _tz_aware(chain, to_name)
        )
        is_active = root.c[valid_to] == active_value

    statements: List[TStatement] = []
    # retire active versions that were not staged again, within the merge's partitions
    staged = staged_root.alias("s")
    retire: List[TCondition] = [
        is_active,
        chain.matched(
            [(root.c[version], staged.c[version])], where=chain.filter_clause(), negate=True
        ),
    ]
    if chain.destination_scope is not None:
        retire.append(chain.scope_clause())
    elif chain.merge_keys:
        partition = staged_root.alias("m")
        pairs = [(root.c[k], partition.c[k]) for k in chain.keys(chain.merge_keys)]
        retire.append(chain.matched(pairs, where=chain.filter_clause()))
    statements.append(sa.update(root).values({root.c[valid_to]: to_boundary}).where(*retire))

    # insert staged versions that are not active yet (one row per version)
    rows = chain.staged_rows(root_schema, "s", dedup_by=[version_name], where=chain.filter_clause())
    active = root.alias("d")
    active_cond = (
        active.c[valid_to].is_(None)
        if active_timestamp is None
        else active.c[valid_to] == active_value
    )
    columns = [c for c in chain.column_keys(root) if c not in (valid_from, valid_to)]
    statements.append(
        sa.insert(root).from_select(
            [*[root.c[c] for c in columns], root.c[valid_from], root.c[valid_to]],
            sa.select(
                *[rows.c[c] for c in columns],
                from_boundary.label(valid_from),
                active_value.label(valid_to),
            ).where(
                chain.matched(
                    [(rows.c[version], active.c[version])],
                    [active_cond],
                    negate=True,
                    indexed=chain.destination_indexed,
                )
            ),
        )
    )

    if chain.nested:
        statements.extend(_nested_statements(chain, version_name))
    return statements


def _nested_statements(chain: MergeChain, version_name: str) -> List[TStatement]:
    """Insert-only by row key. With a `source_filter`, only rows below filtered root rows: found
    through the root key, or level by level through the parent key where there is none."""
    root_schema = chain.root
    # with a user row version, `_dlt_id` keeps its row key role; else the version is the row key
    root_row_key = get_first_column_name_with_prop(root_schema, "row_key") or version_name
    selected: Dict[str, Optional[sa.ColumnElement[bool]]] = {}
    if chain.source_filter:
        staged_root = chain.staged(root_schema)
        selected[table_name(root_schema)] = sa.and_(*chain.filter_clause())
        filtered_roots = sa.select(staged_root.c[chain.key(root_row_key)]).where(
            *chain.filter_clause()
        )
    statements: List[TStatement] = []
    for table in chain.nested:
        target = chain.target(table)
        staged = chain.staged(table)
        row_key = chain.key(chain.row_key(table))
        where: List[sa.ColumnElement[bool]] = [
            chain.matched(
                [(staged.c[row_key], target.c[row_key])],
                negate=True,
                indexed=chain.destination_indexed,
            )
        ]
        if chain.source_filter:
            condition = _below_selected(
                chain, table, staged, root_row_key, filtered_roots, selected
            )
            selected[table_name(table)] = condition
            where.append(condition)
        rows = chain.staged_rows(table, "n", dedup_by=[chain.row_key(table)], where=where)
        columns = chain.column_keys(target)
        statements.append(
            sa.insert(target).from_select(
                [target.c[c] for c in columns], sa.select(*[rows.c[c] for c in columns])
            )
        )
    return statements


def _below_selected(
    chain: MergeChain,
    table: TTableSchema,
    staged: sa.Table,
    root_row_key: str,
    filtered_roots: sa.Select[Any],
    selected: Dict[str, Optional[sa.ColumnElement[bool]]],
) -> sa.ColumnElement[bool]:
    root_key = get_first_column_name_with_prop(table, "root_key")
    if root_key is not None:
        return chain.among(staged.c[chain.key(root_key)], filtered_roots)
    parent_key = get_first_column_name_with_prop(table, "parent_key")
    parent = next(t for t in chain.tables if t["name"] == table.get("parent"))
    if parent_key is None:
        raise chain.error(f"Nested table `{table['name']}` has neither a root nor a parent key.")
    parent_staged = chain.staged(parent)
    parent_row_key = root_row_key if parent is chain.root else chain.row_key(parent)
    parents = sa.select(parent_staged.c[chain.key(parent_row_key)]).where(
        *[c for c in (selected[table_name(parent)],) if c is not None]
    )
    return chain.among(staged.c[chain.key(parent_key)], parents)


def _tz_aware(chain: MergeChain, column: str) -> bool:
    return chain.root["columns"][column].get("timezone", True) is not False
