"""Engine ownership: create lazily, share between clients, dispose only what we created.

dlt opens one SQL client per load job, in parallel threads. They share one Engine (and so one
connection pool) per credentials object; the last client to close disposes it. An Engine the user
passed in belongs to the user: we never dispose it (an in-memory SQLite database lives in it).
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from dlt_sqlalchemy.driver_import import driver_import_error
from dlt_sqlalchemy.exceptions import (
    InvalidEngineOption,
    MissingDriver,
    UnknownDialect,
    UnknownDriver,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

# pip commands for the drivers SQLAlchemy picks by default, by backend or backend+driver: the
# driver packages themselves, which install however dlt-sqlalchemy was (a clone, git, a wheel)
_INSTALL_HINTS = {
    "postgresql": 'pip install "psycopg[binary]" (the `postgres` extra of dlt-sqlalchemy)',
    "postgresql+psycopg": 'pip install "psycopg[binary]" (the `postgres` extra of dlt-sqlalchemy)',
    "postgresql+psycopg2": "pip install psycopg2-binary",
    "postgresql+asyncpg": "pip install asyncpg",
    "postgresql+pg8000": 'pip install "dlt-sqlalchemy[pg8000]" (pg8000 and pyarrow)',
    "mysql": "pip install mysqlclient (the `mysql` extra of dlt-sqlalchemy)",
    "mariadb": "pip install mysqlclient (the `mysql` extra of dlt-sqlalchemy)",
    "mysql+mysqldb": "pip install mysqlclient (the `mysql` extra of dlt-sqlalchemy)",
    "mariadb+mysqldb": "pip install mysqlclient (the `mysql` extra of dlt-sqlalchemy)",
    "mysql+pymysql": "pip install pymysql",
    "mariadb+pymysql": "pip install pymysql",
    "mysql+mysqlconnector": 'pip install "dlt-sqlalchemy[mysql-connector]"'
    " (mysql-connector-python and pyarrow)",
    "mariadb+mysqlconnector": 'pip install "dlt-sqlalchemy[mysql-connector]"'
    " (mysql-connector-python and pyarrow)",
    "mysql+mariadbconnector": 'pip install "dlt-sqlalchemy[mariadb]" (MariaDB Connector/Python'
    " and pyarrow; it builds against libmariadb-dev)",
    "mariadb+mariadbconnector": 'pip install "dlt-sqlalchemy[mariadb]" (MariaDB Connector/Python'
    " and pyarrow; it builds against libmariadb-dev)",
    "mssql": "pip install pyodbc (the `mssql` extra of dlt-sqlalchemy)",
    "mssql+pyodbc": "pip install pyodbc (the `mssql` extra of dlt-sqlalchemy)",
    "mssql+pymssql": "pip install pymssql",
    "oracle": "pip install oracledb (the `oracle` extra of dlt-sqlalchemy)",
    "oracle+oracledb": "pip install oracledb (the `oracle` extra of dlt-sqlalchemy)",
    "oracle+cx_oracle": "pip install cx_Oracle",
    "duckdb": "pip install duckdb duckdb-engine (the `duckdb` extra of dlt-sqlalchemy)",
    "trino": 'pip install "trino[sqlalchemy]" (the `trino` extra of dlt-sqlalchemy)',
}


def install_hint(drivername: str) -> str:
    backend = drivername.split("+", 1)[0]
    return _INSTALL_HINTS.get(drivername) or _INSTALL_HINTS.get(
        backend, f"pip install the DBAPI driver of the `{drivername}` SQLAlchemy dialect"
    )


def load_dialect_class(url: sa.URL) -> type:
    """Loads the dialect class for `url` without importing its DBAPI driver.

    Capabilities (identifier limits, boolean support, sqlglot dialect) come from the dialect
    class alone, so a laptop without `mysqlclient` can still build and normalize a pipeline.
    """
    import sqlalchemy as sa

    try:
        return url.get_dialect()
    except (sa.exc.NoSuchModuleError, ImportError) as ex:
        backend, _, driver = url.drivername.partition("+")
        if driver and isinstance(ex, sa.exc.NoSuchModuleError) and backend in _SA_DRIVERS:
            # SQLAlchemy has the dialect but no driver of that name: a misspelling (psycopg3)
            raise UnknownDriver(backend, driver, _SA_DRIVERS[backend]) from None
        # some dialects ship inside their driver package (trino, duckdb-engine): a backend we
        # know by name is a missing package, with its pip line, not an unknown dialect
        if _known_backend(url.drivername):
            hint = install_hint(url.drivername)
            if isinstance(ex, ImportError):
                raise driver_import_error(url.drivername, ex, hint) from ex
            raise MissingDriver(url.drivername, None, hint) from ex
        from dlt_sqlalchemy.dialects import registered_backends

        raise UnknownDialect(url.drivername, registered_backends()) from ex


# the drivers of SQLAlchemy's own dialects (the part after `+` in a URL's scheme)
_SA_DRIVERS = {
    "postgresql": ("psycopg", "psycopg2", "pg8000", "asyncpg", "psycopg2cffi", "psycopg_async"),
    "mysql": ("mysqldb", "pymysql", "mysqlconnector", "mariadbconnector", "asyncmy", "aiomysql"),
    "mariadb": ("mysqldb", "pymysql", "mysqlconnector", "mariadbconnector", "asyncmy"),
    "mssql": ("pyodbc", "pymssql", "aioodbc"),
    "oracle": ("oracledb", "cx_oracle", "oracledb_async"),
    "sqlite": ("pysqlite", "aiosqlite", "pysqlcipher"),
}


def _known_backend(drivername: str) -> bool:
    return drivername in _INSTALL_HINTS or drivername.split("+", 1)[0] in _INSTALL_HINTS


def create_engine(url: sa.URL, engine_kwargs: Dict[str, Any]) -> sa.Engine:
    """`sqlalchemy.create_engine` with an install hint when the driver is missing."""
    import sqlalchemy as sa

    load_dialect_class(url)
    _ensure_database_folder(url)
    try:
        return sa.create_engine(url, **engine_kwargs)
    except ImportError as ex:
        raise driver_import_error(url.drivername, ex, install_hint(url.drivername)) from ex
    except TypeError as ex:
        unknown = _INVALID_ARGUMENTS.search(str(ex))
        if unknown is None:
            raise
        # a typo in engine_kwargs: SQLAlchemy says so with a bare TypeError at first connect,
        # which dlt would report as a crash of the load step
        raise InvalidEngineOption(unknown.group(1), str(ex)) from None


_INVALID_ARGUMENTS = re.compile(r"Invalid argument\(s\) (.+?) sent to create_engine")


class EngineHolder:
    """Hands out one Engine to many clients and disposes it when the last one is done."""

    def __init__(
        self,
        make_url: Callable[[], sa.URL],
        engine_kwargs: Dict[str, Any],
        external_engine: Optional[sa.Engine] = None,
    ) -> None:
        self._make_url = make_url
        self._engine_kwargs = engine_kwargs
        self._external = external_engine
        self._engine: Optional[sa.Engine] = external_engine
        self._borrowers = 0
        self._lock = threading.Lock()

    @property
    def is_external(self) -> bool:
        return self._external is not None

    def borrow(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(self._make_url(), self._engine_kwargs)
            self._borrowers += 1
            return self._engine

    def give_back(self) -> None:
        with self._lock:
            self._borrowers = max(0, self._borrowers - 1)
            if self._borrowers == 0 and self._engine is not None and not self.is_external:
                self._engine.dispose()
                self._engine = None

    def peek_dialect(self) -> Optional[sa.engine.interfaces.Dialect]:
        """The dialect of the live engine, if one exists (it knows the server version)."""
        return self._engine.dialect if self._engine is not None else None


def _ensure_database_folder(url: sa.URL) -> None:
    """Creates the folder of a SQLite / DuckDB file, as the databases create the file itself.

    Without it a path into a new folder fails with errors that read like bad credentials.
    """
    database = url.database or ""
    if url.get_backend_name() not in ("sqlite", "duckdb") or not os.path.isabs(database):
        return  # memory databases, URIs (file:...) and relative paths of an Engine the user made
    os.makedirs(os.path.dirname(database), exist_ok=True)
