"""Translates driver and SQLAlchemy errors into dlt's three outcomes.

- undefined relation: a table or schema is missing (dlt creates it, or treats the dataset as new);
- terminal: retrying cannot help (bad SQL, bad data, bad credentials);
- transient: may succeed on retry (lost connection, deadlock, lock timeout).

Order of evidence: the dialect's own hook, then SQLSTATE, then vendor error numbers, then the
exception class; English message text only when nothing else decides.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from dlt.common.destination.exceptions import DestinationException
from dlt.destinations.exceptions import (
    DatabaseTerminalException,
    DatabaseTransientException,
    DatabaseUndefinedRelation,
)

from dlt_sqlalchemy.dialects.base import DialectCapabilities, TErrorClass

# SQLSTATE codes (or their two-character classes) that decide the outcome on their own
_SQLSTATE: dict[str, TErrorClass] = {
    "42P01": "undefined_relation",  # undefined_table (PostgreSQL)
    "3F000": "undefined_relation",  # invalid_schema_name
    "42S02": "undefined_relation",  # base table or view not found (ODBC / MySQL)
    "42704": "undefined_relation",  # undefined object (DB2)
    "40P01": "transient",  # deadlock_detected
    "40001": "transient",  # serialization_failure
    "55P03": "transient",  # lock_not_available
    "57P01": "transient",  # admin_shutdown
    "57P02": "transient",  # crash_shutdown
    "57P03": "transient",  # cannot_connect_now
    "57014": "transient",  # query_canceled (statement timeout)
    "08": "transient",  # connection exception
    "53": "transient",  # insufficient resources
    "40": "transient",  # transaction rollback
    "28": "terminal",  # invalid authorization
    "3D": "terminal",  # invalid catalog (unknown database)
    "22": "terminal",  # data exception: a value the column cannot hold
    "23": "terminal",  # integrity constraint violation
    "42": "terminal",  # syntax error or access rule violation
    "0A": "terminal",  # feature not supported
}

# MySQL / MariaDB server and client error numbers
_MYSQL: dict[int, TErrorClass] = {
    1146: "undefined_relation",  # table doesn't exist
    1049: "undefined_relation",  # unknown database (schema) in a query
    1051: "undefined_relation",  # unknown table (DROP)
    1045: "terminal",  # access denied
    1044: "terminal",  # access denied to database
    1054: "terminal",  # unknown column
    1064: "terminal",  # syntax error
    1062: "terminal",  # duplicate entry
    1048: "terminal",  # column cannot be null
    1264: "terminal",  # out of range value
    1265: "terminal",  # data truncated
    1292: "terminal",  # incorrect datetime / truncated value
    1366: "terminal",  # incorrect value for column
    1406: "terminal",  # data too long
    1213: "transient",  # deadlock
    1205: "transient",  # lock wait timeout
    2002: "transient",  # can't connect (socket)
    2003: "transient",  # can't connect (TCP)
    2005: "transient",  # unknown host
    2006: "transient",  # server has gone away
    2013: "transient",  # lost connection during query
}

_SQLITE_NAMES: dict[str, TErrorClass] = {
    "SQLITE_BUSY": "transient",
    "SQLITE_LOCKED": "transient",
    "SQLITE_PROTOCOL": "transient",
    "SQLITE_CONSTRAINT": "terminal",
    "SQLITE_MISMATCH": "terminal",
    "SQLITE_TOOBIG": "terminal",
    "SQLITE_READONLY": "terminal",
    "SQLITE_CANTOPEN": "terminal",
    "SQLITE_NOTADB": "terminal",
    "SQLITE_CORRUPT": "terminal",
    "SQLITE_FULL": "terminal",
    "SQLITE_PERM": "terminal",
    "SQLITE_AUTH": "terminal",
}

# DuckDB raises one exception class per error kind
_DUCKDB_CLASSES: dict[str, TErrorClass] = {
    "ConversionException": "terminal",
    "ConstraintException": "terminal",
    "OutOfRangeException": "terminal",
    "ParserException": "terminal",
    "InvalidInputException": "terminal",
    "BinderException": "terminal",
    "TransactionException": "transient",
    "IOException": "transient",
    "OutOfMemoryException": "transient",
}

_UNDEFINED_PATTERNS = re.compile(
    r"does not exist|doesn't exist|no such table|no such database|unknown database|"
    r"unknown table|invalid object name|not found|ora-00942|ora-01918|is an undefined name|"
    r"invalid schema name|invalid table name",
    re.IGNORECASE,
)
_TRANSIENT_PATTERNS = re.compile(
    r"connection (was )?(reset|refused|closed|lost)|server closed the connection|"
    r"timed? ?out|deadlock|gone away|lost connection|could not connect|database is locked|"
    r"too many connections|temporarily unavailable",
    re.IGNORECASE,
)


def classify(ex: BaseException, dialect_caps: Optional[DialectCapabilities]) -> Optional[TErrorClass]:
    """Returns the outcome for `ex`, or None when it is not a database error at all."""
    if isinstance(ex, sa.exc.NoSuchTableError):
        return "undefined_relation"
    if not isinstance(ex, sa.exc.DBAPIError) and not _looks_like_dbapi_error(ex):
        return None
    orig = ex.orig if isinstance(ex, sa.exc.DBAPIError) else ex
    if dialect_caps is not None and orig is not None:
        verdict = dialect_caps.classify_error(orig)
        if verdict is not None:
            return verdict
        undefined = dialect_caps.is_undefined_relation(ex)
        if undefined is True:
            return "undefined_relation"
    else:
        undefined = None
    verdict = _by_codes(orig)
    if verdict is not None:
        return verdict
    if undefined is not False and _UNDEFINED_PATTERNS.search(str(orig)):
        return "undefined_relation"
    return _by_class(ex, str(orig))


def to_dlt_exception(
    ex: Exception, dialect_caps: Optional[DialectCapabilities], secrets: Iterable[str] = ()
) -> Exception:
    """Wraps `ex` in the dlt exception its class calls for; other errors pass through."""
    if isinstance(ex, DestinationException):
        return ex
    verdict = classify(ex, dialect_caps)
    if verdict is None:
        return ex
    cause = _scrubbed(ex, secrets)
    if verdict == "undefined_relation":
        return DatabaseUndefinedRelation(cause)
    if verdict == "terminal":
        return DatabaseTerminalException(cause)
    return DatabaseTransientException(cause)


def sqlstate_of(orig: Any) -> Optional[str]:
    for attr in ("sqlstate", "pgcode"):
        code = getattr(orig, attr, None)
        if isinstance(code, str) and len(code) == 5:
            return code
    diag = getattr(orig, "diag", None)
    code = getattr(diag, "sqlstate", None)
    return code if isinstance(code, str) and len(code) == 5 else None


def mysql_errno_of(orig: Any) -> Optional[int]:
    module = type(orig).__module__ or ""
    if not module.startswith(("MySQLdb", "pymysql", "mysql", "mariadb")):
        return None
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _by_codes(orig: Any) -> Optional[TErrorClass]:
    sqlstate = sqlstate_of(orig)
    if sqlstate:
        verdict = _SQLSTATE.get(sqlstate) or _SQLSTATE.get(sqlstate[:2])
        if verdict:
            return verdict
    errno = mysql_errno_of(orig)
    if errno is not None and errno in _MYSQL:
        return _MYSQL[errno]
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if isinstance(sqlite_name, str):
        for prefix, verdict in _SQLITE_NAMES.items():
            if sqlite_name.startswith(prefix):
                return verdict
    if (type(orig).__module__ or "").startswith(("duckdb", "_duckdb")):
        name = type(orig).__name__
        if name == "CatalogException":
            return "undefined_relation" if _UNDEFINED_PATTERNS.search(str(orig)) else "terminal"
        return _DUCKDB_CLASSES.get(name)
    return None


def _by_class(ex: BaseException, message: str) -> TErrorClass:
    if isinstance(ex, (sa.exc.IntegrityError, sa.exc.DataError, sa.exc.ProgrammingError)):
        return "terminal"
    if isinstance(ex, sa.exc.NotSupportedError):
        return "terminal"
    if isinstance(ex, sa.exc.DBAPIError) and ex.connection_invalidated:
        return "transient"
    if _TRANSIENT_PATTERNS.search(message):
        return "transient"
    if isinstance(ex, (sa.exc.OperationalError, sa.exc.InternalError)):
        return "transient"
    return "terminal"


def _looks_like_dbapi_error(ex: BaseException) -> bool:
    return any(t.__name__ in ("DatabaseError", "DataError") for t in type(ex).__mro__)


def _scrubbed(ex: BaseException, secrets: Iterable[str]) -> BaseException:
    """Returns `ex`, or a plain copy of it with any secret in its text replaced by `***`."""
    text = str(ex)
    hidden = text
    for secret in secrets:
        if secret:
            hidden = hidden.replace(secret, "***")
    if hidden == text:
        return ex
    return RuntimeError(hidden)
