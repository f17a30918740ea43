"""What every merge strategy needs to know about one table chain, computed in one place.

Tables come from the job client as typed SQLAlchemy tables (the same ones DDL and inserts use), so
literal values in the generated SQL - booleans of a `hard_delete` column, scd2 validity timestamps
- are rendered by the column's own type exactly as an insert would have bound them.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, cast

import sqlalchemy as sa
from dlt.common.destination.client import PreparedTableSchema
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.schema.typing import TTableSchema
from dlt.common.schema.utils import (
    get_columns_names_with_prop,
    get_dedup_sort_tuple,
    get_first_column_name_with_prop,
)
from dlt.common.time import ensure_datetime_in_tz
from dlt.destinations.exceptions import MergeDispositionException

from dlt_sqlalchemy.followup.job import render, table_name
from dlt_sqlalchemy.followup.merge.constructs import RowNumber, TCondition, TStatement

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_host import JobHost

DEDUP_RN = "_dlt_dedup_rn"
"""Label of the ROW_NUMBER() column that picks one staged row per key."""


class MergeChain:
    """A root table and its nested tables, with their hints, as one merge sees them."""

    def __init__(self, table_chain: Sequence[PreparedTableSchema], job_client: JobHost) -> None:
        # dlt's schema helpers are typed for `TTableSchema`, of which these are refinements
        self.tables: List[TTableSchema] = [cast(TTableSchema, t) for t in table_chain]
        self.root = self.tables[0]
        self.nested = self.tables[1:]
        self.job_client = job_client
        self.sql_client = job_client.sql_client
        self.dialect_caps = job_client.dialect_caps
        self.dataset = self.sql_client.home_dataset_name
        self.staging_dataset = self.sql_client.staging_dataset_name

        root = self.root
        self.primary_keys = get_columns_names_with_prop(root, "primary_key")
        self.merge_keys = get_columns_names_with_prop(root, "merge_key")
        self.hard_delete = get_first_column_name_with_prop(root, "hard_delete")
        self.dedup_sort = get_dedup_sort_tuple(root)
        self.skip_dedup = bool(root.get("x-stage-data-deduplicated", False))
        filter_ = cast(Optional[str], root.get("x-merge-source-filter"))
        # dlt stores the hint with `{{`/`}}` escapes for literal braces
        self.source_filter = filter_.format() if filter_ else None
        scope = cast(Optional[str], root.get("x-merge-destination-scope"))
        self.destination_scope: Optional[str] = None
        if scope:
            table, staging_table = self.sql_client.get_qualified_table_names(table_name(root))
            self.destination_scope = scope.format(table=table, staging_table=staging_table)

    # --- tables and columns -------------------------------------------------------------------

    def target(self, table: TTableSchema) -> sa.Table:
        return self.job_client.sa_table(table_name(table), dataset_name=self.dataset)

    def staged(self, table: TTableSchema) -> sa.Table:
        return self.job_client.sa_table(table_name(table), dataset_name=self.staging_dataset)

    def key(self, name: str) -> str:
        """The column key of dlt column `name` in the tables built by the job client."""
        return self.sql_client.quoted(name)

    def keys(self, names: Sequence[str]) -> List[str]:
        return [self.key(n) for n in names]

    @staticmethod
    def column_keys(table: sa.Table) -> List[str]:
        return [c.key for c in table.columns]

    def row_key(self, table: TTableSchema) -> str:
        """The column that identifies a row of `table` (`_dlt_id`): row key, else unique, else a
        single primary key column."""
        for prop in ("row_key", "unique"):
            name = get_first_column_name_with_prop(table, prop)
            if name is not None:
                return name
        primary_keys = get_columns_names_with_prop(table, "primary_key")
        if len(primary_keys) == 1:
            return primary_keys[0]
        raise self.error(
            f"Table `{table['name']}` has no `row_key`, `unique` or single primary key column"
            " (such as `_dlt_id`) to identify its rows."
        )

    def has_row_key(self, table: TTableSchema) -> bool:
        try:
            self.row_key(table)
        except MergeDispositionException:
            return False
        return True

    def root_key(self, table: TTableSchema) -> str:
        """The column of a nested table that points at its root row (`_dlt_root_id`); the parent
        key serves on the first nesting level."""
        name = get_first_column_name_with_prop(table, "root_key")
        if name is None and table.get("parent") == self.root["name"]:
            name = get_first_column_name_with_prop(table, "parent_key")
        if name is None:
            raise self.error(
                f"Nested table `{table['name']}` has no `root_key` column (such as"
                " `_dlt_root_id`) to find the rows of a merged root row."
            )
        return name

    def error(self, reason: str) -> MergeDispositionException:
        return MergeDispositionException(
            self.sql_client.fully_qualified_dataset_name(),
            self.sql_client.fully_qualified_dataset_name(staging=True),
            [table_name(t) for t in self.tables],
            reason,
        )

    # --- conditions ---------------------------------------------------------------------------

    def matched(
        self,
        pairs: Sequence[Tuple[Any, Any]],
        where: Sequence[TCondition] = (),
        negate: bool = False,
        indexed: bool = False,
    ) -> sa.ColumnElement[bool]:
        """Whether a row of the inner side has the outer row's values: `pairs` of (outer column,
        inner column), the inner columns of one FROM filtered by `where`.

        A correlated [NOT] EXISTS, or, where the dialect prefers it
        (`DialectCapabilities.prefers_in_subqueries`), an uncorrelated [NOT] IN that its
        optimizer evaluates once instead of once per outer row, or a correlated [NOT] EXISTS
        over a derived table of the distinct inner keys
        (`DialectCapabilities.keys_through_derived_tables`), unless the inner columns are
        `indexed` (a destination table with `create_merge_indexes`): then a plain correlated
        EXISTS looks each row up in the index, where a derived table would first copy every
        key of the table.
        """
        outer = [o for o, _ in pairs]
        inner = [i for _, i in pairs]
        test: sa.ColumnElement[bool]
        caps = self.dialect_caps
        # SQLite scans the whole list for every row of a row-value NOT IN (`(a, b) NOT IN
        # (SELECT ...)`: 100k rows against 10k keys took 30 s); over a derived table of the keys
        # it builds an automatic index instead
        in_list = caps.prefers_in_subqueries and (len(outer) == 1 or not negate)
        if in_list:
            values = sa.select(*inner).where(*where).distinct().correlate(None)
            test = (outer[0] if len(outer) == 1 else sa.tuple_(*outer)).in_(values)
        elif (caps.keys_through_derived_tables and not indexed) or caps.prefers_in_subqueries:
            keys = (
                sa.select(*[c.label(f"k{n}") for n, c in enumerate(inner)])
                .where(*where)
                .distinct()
                .subquery("keys")
            )
            test = sa.exists().where(*[o == keys.c[f"k{n}"] for n, o in enumerate(outer)])
        else:
            test = sa.exists().where(*[o == i for o, i in pairs], *where)
        return ~test if negate else test

    def among(
        self, column: sa.ColumnElement[Any], values: sa.Select[Any]
    ) -> sa.ColumnElement[bool]:
        """`column IN (values)`, with `values` (one column) read from a derived table of its
        distinct values where the dialect says so (`keys_through_derived_tables`)."""
        if not self.dialect_caps.keys_through_derived_tables:
            return column.in_(values)
        keys = values.distinct().subquery("keys")
        return column.in_(sa.select(*keys.c).select_from(keys))

    @property
    def destination_indexed(self) -> bool:
        """Whether the destination tables carry the indexes of `create_merge_indexes` (the
        strategies' lookup columns: see `SqlalchemyJobClient._merge_indexes`)."""
        return bool(
            self.job_client.config.create_merge_indexes and self.dialect_caps.supports_indexes
        )

    def filter_clause(self) -> List[TCondition]:
        """The `source_filter`, as a condition on staged columns named without a qualifier."""
        return [sa.text(f"({self.source_filter})")] if self.source_filter else []

    def scope_clause(self) -> sa.TextClause:
        assert self.destination_scope is not None
        return sa.text(f"({self.destination_scope})")

    def is_deleted(self, columns: Any) -> sa.ColumnElement[bool]:
        """True for a row marked deleted by the `hard_delete` column (a true flag, or any value
        in a non-boolean column)."""
        assert self.hard_delete is not None
        column = columns[self.key(self.hard_delete)]
        if self.root["columns"][self.hard_delete].get("data_type") == "bool":
            return cast(sa.ColumnElement[bool], column == sa.true())
        return cast(sa.ColumnElement[bool], column.is_not(None))

    def is_kept(self, columns: Any) -> List[sa.ColumnElement[bool]]:
        """Conditions that hold for rows not marked deleted (none without a `hard_delete`)."""
        if self.hard_delete is None:
            return []
        column = columns[self.key(self.hard_delete)]
        if self.root["columns"][self.hard_delete].get("data_type") == "bool":
            return [sa.or_(column.is_(None), column == sa.false())]
        return [column.is_(None)]

    # --- staged rows --------------------------------------------------------------------------

    def staged_rows(
        self,
        table: TTableSchema,
        name: str,
        dedup_by: Sequence[str] = (),
        where: Sequence[TCondition] = (),
        sort: Optional[Tuple[str, str]] = None,
    ) -> sa.Subquery:
        """The staged rows of `table` passing `where`, one per `dedup_by` key unless the data is
        declared deduplicated.

        `sort` picks the row kept per key (`dedup_sort`: the first in that order); without it the
        pick is arbitrary, as dlt defines. Filtering comes before deduplication: `source_filter`
        discards loaded rows, and the merge then sees only the rest.
        """
        staged = self.staged(table)
        columns = list(staged.columns)
        if not dedup_by or self.skip_dedup:
            return sa.select(*columns).where(*where).subquery(name)
        partition = [staged.c[self.key(k)] for k in dedup_by]
        order: List[Any] = list(partition)
        if sort is not None:
            sort_column = staged.c[self.key(sort[0])]
            order = [sort_column.desc() if sort[1] == "desc" else sort_column.asc()]
        numbered = (
            sa.select(
                *columns,
                RowNumber().over(partition_by=partition, order_by=order).label(DEDUP_RN),
            )
            .where(*where)
            .subquery(f"{name}_numbered")
        )
        return (
            sa.select(*[numbered.c[c.key] for c in columns])
            .where(numbered.c[DEDUP_RN] == 1)
            .subquery(name)
        )

    def root_rows(self, name: str = "s", filtered: bool = True) -> sa.Subquery:
        """The merge source of the root table: filtered staged rows, one per primary key (the one
        `dedup_sort` picks), deleted ones included, so the latest version of a key decides."""
        return self.staged_rows(
            self.root,
            name,
            dedup_by=self.primary_keys,
            where=self.filter_clause() if filtered else (),
            sort=self.dedup_sort,
        )

    # --- values ---------------------------------------------------------------------------------

    def timestamp(
        self, value: Any, column: sa.Column[Any], tz_aware: bool
    ) -> sa.ColumnElement[Any]:
        """`value` as a literal of `column`'s type: UTC, and naive where the column is naive."""
        moment = ensure_datetime_in_tz(value, datetime.timezone.utc)
        if not tz_aware:
            moment = moment.replace(tzinfo=None)
        return self.dialect_caps.timestamp_literal(moment, column)

    def index_name(self, table: sa.Table, suffix: str) -> str:
        """A deterministic index name for `table`, shortened to the identifier limit."""
        name = f"{table.name}{suffix}"
        limit = self.sql_client.capabilities.max_identifier_length
        return NamingConvention.shorten_identifier(name, name, limit)

    # --- rendering ------------------------------------------------------------------------------

    def render(self, statements: Sequence[TStatement]) -> List[str]:
        """SQL text of `statements` for the dialect, literal values inlined."""
        return render(self.sql_client, statements)
