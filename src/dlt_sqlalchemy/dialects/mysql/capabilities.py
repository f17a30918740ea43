"""MySQL and MariaDB: schemas are databases, DDL commits implicitly, DATETIME has no zone."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema
from dlt.common.normalizers.naming import NamingConvention
from sqlalchemy.dialects import mysql

from dlt_sqlalchemy.dialects.base import (
    DialectCapabilities,
    DialectSqlClient,
    StorageColumn,
    group_storage_columns,
)
from dlt_sqlalchemy.dialects.mysql.types import MysqlTypeMapper
from dlt_sqlalchemy.exceptions import PrimaryKeyRequired
from dlt_sqlalchemy.followup.guards import Guarded, IndexMissing, TablesExist
from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec, unique_key_index
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath

if TYPE_CHECKING:
    from dlt_sqlalchemy.reads.readers import ArrowReader

# identifiers (tables, columns, schemas) are limited to 64 characters; SQLAlchemy's dialect
# reports 255, the limit of column labels, which is not what CREATE TABLE enforces
MAX_IDENTIFIER_LENGTH = 64


class MysqlCapabilities(DialectCapabilities):
    creates_if_not_exists = True
    deletes_through_joins = True
    keys_through_derived_tables = True

    drop_schema_cascade = False  # DROP SCHEMA drops the whole database; no CASCADE keyword

    def unindexed_merges_hold_up_others(self, connection: sa.Connection) -> bool:
        return is_galera(server_settings(connection))

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.max_identifier_length = MAX_IDENTIFIER_LENGTH
        caps.max_column_identifier_length = MAX_IDENTIFIER_LENGTH
        # every DDL statement commits the open transaction
        caps.supports_ddl_transactions = False
        caps.enforces_nulls_on_alter = False
        caps.wei_precision = (65, 0)  # DECIMAL holds at most 65 digits
        caps.supports_tz_aware_datetime = True  # stored as UTC DATETIME, read back aware

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return MysqlTypeMapper

    def arrow_readers(self) -> Sequence[ArrowReader]:
        """mysqlclient's unbuffered cursor with text values parsed by Arrow, else DB-API
        batches from an unbuffered cursor (PyMySQL and others)."""
        from dlt_sqlalchemy.dialects.mysql.reads import MysqlclientArrowReader
        from dlt_sqlalchemy.reads.readers import DbApiArrowReader

        return (MysqlclientArrowReader(), DbApiArrowReader())

    def load_paths(self) -> Sequence[LoadPath]:
        """LOAD DATA LOCAL INFILE where server and client allow it, else multi-row INSERTs
        rendered by Arrow, else `executemany`."""
        from dlt_sqlalchemy.dialects.mysql.paths import MysqlInsertValuesPath, MysqlLoadDataPath

        return (MysqlLoadDataPath(), MysqlInsertValuesPath(), ExecutemanyPath())

    def on_connect(self, client: DialectSqlClient, connection: sa.Connection) -> None:
        # outside strict mode MySQL truncates an over-long value with a warning and loads it;
        # a value the column cannot hold must fail the load instead
        connection.exec_driver_sql(
            "SET SESSION sql_mode = IF(FIND_IN_SET('STRICT_ALL_TABLES', @@SESSION.sql_mode) > 0,"
            " @@SESSION.sql_mode,"
            " CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES'))"
        )
        server_settings(connection)

    def table_to_create(
        self,
        client: DialectSqlClient,
        table: sa.Table,
        table_schema: PreparedTableSchema,
        dlt_table: bool = False,
    ) -> sa.Table:
        """dlt's own tables get a hidden auto-increment key where the server requires a primary
        key on every table; a user table without one is refused before any DDL runs. On a
        Galera node every table is InnoDB: the cluster replicates no other engine, so with
        another default engine the rows would stay on one node while the load reports success.
        """
        connection = client.native_connection
        if connection is None:
            return table
        settings = server_settings(connection)
        requirement = primary_key_requirement(settings)
        needs_key = requirement is not None and not table.primary_key.columns
        if needs_key and not dlt_table:
            nested = bool(table_schema.get("parent"))
            raise PrimaryKeyRequired(str(table_schema["name"]), requirement or "", nested)
        galera = is_galera(settings)
        if not (needs_key or galera):
            return table
        table = table.to_metadata(sa.MetaData())  # the loaded table stays as it is
        if needs_key:
            # dlt inserts and reads these tables by column name: an extra column it never
            # names, filled by the server, keeps them readable to dlt and to other loaders
            table.append_column(
                sa.Column(ROW_KEY_COLUMN, sa.BigInteger(), primary_key=True, autoincrement=True)
            )
        if galera:
            table.dialect_kwargs["mysql_engine"] = "InnoDB"
        return table

    def adapt_table(self, table: sa.Table, table_schema: PreparedTableSchema) -> sa.Table:
        # MySQL has no unbounded VARCHAR; a mapper's plain `String()` (a user's, say) means text
        for column in table.columns:
            column.type = _bounded(column.type)
        return table

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        columns = sa.table(
            "columns",
            *(
                sa.column(name)
                for name in (
                    "table_schema",
                    "table_name",
                    "column_name",
                    "column_type",
                    "is_nullable",
                    "numeric_precision",
                    "numeric_scale",
                    "ordinal_position",
                )
            ),
            schema="information_schema",
        )
        # COLUMN_TYPE keeps the display width that tells BOOL (tinyint(1)) from TINYINT
        db_type: sa.ColumnElement[Any] = columns.c.column_type
        if getattr(connection.dialect, "is_mariadb", False):
            db_type = sa.case((_is_mariadb_json(columns), "json"), else_=db_type)
        query = (
            sa.select(
                columns.c.table_name,
                columns.c.column_name,
                db_type,
                columns.c.is_nullable,
                columns.c.numeric_precision,
                columns.c.numeric_scale,
            )
            .where(columns.c.table_schema == dataset_name)
            .where(columns.c.table_name.in_(list(table_names)))
            .order_by(columns.c.table_name, columns.c.ordinal_position)
        )
        rows = connection.execute(query)
        return group_storage_columns(
            (t, c, "boolean" if str(ty).lower() == "tinyint(1)" else ty, n, p, s)
            for t, c, ty, n, p, s in rows
        )

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        """INSERT ... SELECT ... ON DUPLICATE KEY UPDATE, on a unique index over the keys.

        The index is made the first time (MySQL's CREATE INDEX commits on its own, so that one
        run is not one transaction); later runs find it and stay pure DML. An insert-only upsert
        "updates" a key to itself: unlike INSERT IGNORE, that turns no other error into a
        warning.
        """
        statements: List[TStatement] = []
        if not _has_unique_key(client, spec):
            # MySQL 8 has no CREATE INDEX IF NOT EXISTS: the guard keeps a re-run harmless
            create = sa.schema.CreateIndex(unique_key_index(spec))
            located = (spec.target.schema, spec.target.name)
            statements.append(Guarded(create, IndexMissing(located, spec.index_name)))
        target, source = spec.target, spec.source
        insert = mysql.insert(target).from_select(
            [target.c[c] for c in spec.columns],
            sa.select(*[source.c[c] for c in spec.columns]),
        )
        if spec.insert_only or not spec.update:
            key = target.c[spec.keys[0]]
            statements.append(insert.on_duplicate_key_update([(key.key, key)]))
            return statements
        new = insert.inserted
        changed = spec.changed(target.c, new)
        assignments: List[Tuple[str, Any]] = []
        for name in spec.update:
            value: Any = new[name]
            if changed is not None and name not in spec.compare:
                # evaluated before any compared column is assigned (they come last), so the
                # condition still sees the old row
                value = sa.case((changed, value), else_=target.c[name])
            assignments.append((name, value))
        statements.append(insert.on_duplicate_key_update(assignments))
        return statements

    def swap_tables(
        self, client: DialectSqlClient, pairs: Sequence[Tuple[sa.Table, sa.Table]]
    ) -> Optional[List[TStatement]]:
        """One RENAME TABLE moves every destination table aside and every staged table into its
        place: atomic across all tables of the chain, across databases too. The old tables are
        dropped after; a leftover of an interrupted run is dropped first."""
        preparer = self.dialect_for_ddl(pairs[0][0]).identifier_preparer
        old_tables = []
        renames = []
        for target, staged in pairs:
            name = f"{staged.name}__dlt_old"
            name = NamingConvention.shorten_identifier(name, name, MAX_IDENTIFIER_LENGTH)
            old = sa.Table(name, sa.MetaData(), schema=staged.schema)
            old_tables.append(old)
            renames.append(f"{preparer.format_table(target)} TO {preparer.format_table(old)}")
            renames.append(f"{preparer.format_table(staged)} TO {preparer.format_table(target)}")
        drop_old: List[TStatement] = [sa.schema.DropTable(t, if_exists=True) for t in old_tables]
        # run again after it committed, the RENAME is skipped (its staged tables are gone), while
        # the DROPs still clear away old tables an interrupted run left behind
        staged_tables = TablesExist(tuple((staged.schema, staged.name) for _, staged in pairs))
        rename = Guarded(f"RENAME TABLE {', '.join(renames)}", staged_tables)
        return [*drop_old, rename, *drop_old]

    def has_index(
        self, connection: sa.Connection, schema: Optional[str], table_name: str, index_name: str
    ) -> bool:
        statistics = _statistics()
        query = sa.select(sa.func.count()).where(
            statistics.c.table_schema == (schema or sa.func.database()),
            statistics.c.table_name == table_name,
            statistics.c.index_name == index_name,
        )
        return bool(connection.execute(query).scalar())


# the hidden primary key of dlt's own tables where the server requires one on every table
ROW_KEY_COLUMN = "_dlt_sqla_row"
_SETTINGS_KEY = "dlt_sqlalchemy_mysql_settings"
_SETTINGS = ("wsrep_on", "wsrep_mode", "sql_require_primary_key")


def server_settings(connection: sa.Connection) -> Dict[str, str]:
    """The server variables that change how tables must be made, read once per DBAPI connection
    (kept in its `info`). SHOW VARIABLES lists only what the server has: MySQL has no wsrep_*,
    MariaDB no sql_require_primary_key, and neither is an error."""
    info = connection.info
    settings: Optional[Dict[str, str]] = info.get(_SETTINGS_KEY)
    if settings is None:
        variables = sa.text("SHOW VARIABLES WHERE Variable_name IN :names").bindparams(
            sa.bindparam("names", list(_SETTINGS), expanding=True)
        )
        rows = connection.execute(variables).fetchall()
        settings = {str(name).lower(): str(value) for name, value in rows}
        info[_SETTINGS_KEY] = settings
    return settings


def primary_key_requirement(settings: Dict[str, str]) -> Optional[str]:
    """The setting by which the server refuses tables without a primary key, or None."""
    modes = {m.strip().upper() for m in settings.get("wsrep_mode", "").split(",")}
    if "REQUIRED_PRIMARY_KEY" in modes and is_galera(settings):
        return "wsrep_mode=REQUIRED_PRIMARY_KEY"
    if settings.get("sql_require_primary_key", "").upper() in ("ON", "1"):
        return "sql_require_primary_key=ON"
    return None


def is_galera(settings: Dict[str, str]) -> bool:
    """Whether the server is a node of a Galera cluster (replicating: `wsrep_on`)."""
    return settings.get("wsrep_on", "").upper() in ("ON", "1")


def _has_unique_key(client: DialectSqlClient, spec: UpsertSpec) -> bool:
    """Whether a unique index (or the primary key) of the target covers exactly the keys."""
    statistics = _statistics()
    query = sa.select(statistics.c.index_name, statistics.c.column_name).where(
        # an unqualified table (datasets are not schemas) is in the connection's database
        statistics.c.table_schema
        == (sa.func.database() if spec.target.schema is None else str(spec.target.schema)),
        statistics.c.table_name == str(spec.target.name),
        statistics.c.non_unique == 0,
    )
    with client:
        rows = client.execute_sql(query) or []
    indexes: Dict[str, Set[str]] = {}
    for index, column in rows:
        indexes.setdefault(str(index), set()).add(str(column).lower())
    keys = {str(spec.target.c[k].name).lower() for k in spec.keys}
    return keys in indexes.values()


def _is_mariadb_json(columns: sa.TableClause) -> sa.ColumnElement[bool]:
    """MariaDB's JSON is LONGTEXT plus a column CHECK `json_valid(`name`)`; only the check tells.

    (MySQL has a real JSON type and reports it in COLUMN_TYPE.)
    """
    checks = sa.table(
        "check_constraints",
        sa.column("constraint_schema"),
        sa.column("table_name"),
        sa.column("constraint_name"),
        sa.column("level"),
        sa.column("check_clause"),
        schema="information_schema",
    )
    quoted_name = sa.func.replace(columns.c.column_name, "`", "``")
    return sa.exists().where(
        checks.c.constraint_schema == columns.c.table_schema,
        checks.c.table_name == columns.c.table_name,
        checks.c.constraint_name == columns.c.column_name,
        checks.c.level == "Column",
        checks.c.check_clause == sa.func.concat("json_valid(`", quoted_name, "`)"),
    )


def _bounded(type_: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    inner = type_.impl_instance if isinstance(type_, sa.types.TypeDecorator) else type_
    unbounded = (
        isinstance(inner, sa.String)
        and not isinstance(inner, (sa.Text, sa.Enum))
        and inner.length is None
    )
    if not unbounded:
        return type_
    if isinstance(type_, sa.types.TypeDecorator):
        # keep the decorator's own processing, give it a storable base type
        adapted = copy.copy(type_)
        adapted.impl = mysql.LONGTEXT()
        adapted.__dict__.pop("impl_instance", None)  # memoized from the old impl
        return adapted
    return mysql.LONGTEXT()


def _statistics() -> sa.TableClause:
    """MySQL's `information_schema.statistics`: one row per column of each index."""
    return sa.table(
        "statistics",
        *(
            sa.column(name)
            for name in ("table_schema", "table_name", "index_name", "column_name", "non_unique")
        ),
        schema="information_schema",
    )
