"""Errors raised by dlt-sqlalchemy. Each one says what went wrong and what to do next.

They subclass dlt's terminal / transient bases, so dlt's loader fails or retries them correctly,
and a builtin where one fits, so callers can also catch `ValueError` or `ImportError`::

    DestinationTerminalException
    ├── UnknownDialect (also ValueError)           URL names a dialect SQLAlchemy cannot load
    ├── UnknownDriver (also ValueError)            a driver name the dialect does not have
    ├── MissingDriver (also ImportError)           the DBAPI driver is not installed
    │   └── DriverImportFailed                     ... or installed, but its import fails
    ├── UnsupportedColumnType (also ValueError)    a dlt type this dialect cannot store
    ├── IdentifierTooLong (also ValueError)        a table / column name over the server's limit
    ├── PrimaryKeyRequired (also ValueError)       the server requires a primary key on every table
    ├── InvalidCredentials                         authentication failed, unknown database
    ├── DatabaseHoldsAnotherDataset                a schema-less database that another
    │                                              dataset already uses
    └── DatabaseTerminalException (dlt)
        └── ValueNotStorable                       a value the column cannot hold (names both)
        ├── DatabaseLimitExceeded                  a table over a server limit (with the limit)
    DestinationTransientException
    ├── DatabaseUnreachable                        host down or refusing connections
    └── ConcurrentStagingLoad                      another loader's rows in a shared staging table
    ConfigurationValueError (dlt)
    └── InvalidEngineOption                        an `engine_kwargs` key create_engine refuses

The messages a newcomer meets first end with a link to their entry in docs/troubleshooting.md.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.destination.exceptions import (
    DestinationTerminalException,
    DestinationTransientException,
)
from dlt.destinations.exceptions import DatabaseTerminalException

TROUBLESHOOTING = (
    "https://github.com/dlt-sqlalchemy/dlt-sqlalchemy/blob/main/docs/troubleshooting.md"
)


def see(anchor: str) -> str:
    """The sentence pointing at the troubleshooting entry `anchor`."""
    return f"See {TROUBLESHOOTING}#{anchor}"


class UnknownDialect(DestinationTerminalException, ValueError):
    def __init__(self, backend: str, known: Sequence[str]) -> None:
        self.backend = backend
        msg = (
            f"SQLAlchemy has no dialect `{backend}`. Check the scheme of your database URL"
            f" (dlt-sqlalchemy has capabilities for {', '.join(known)}); a third-party dialect"
            " must be pip-installed first (for example `pip install sqlalchemy-exasol`)."
            f" {see('unknown-dialect')}"
        )
        super().__init__(msg)


class UnknownDriver(DestinationTerminalException, ValueError):
    """The URL names a driver that SQLAlchemy's dialect does not have (a misspelling, mostly)."""

    def __init__(self, backend: str, driver: str, drivers: Sequence[str]) -> None:
        self.backend = backend
        self.driver = driver
        msg = (
            f"SQLAlchemy's `{backend}` dialect has no driver `{driver}`: check the spelling after"
            f" `+` in the URL's scheme. Its drivers: {', '.join(drivers)} (`{backend}://` alone"
            f" picks the default one). {see('missing-driver')}"
        )
        super().__init__(msg)


class MissingDriver(DestinationTerminalException, ImportError):
    def __init__(self, drivername: str, module: Optional[str], install_hint: str) -> None:
        self.drivername = drivername
        self.module = module
        self.install_hint = install_hint
        what = f"the `{module}` module" if module else "its DBAPI driver"
        msg = (
            f"The `{drivername}` dialect needs {what}, which is not installed."
            f" Install it with: {install_hint}. {see('missing-driver')}"
        )
        super().__init__(msg)

    def __reduce__(self) -> Any:
        return (type(self), (self.drivername, self.module, self.install_hint))


class DriverImportFailed(MissingDriver):
    """The driver package is installed, but importing it fails: mostly a system library its
    compiled module links to is missing (unixODBC for pyodbc, libpq, the MySQL client library).
    pip cannot fix that, so the message names the library and what provides it instead.

    A `MissingDriver`, so code that catches a missing driver catches this one too.
    """

    def __init__(
        self,
        drivername: str,
        module: Optional[str],
        reason: str,
        library: Optional[str],
        remedy: str,
    ) -> None:
        self.drivername = drivername
        self.module = module
        self.install_hint = remedy
        self.reason = reason
        self.library = library
        what = f"`{module}`" if module else "its DBAPI driver"
        missing = f" The system library `{library}` it needs is missing." if library else ""
        msg = (
            f"The `{drivername}` dialect's driver {what} is installed, but importing it failed:"
            f" {reason}.{missing} {remedy} {see('driver-import-failed')}"
        )
        DestinationTerminalException.__init__(self, msg)

    def __reduce__(self) -> Any:
        return (
            type(self),
            (self.drivername, self.module, self.reason, self.library, self.install_hint),
        )


class InvalidEngineOption(ConfigurationValueError):
    """`engine_kwargs` holds an option that `sqlalchemy.create_engine` does not take."""

    def __init__(self, names: str, sqlalchemy_message: str) -> None:
        self.names = names
        msg = (
            f"Unknown option {names} in `engine_kwargs` of the sqlalchemy destination (from"
            " `sqlalchemy(engine_kwargs=...)`, `[destination.sqlalchemy] engine_kwargs` or"
            " `DESTINATION__SQLALCHEMY__ENGINE_KWARGS`): check its spelling against"
            " `sqlalchemy.create_engine` and the dialect's options. SQLAlchemy says:"
            f" {sqlalchemy_message}"
        )
        super().__init__(msg)


class UnsupportedColumnType(DestinationTerminalException, ValueError):
    def __init__(self, table_name: str, column_name: str, data_type: str) -> None:
        self.table_name = table_name
        self.column_name = column_name
        msg = (
            f"Column `{column_name}` of table `{table_name}` has type `{data_type}`, which this"
            " destination cannot store. Change the column's data type hint."
        )
        super().__init__(msg)


class IdentifierTooLong(DestinationTerminalException, ValueError):
    def __init__(
        self, kind: str, identifier: str, limit: int, table_name: str, unit: str = "characters"
    ) -> None:
        self.identifier = identifier
        self.limit = limit
        self.table_name = table_name
        size = len(identifier.encode("utf-8")) if unit == "bytes" else len(identifier)
        where = "" if kind == "table" else f" (table `{table_name}`)"
        msg = (
            f"The {kind} name `{identifier}`{where} has {size} {unit}; the database allows"
            f" {limit}. Nothing was created or loaded. Use a shorter name, or a naming convention"
            " that shortens names to this limit (dlt's conventions shorten by characters, to the"
            f" limit known before connecting). {see('identifier-too-long')}"
        )
        super().__init__(msg)


class PrimaryKeyRequired(DestinationTerminalException, ValueError):
    """The server refuses tables without a primary key (Galera's `wsrep_mode=REQUIRED_PRIMARY_KEY`,
    MySQL's `sql_require_primary_key`) and a table to create would have none: said before any
    DDL runs, since every retry would be refused the same way."""

    def __init__(self, table_name: str, setting: str, nested: bool = False) -> None:
        self.table_name = table_name
        self.setting = setting
        if nested:
            fix = (
                "it is a nested table, which has no primary key hint of its own: load the nested"
                " data as JSON in its parent instead (dlt's `max_table_nesting`, or a `json`"
                " column hint on the field)"
            )
        else:
            fix = (
                "give its resource a `primary_key` hint (a column, or columns, unique per row)"
                " and set the destination option `create_primary_keys=True`"
            )
        msg = (
            f"Table `{table_name}` would have no primary key, and the server requires one on"
            f" every table ({setting}). Nothing was created. To fix it, {fix}."
            " dlt's own tables get a hidden key column `_dlt_sqla_row` automatically."
        )
        super().__init__(msg)


class ConcurrentStagingLoad(DestinationTransientException):
    """A staging table holds rows of another package that has not completed: another pipeline
    is loading into the same dataset, through the same staging dataset, at the same time.
    Transient: once the other package completes, its rows are leftovers this load deletes."""

    def __init__(self, table_name: str, staging_dataset: str, dataset: str, load_ids: str):
        self.table_name = table_name
        self.load_ids = load_ids
        msg = (
            f"Staging table `{table_name}` (dataset `{staging_dataset}`) holds rows of another"
            f" load package that has not completed (load id {load_ids}): another pipeline is"
            f" loading into dataset `{dataset}` at the same time, and every pipeline merges"
            " through the same staging dataset. This load waits for it: the job is retried, and"
            " once the other package completed its rows are cleared away (if the retries run"
            " out first, run `pipeline.load()` again). To merge into one dataset from several"
            " pipelines at once, give each its own staging dataset"
            ' (`staging_dataset_name_layout`, e.g. "%s_staging_<pipeline name>").'
        )
        super().__init__(msg)


class InvalidCredentials(DestinationTerminalException):
    """The server refused the login or does not know the database: retrying cannot help."""

    def __init__(self, msg: str) -> None:
        self.reason = msg
        super().__init__(f"{msg} {see('invalid-credentials')}")

    def __reduce__(self) -> Any:
        return (type(self), (self.reason,))


class DatabaseUnreachable(DestinationTransientException):
    """The server could not be reached; it may come back, so dlt retries."""

    def __init__(self, msg: str) -> None:
        self.reason = msg
        super().__init__(f"{msg} {see('database-unreachable')}")

    def __reduce__(self) -> Any:
        return (type(self), (self.reason,))


class ValueNotStorable(DatabaseTerminalException):
    """A row of a load file holds a value its column rejects; the whole file was rolled back.

    A `DatabaseTerminalException`, as every other error the SQL client translates, so code that
    catches dlt's database errors catches this one too; its text is ours, not the driver's.
    """

    def __init__(
        self,
        table_name: str,
        column_name: Optional[str],
        reason: str,
        dbapi_exception: Optional[Exception] = None,
    ) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.reason = reason
        where = (
            f"column `{column_name}` of table `{table_name}`"
            if column_name
            else (f"table `{table_name}`")
        )
        msg = (
            f"A value does not fit {where}: {reason}. No rows of this file were loaded."
            f" {see('value-not-storable')}"
        )
        super().__init__(dbapi_exception or ValueError(reason))
        self.args = (msg,)

    def __reduce__(self) -> Any:
        # the message is derived: rebuild from the constructor's arguments, not from `args`
        return (type(self), (self.table_name, self.column_name, self.reason))


class DatabaseLimitExceeded(DatabaseTerminalException):
    """The server refused a table as declared (too many columns, a row too wide, a key or a name
    it cannot hold): retrying the same DDL cannot succeed, so dlt must not.

    The text is the driver's, then what to change; the table appears in the driver's text or in
    dlt's schema-update error around this one.
    """

    def __init__(self, dbapi_exception: Exception, limit: str, hint: str) -> None:
        self.limit = limit
        self.hint = hint
        super().__init__(dbapi_exception)
        self.args = (f"{dbapi_exception}\n{limit}: {hint}",)

    def __reduce__(self) -> Any:
        return (type(self), (self.dbapi_exception, self.limit, self.hint))


class DatabaseHoldsAnotherDataset(DestinationTerminalException):
    """A database without schemas (or with `use_schemas = false`) holds one dataset, and it is
    not the one asked for: two datasets there would share and overwrite each other's tables."""

    def __init__(self, database: str, holds: str, wanted: str) -> None:
        self.database = database
        self.holds = holds
        self.wanted = wanted
        super().__init__(
            f"The database {database} holds the dataset `{holds}` (recorded in its table"
            f" `_dlt_sqla_dataset`), and this pipeline's dataset is `{wanted}`. Without schemas"
            " a database holds one dataset, whose tables are unqualified: another dataset would"
            f' share them. Use dataset_name="{holds}", another database, or drop the dataset'
            f" `{holds}` first (`pipeline.drop()` of its pipeline)."
            f" {see('one-dataset-per-database')}"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.database, self.holds, self.wanted))
