"""SQLite: one database file per dataset, ATTACHed to every connection.

SQLite has no schemas, so dataset `games` of `/data/chess.db` lives in `/data/chess__games.db`,
attached as schema `games`; dataset `main` is the main file itself. In-memory databases get
in-memory datasets: named shared-cache databases when the engine uses a shared-cache URI
(`file:name?mode=memory&cache=shared&uri=true`), otherwise private ones on the (single, static)
connection. Either way the staging dataset works in memory, so replace and merge do too.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set, Tuple

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from sqlalchemy.dialects import sqlite

from dlt_sqlalchemy.dialects.base import (
    DialectCapabilities,
    DialectSqlClient,
    StorageColumn,
    TErrorClass,
)
from dlt_sqlalchemy.dialects.sqlite.types import SqliteTypeMapper
from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec, on_conflict_upsert
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath

if TYPE_CHECKING:
    from dlt_sqlalchemy.reads.readers import ArrowReader

MAIN = "main"

# in-memory datasets created per engine; a new connection re-attaches them
_MEMORY_DATASETS: weakref.WeakKeyDictionary[sa.Engine, Set[str]] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()


class SqliteCapabilities(DialectCapabilities):
    creates_if_not_exists = True
    prefers_in_subqueries = True

    truncate_with_delete = True  # there is no TRUNCATE

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.supports_truncate_command = False
        # one writer at a time: parallel jobs would only queue on the database lock
        caps.max_parallel_load_jobs = 1
        caps.decimal_precision = (38, 9)
        caps.wei_precision = (78, 0)  # stored as text: any precision is exact

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return SqliteTypeMapper

    def arrow_readers(self) -> Sequence[ArrowReader]:
        """ADBC's SQLite driver (Arrow filled in C) on the file when installed and outside a
        transaction, else DB-API batches."""
        from dlt_sqlalchemy.dialects.sqlite.reads import AdbcSqliteReader
        from dlt_sqlalchemy.reads.readers import DbApiArrowReader

        return (AdbcSqliteReader(), DbApiArrowReader())

    def load_paths(self) -> Sequence[LoadPath]:
        """Arrow columns bound by ADBC when its driver is installed, `executemany` of tuples
        that Arrow converted, then the portable `executemany`."""
        from dlt_sqlalchemy.dialects.sqlite.paths import SqliteAdbcPath, SqliteTuplesPath

        return (SqliteAdbcPath(), SqliteTuplesPath(), ExecutemanyPath())

    def classify_error(self, e: Exception) -> Optional[TErrorClass]:
        # SQLite reports a missing table and a missing attached database as plain SQLITE_ERROR
        message = str(e)
        if message.startswith(("no such table", "unknown database", "no such database")):
            return "undefined_relation"
        return None

    # --- datasets as attached files -----------------------------------------------------------

    def on_connect(self, client: DialectSqlClient, connection: sa.Connection) -> None:
        if not client.datasets_in_schemas:
            return  # one dataset in the main file: nothing to attach
        attached = _attached(connection)
        layout = _Layout.of(connection)
        # SQL follow-up jobs run in staging mode but read both datasets: attach both, once each
        wanted = (client.home_dataset_name, client.dataset_name, client.staging_dataset_name)
        for dataset in dict.fromkeys(wanted):
            if dataset == MAIN or dataset is None:
                continue
            if layout.is_memory:
                if dataset in _memory_datasets(connection.engine) and dataset not in attached:
                    _attach(connection, layout.location(dataset), dataset)
                continue
            path = layout.location(dataset)
            current = attached.get(dataset)
            if current is not None and current != path and os.path.exists(path):
                # attached elsewhere (the dataset was dropped and made again): re-attach
                _detach(connection, dataset)
                current = None
            if current is None and os.path.exists(path):
                _attach(connection, path, dataset)
            elif current is not None and not os.path.exists(path):
                _detach(connection, dataset)

    def has_dataset(self, client: DialectSqlClient, dataset_name: str) -> bool:
        if dataset_name == MAIN:
            return True
        connection = client.native_connection
        self.on_connect(client, connection)
        return dataset_name in _attached(connection)

    def create_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        if dataset_name == MAIN:
            return
        connection = client.native_connection
        layout = _Layout.of(connection)
        exists = dataset_name in _attached(connection) or (
            dataset_name in _memory_datasets(connection.engine)
            if layout.is_memory
            else os.path.exists(layout.location(dataset_name))
        )
        if exists:
            # as CREATE SCHEMA does elsewhere: dlt checks `has_dataset` first, a second create
            # is a caller's mistake that must not pass silently
            raise sa.exc.OperationalError(
                "ATTACH", {}, Exception(f"database {dataset_name} already exists")
            )
        _attach(connection, layout.location(dataset_name), dataset_name)
        if layout.is_memory:
            with _MEMORY_LOCK:
                _MEMORY_DATASETS.setdefault(connection.engine, set()).add(dataset_name)

    def drop_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        connection = client.native_connection
        if dataset_name == MAIN or _Layout.of(connection).is_memory:
            self._drop_all_tables(connection, dataset_name)
            if dataset_name != MAIN:
                _detach(connection, dataset_name)
                with _MEMORY_LOCK:
                    _MEMORY_DATASETS.get(connection.engine, set()).discard(dataset_name)
            return
        path = _attached(connection).get(dataset_name) or _Layout.of(connection).location(
            dataset_name
        )
        if dataset_name in _attached(connection):
            _detach(connection, dataset_name)
        if not os.path.exists(path):
            raise sa.exc.OperationalError(
                "DETACH", {}, Exception(f"no such database: {dataset_name}")
            )
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)

    def list_tables(self, connection: sa.Connection, dataset_name: str) -> List[str]:
        schema = _quote(connection, dataset_name)
        names = connection.exec_driver_sql(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"  # noqa: S608
            " AND name NOT LIKE 'sqlite_%'"
        ).scalars()
        return [str(name) for name in names]

    def _drop_all_tables(self, connection: sa.Connection, dataset_name: str) -> None:
        schema = _quote(connection, dataset_name)
        for name in self.list_tables(connection, dataset_name):
            connection.exec_driver_sql(f"DROP TABLE {schema}.{_quote(connection, name)}")
        _commit(connection)

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        if dataset_name not in _attached(connection) and dataset_name != MAIN:
            return {}
        schema = _quote(connection, dataset_name)
        # the schema name is a quoted identifier; table names and the schema value are bound
        sql = (
            'SELECT m.name, p.name, p.type, p."notnull"'  # noqa: S608
            f" FROM {schema}.sqlite_master AS m, pragma_table_info(m.name, :schema) AS p"
            " WHERE m.type = 'table' AND m.name IN :names ORDER BY m.name, p.cid"
        )
        query = sa.text(sql).bindparams(sa.bindparam("names", expanding=True))
        tables: Dict[str, List[StorageColumn]] = {}
        rows = connection.execute(query, {"schema": dataset_name, "names": list(table_names)})
        for table_name, name, db_type, not_null in rows:
            tables.setdefault(table_name, []).append(
                StorageColumn(name=name, db_type=db_type or "", nullable=not not_null)
            )
        return tables

    # --- merge and replace --------------------------------------------------------------------

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        return on_conflict_upsert(spec, sqlite.insert)

    def swap_tables(
        self, client: DialectSqlClient, pairs: Sequence[Tuple[sa.Table, sa.Table]]
    ) -> Optional[List[TStatement]]:
        """Swaps staging tables kept beside the real ones (a prefix); attached files cannot.

        Python's sqlite3 opens its transaction only before a DML statement, and runs DDL that
        comes first in autocommit: a no-op DELETE goes first, so that DROP and RENAME commit
        together, or not at all.
        """
        statements = super().swap_tables(client, pairs)
        if not statements:
            return statements
        return [sa.delete(pairs[0][0]).where(sa.false()), *statements]


class _Layout:
    """Where the datasets of one SQLite database live."""

    def __init__(self, main_file: str, url: sa.URL) -> None:
        self.main_file = main_file
        self.url = url
        self.is_memory = not main_file
        self.shared_memory_name: Optional[str] = None
        database = url.database or ""
        if self.is_memory and database.startswith("file:") and "mode=memory" in str(url):
            self.shared_memory_name = database[len("file:") :].split("?", 1)[0]

    @classmethod
    def of(cls, connection: sa.Connection) -> _Layout:
        main_file = _attached(connection).get(MAIN, "")
        return cls(main_file, connection.engine.url)

    def location(self, dataset: str) -> str:
        if self.is_memory:
            if self.shared_memory_name is not None:
                return f"file:{self.shared_memory_name}__{dataset}?mode=memory&cache=shared"
            return ":memory:"
        stem, suffix = os.path.splitext(self.main_file)
        return f"{stem}__{dataset}{suffix or '.db'}"


def _attached(connection: sa.Connection) -> Dict[str, str]:
    rows = connection.exec_driver_sql("PRAGMA database_list").fetchall()
    return {name: file for _, name, file in rows}


def _attach(connection: sa.Connection, location: str, dataset: str) -> None:
    _commit(connection)  # ATTACH cannot run inside a transaction
    connection.exec_driver_sql(f"ATTACH DATABASE ? AS {_quote(connection, dataset)}", (location,))
    _commit(connection)


def _detach(connection: sa.Connection, dataset: str) -> None:
    _commit(connection)
    connection.exec_driver_sql(f"DETACH DATABASE {_quote(connection, dataset)}")
    _commit(connection)


def _commit(connection: sa.Connection) -> None:
    """Ends SQLAlchemy's implicit transaction: dataset operations never run inside a load's."""
    if connection.in_transaction():
        connection.commit()


def _memory_datasets(engine: sa.Engine) -> Set[str]:
    with _MEMORY_LOCK:
        return set(_MEMORY_DATASETS.get(engine, set()))


def _quote(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)
