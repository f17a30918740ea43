"""MySQL and MariaDB: schemas are databases, DDL commits implicitly, DATETIME has no zone."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema
from sqlalchemy.dialects import mysql

from dlt_sqlalchemy.dialects.base import DialectCapabilities, StorageColumn, group_storage_columns
from dlt_sqlalchemy.dialects.types import MysqlTypeMapper
from dlt_sqlalchemy.load_paths import ExecutemanyPath, LoadPath

if TYPE_CHECKING:
    from dlt_sqlalchemy.sql_client import SqlalchemySqlClient

# identifiers (tables, columns, schemas) are limited to 64 characters; SQLAlchemy's dialect
# reports 255, the limit of column labels, which is not what CREATE TABLE enforces
MAX_IDENTIFIER_LENGTH = 64


class MysqlCapabilities(DialectCapabilities):
    drop_schema_cascade = False  # DROP SCHEMA drops the whole database; no CASCADE keyword

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
        # dlt's generic merge SQL (DELETE with a table alias, tz-suffixed literals) does not run
        # on MySQL; until our native merge lands, dlt refuses merge here up front, with a clear
        # message, instead of failing half-way through a load
        caps.supported_merge_strategies = []

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return MysqlTypeMapper

    def load_paths(self) -> Sequence[LoadPath]:
        """LOAD DATA LOCAL INFILE where server and client allow it, else `executemany` (which
        mysqlclient and PyMySQL send as multi-row INSERTs)."""
        from dlt_sqlalchemy.paths.mysql import MysqlLoadDataPath

        return (MysqlLoadDataPath(), ExecutemanyPath())

    def on_connect(self, client: SqlalchemySqlClient, connection: sa.Connection) -> None:
        # outside strict mode MySQL truncates an over-long value with a warning and loads it;
        # a value the column cannot hold must fail the load instead
        connection.exec_driver_sql(
            "SET SESSION sql_mode = IF(FIND_IN_SET('STRICT_ALL_TABLES', @@SESSION.sql_mode) > 0,"
            " @@SESSION.sql_mode,"
            " CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES'))"
        )

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
