"""Microsoft SQL Server: `ALTER TABLE ... ADD` without the COLUMN keyword, modern types.

Where the modern-types decision lives: the type mapper returns SQL Server's own upper-case types,
which render the same on any dialect object. Setting `deprecate_large_types` on the dialect in
`adjust_capabilities` would not reach the DDL: that hook sees a throwaway dialect made to read
capabilities (or, given an Engine, the user's live dialect, which is not ours to change). What
remains are other types in ALTER statements (a user's mapper returning `sa.UnicodeText`, say),
compiled with the job client's unconnected dialect; `dialect_for_ddl` gives those a dialect that
assumes SQL Server 2012, the oldest release whose choices SQLAlchemy would make the same way.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext

from dlt_sqlalchemy.dialects.base import DialectCapabilities, DialectSqlClient
from dlt_sqlalchemy.dialects.mssql.types import MAX_FRACTION_DIGITS, MssqlTypeMapper
from dlt_sqlalchemy.followup.merge.constructs import MergeInto, TStatement, UpsertSpec
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath

ASSUMED_SERVER_VERSION = (11, 0)
"""SQL Server 2012: NVARCHAR(max) / VARBINARY(max) for large types, DATE and TIME exist."""


class MssqlCapabilities(DialectCapabilities):
    drop_schema_cascade = False  # T-SQL's DROP SCHEMA has no CASCADE: tables go first

    def __init__(self, backend_name: str) -> None:
        super().__init__(backend_name)
        self._ddl_dialects: Dict[type, sa.engine.interfaces.Dialect] = {}

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.max_identifier_length = 128
        caps.max_column_identifier_length = 128
        caps.max_timestamp_precision = MAX_FRACTION_DIGITS
        caps.decimal_precision = (38, 9)
        caps.wei_precision = (38, 0)  # DECIMAL holds 38 digits

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return MssqlTypeMapper

    def load_paths(self) -> Sequence[LoadPath]:
        """pyodbc's `fast_executemany` (parameter arrays), then the portable `executemany`."""
        from dlt_sqlalchemy.dialects.mssql.paths import PyodbcFastExecutemanyPath

        return (PyodbcFastExecutemanyPath(), ExecutemanyPath())

    def dialect_for_ddl(self, table: sa.Table) -> sa.engine.interfaces.Dialect:
        dialect = super().dialect_for_ddl(table)
        if dialect.server_version_info:
            return dialect  # connected: it knows the server
        modern = self._ddl_dialects.get(type(dialect))
        if modern is None:
            modern = type(dialect)(deprecate_large_types=True)  # type: ignore[call-arg]
            modern.server_version_info = ASSUMED_SERVER_VERSION
            self._ddl_dialects[type(dialect)] = modern
        return modern

    def drop_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        """Drops the schema's tables, then the schema (which must be empty to be dropped).

        Views or other objects someone else created in the schema make the DROP SCHEMA fail,
        with SQL Server's message naming the schema.
        """
        schema = client.quoted(dataset_name)
        for name in sa.inspect(client.native_connection).get_table_names(schema=dataset_name):
            table = sa.Table(client.quoted(name), sa.MetaData(), schema=schema)
            client.execute_sql(sa.schema.DropTable(table))
        client.execute_sql(sa.schema.DropSchema(schema, cascade=self.drop_schema_cascade))

    def alter_table_add_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> List[str]:
        qualified, definitions = self.render_added_columns(table, columns)
        return [f"ALTER TABLE {qualified} ADD {', '.join(definitions)}"]

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        """MERGE, run as dynamic SQL: SQL Server requires a MERGE to end with `;`, and dlt's SQL
        job splits its file on every `;`, so the terminator is appended as NCHAR(59)."""
        merge = client.compile(MergeInto(spec))
        text = "N'" + " ".join(merge.splitlines()).replace("'", "''") + "'"
        return [
            f"DECLARE @dlt_merge NVARCHAR(MAX) = CAST({text} AS NVARCHAR(MAX)) + NCHAR(59)"
            " EXEC (@dlt_merge)"
        ]

    def swap_tables(
        self, client: DialectSqlClient, pairs: Sequence[Tuple[sa.Table, sa.Table]]
    ) -> Optional[List[TStatement]]:
        # moving a table is ALTER SCHEMA ... TRANSFER plus sp_rename; dlt runs a job containing
        # "ALTER SCHEMA" outside a transaction, so the swap would not be atomic: copy instead
        return None
