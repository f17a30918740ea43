"""Oracle: upper-case folding of unquoted names, `ALTER TABLE ... ADD (...)`, versioned limits.

What depends on the server version is decided twice. Before connecting (normalizing, planning)
the dialect object knows no version: identifiers may then be 128 characters long, as on every
supported release (12.2 and later; SQLAlchemy assumes the same), and booleans are NUMBER(1),
which every release stores. After connecting, `refine_capabilities` reads the real version: a
12.1 or older server lowers the identifier limit to 30, so that dlt's schema verification,
which runs next, names every identifier that is too long before any table is touched; a 23ai
server turns on native BOOLEAN columns for the tables created from then on.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.common.destination.typing import PreparedTableSchema

from dlt_sqlalchemy.dialects.base import (
    DialectCapabilities,
    DialectSqlClient,
    StorageColumn,
    group_storage_columns,
)
from dlt_sqlalchemy.dialects.oracle.types import OracleJson, OracleTypeMapper, is_json_check
from dlt_sqlalchemy.followup.merge.constructs import MergeInto, TStatement, UpsertSpec

LONG_IDENTIFIERS_SINCE = (12, 2)
NATIVE_BOOLEAN_SINCE = (23,)
SHORT_IDENTIFIER_LENGTH = 30

# types ALL_TAB_COLUMNS reports without their length, which sits in CHAR_LENGTH / DATA_LENGTH
_CHAR_LENGTH_TYPES = {"VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR"}
_BYTE_LENGTH_TYPES = {"RAW"}


class OracleCapabilities(DialectCapabilities):
    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.supports_ddl_transactions = False  # every DDL statement commits
        caps.max_timestamp_precision = 9
        caps.decimal_precision = (38, 9)
        caps.wei_precision = (38, 0)  # NUMBER holds 38 digits
        apply_server_version(caps, dialect.server_version_info, dialect.max_identifier_length)

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return OracleTypeMapper

    def refine_capabilities(
        self, caps: DestinationCapabilitiesContext, connection: sa.Connection
    ) -> None:
        dialect = connection.dialect
        planned = (caps.max_identifier_length, caps.max_column_identifier_length)
        apply_server_version(caps, dialect.server_version_info, dialect.max_identifier_length)
        # only ever lower: names were normalized to the planned limit (maybe a user's override)
        caps.max_identifier_length = min(caps.max_identifier_length, planned[0] or 128)
        caps.max_column_identifier_length = min(
            caps.max_column_identifier_length, planned[1] or 128
        )

    def adapt_table(self, table: sa.Table, table_schema: PreparedTableSchema) -> sa.Table:
        # a column-level check, so that ALTER TABLE ... ADD renders it with the column too
        for column in table.columns:
            if isinstance(column.type, OracleJson) and not column.constraints:
                # left to itself the check would attach to the table (its condition names a
                # table column); parented to the column instead, it renders inline
                check = sa.CheckConstraint(is_json_check(column), _autoattach=False)
                check._set_parent_with_dispatch(column)
        return table

    def is_undefined_relation(self, e: Exception) -> Optional[bool]:
        return True if "ORA-00942" in str(e) else None

    def alter_table_add_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> List[str]:
        qualified, definitions = self.render_added_columns(table, columns)
        return [f"ALTER TABLE {qualified} ADD ({', '.join(definitions)})"]

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        """Reads ALL_TAB_COLUMNS (Oracle has no `information_schema`).

        A CLOB with an `IS JSON` check is listed in ALL_JSON_COLUMNS and reported as JSON.
        """
        dialect = connection.dialect
        rows = connection.execute(
            storage_columns_query(
                dialect.denormalize_name(dataset_name),
                [dialect.denormalize_name(name) for name in table_names],
            )
        )
        return group_storage_columns(
            (
                dialect.normalize_name(table),
                dialect.normalize_name(column),
                storage_type_name(data_type, char_length, data_length),
                nullable,
                *_numeric_args(data_type, precision, scale),
            )
            for (
                table,
                column,
                data_type,
                nullable,
                precision,
                scale,
                char_length,
                data_length,
            ) in rows
        )

    # --- datasets: a schema is a user -------------------------------------------------------------

    def has_dataset(self, client: DialectSqlClient, dataset_name: str) -> bool:
        owner = client.dialect.denormalize_name(dataset_name)
        rows = client.execute_sql(schema_exists_query(owner))
        return bool(rows and rows[0][0])

    def create_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        # `CREATE SCHEMA` in Oracle only bundles statements for an existing user's schema
        raise MissingOracleSchema(client.dialect.denormalize_name(dataset_name))

    def drop_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        """Drops the dataset's tables; the schema is a user, which we never drop."""
        owner = client.dialect.denormalize_name(dataset_name)
        if not self.has_dataset(client, dataset_name):
            raise sa.exc.NoSuchTableError(owner)
        for table in self.list_tables(client.native_connection, dataset_name):
            sa_table = sa.Table(table, sa.MetaData(), schema=dataset_name)
            client.execute_sql(sa.schema.DropTable(sa_table, if_exists=True))

    def list_tables(self, connection: sa.Connection, dataset_name: str) -> List[str]:
        dialect = connection.dialect
        owner = dialect.denormalize_name(dataset_name)
        names = connection.execute(schema_tables_query(owner)).scalars()
        return [dialect.normalize_name(name) for name in names]

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        return [MergeInto(spec)]

    def timestamp_literal(
        self, value: datetime.datetime, column: sa.Column[Any]
    ) -> sa.ColumnElement[Any]:
        """TO_TIMESTAMP_TZ / TO_TIMESTAMP with an explicit format.

        SQLAlchemy renders an aware datetime as TO_TIMESTAMP('... +00:00', 'YYYY-MM-DD
        HH24:MI:SS.FF'), whose format has no zone: Oracle rejects it (ORA-01830).
        """
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if value.tzinfo is None:
            return sa.func.TO_TIMESTAMP(
                sa.literal(text), sa.literal("YYYY-MM-DD HH24:MI:SS.FF6"), type_=column.type
            )
        offset = value.strftime("%z")  # +HHMM
        return sa.func.TO_TIMESTAMP_TZ(
            sa.literal(f"{text} {offset[:3]}:{offset[3:]}"),
            sa.literal("YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM"),
            type_=column.type,
        )


def apply_server_version(
    caps: DestinationCapabilitiesContext,
    version: Optional[Tuple[Any, ...]],
    dialect_limit: Optional[int],
) -> None:
    """Sets the limits that depend on the server release; `version` None means not connected."""
    release = tuple(int(part) for part in version or () if isinstance(part, int))
    limit = dialect_limit or 128
    if release and release < LONG_IDENTIFIERS_SINCE:
        limit = min(limit, SHORT_IDENTIFIER_LENGTH)
    caps.max_identifier_length = limit
    caps.max_column_identifier_length = limit
    caps.supports_native_boolean = bool(release) and release >= NATIVE_BOOLEAN_SINCE


class MissingOracleSchema(DestinationTerminalException):
    """The dataset's schema (an Oracle user) does not exist, and we cannot make users."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        super().__init__(
            f"The Oracle schema `{owner}` does not exist. In Oracle a schema is a user, which"
            " this destination does not create: load into your own schema (dataset_name set to"
            " your user name) or ask a DBA to create the user. For staging without a second"
            ' schema, set `staging_table_prefix = "stg__"`.'
        )


def schema_exists_query(owner: str) -> sa.Select[Any]:
    """Whether user `owner` (its name as stored: upper case unless quoted) exists."""
    users = sa.table("all_users", sa.column("username"))
    return sa.select(sa.func.count()).select_from(users).where(users.c.username == owner)


def schema_tables_query(owner: str) -> sa.Select[Any]:
    """Names (as stored) of the tables of schema `owner`."""
    tables = sa.table("all_tables", sa.column("owner"), sa.column("table_name"))
    return sa.select(tables.c.table_name).where(tables.c.owner == owner)


def storage_columns_query(owner: str, table_names: Sequence[str]) -> sa.Select[Any]:
    """The columns of `table_names` of schema `owner` (names as stored: upper case)."""
    columns = sa.table(
        "all_tab_columns",
        *(
            sa.column(name)
            for name in (
                "owner",
                "table_name",
                "column_name",
                "column_id",
                "data_type",
                "nullable",
                "data_precision",
                "data_scale",
                "char_length",
                "data_length",
            )
        ),
    )
    json_columns = sa.table(
        "all_json_columns", sa.column("owner"), sa.column("table_name"), sa.column("column_name")
    )
    is_json = sa.exists().where(
        json_columns.c.owner == columns.c.owner,
        json_columns.c.table_name == columns.c.table_name,
        json_columns.c.column_name == columns.c.column_name,
    )
    return (
        sa.select(
            columns.c.table_name,
            columns.c.column_name,
            sa.case((is_json, sa.literal("JSON")), else_=columns.c.data_type),
            columns.c.nullable,
            columns.c.data_precision,
            columns.c.data_scale,
            columns.c.char_length,
            columns.c.data_length,
        )
        .where(columns.c.owner == owner)
        .where(columns.c.table_name.in_(list(table_names)))
        .order_by(columns.c.table_name, columns.c.column_id)
    )


def storage_type_name(
    data_type: str, char_length: Optional[int], data_length: Optional[int]
) -> str:
    """`VARCHAR2` + CHAR_LENGTH 20 becomes `VARCHAR2(20)`, the form the type mapper parses."""
    name = str(data_type)
    if name in _CHAR_LENGTH_TYPES and char_length:
        return f"{name}({char_length})"
    if name in _BYTE_LENGTH_TYPES and data_length:
        return f"{name}({data_length})"
    return name


def _numeric_args(
    data_type: str, precision: Optional[int], scale: Optional[int]
) -> Tuple[Optional[int], Optional[int]]:
    # DATA_PRECISION of FLOAT is binary digits, and other types have none worth passing on
    if str(data_type) == "NUMBER":
        return precision, scale
    return None, None
