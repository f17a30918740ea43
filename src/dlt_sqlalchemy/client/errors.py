"""Translates driver and SQLAlchemy errors into dlt's three outcomes.

- undefined relation: a table or schema is missing (dlt creates it, or treats the dataset as new);
- terminal: retrying cannot help (bad SQL, bad data, bad credentials);
- transient: may succeed on retry (lost connection, deadlock, lock timeout).

Order of evidence: the dialect's own hook, then SQLSTATE, then vendor error numbers and names,
then the exception class; English message text only when nothing else decides, because servers
translate their messages and drivers reword them between releases.

Failures to connect are judged apart (`connect_verdict`): there, "does not exist" means a wrong
database name in the credentials, not a table that dlt should create.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Set
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from dlt.common.destination.exceptions import DestinationException
from dlt.destinations.exceptions import (
    DatabaseTerminalException,
    DatabaseTransientException,
    DatabaseUndefinedRelation,
)

from dlt_sqlalchemy.dialects.base import DialectCapabilities, TErrorClass
from dlt_sqlalchemy.driver_fields import pg8000_fields
from dlt_sqlalchemy.exceptions import DatabaseLimitExceeded

# SQLSTATE codes (or their two-character classes) that decide the outcome on their own
_SQLSTATE: dict[str, TErrorClass] = {
    "42P01": "undefined_relation",  # undefined_table (PostgreSQL)
    "3F000": "undefined_relation",  # invalid_schema_name
    "42S02": "undefined_relation",  # base table or view not found (ODBC / MySQL)
    "42704": "undefined_relation",  # undefined object (DB2)
    "40P01": "transient",  # deadlock_detected
    "40001": "transient",  # serialization_failure
    "55P03": "transient",  # lock_not_available
    "55006": "transient",  # object_in_use
    "57P01": "transient",  # admin_shutdown (the server terminated this connection)
    "57P02": "transient",  # crash_shutdown
    "57P03": "transient",  # cannot_connect_now
    "57P05": "transient",  # idle_session_timeout
    "57014": "transient",  # query_canceled (statement timeout)
    "25P03": "transient",  # idle_in_transaction_session_timeout
    "08": "transient",  # connection exception
    "53": "transient",  # insufficient resources (disk full, too many connections)
    "54": "terminal",  # program limit exceeded (too many columns, statement too complex)
    "40": "transient",  # transaction rollback
    "HYT00": "transient",  # ODBC: timeout expired
    "HYT01": "transient",  # ODBC: connection timeout expired
    "28": "terminal",  # invalid authorization
    "3D": "terminal",  # invalid catalog (unknown database)
    "22": "terminal",  # data exception: a value the column cannot hold
    "23": "terminal",  # integrity constraint violation
    "42": "terminal",  # syntax error or access rule violation
    "0A": "terminal",  # feature not supported
}

# SQLSTATE classes of errors caused by the data itself rather than by the statement
_VALUE_SQLSTATE_CLASSES = ("22", "23")

# MySQL / MariaDB server and client error numbers
_MYSQL: dict[int, TErrorClass] = {
    1146: "undefined_relation",  # table doesn't exist
    1049: "undefined_relation",  # unknown database (schema) in a query
    1051: "undefined_relation",  # unknown table (DROP)
    1044: "terminal",  # access denied to database
    1045: "terminal",  # access denied (wrong user or password)
    1698: "terminal",  # access denied (socket / plugin authentication)
    1130: "terminal",  # host is not allowed to connect
    1142: "terminal",  # command denied on table
    1143: "terminal",  # command denied on column
    1050: "terminal",  # table already exists
    1054: "terminal",  # unknown column
    1060: "terminal",  # duplicate column name
    1064: "terminal",  # syntax error
    1048: "terminal",  # column cannot be null
    1062: "terminal",  # duplicate entry
    1264: "terminal",  # out of range value
    1265: "terminal",  # data truncated
    1292: "terminal",  # incorrect datetime / truncated value
    1366: "terminal",  # incorrect value for column
    1367: "terminal",  # illegal value
    1406: "terminal",  # data too long
    1416: "terminal",  # cannot get geometry object
    1451: "terminal",  # foreign key: row is referenced
    1452: "terminal",  # foreign key: parent row missing
    1690: "terminal",  # value out of range in an expression
    1059: "terminal",  # identifier too long
    1071: "terminal",  # specified key was too long
    1074: "terminal",  # column length too big
    1117: "terminal",  # too many columns
    1118: "terminal",  # row size too large
    1166: "terminal",  # incorrect column name
    1170: "terminal",  # BLOB/TEXT column used in a key without a length
    1300: "terminal",  # invalid character string (a 4-byte character in a name)
    3750: "terminal",  # sql_require_primary_key: a table without a primary key (MySQL)
    4165: "terminal",  # wsrep_mode=REQUIRED_PRIMARY_KEY: a table without one (MariaDB Galera)
    3819: "terminal",  # check constraint violated (MySQL)
    4025: "terminal",  # check constraint failed (MariaDB)
    1213: "transient",  # deadlock; on Galera also a certification conflict with another node
    1180: "transient",  # error during COMMIT (Galera: the write set was aborted by the cluster)
    1047: "transient",  # Galera: node not connected to the Primary Component (not ready)
    1205: "transient",  # lock wait timeout
    3572: "transient",  # NOWAIT: row is locked (MySQL)
    1040: "transient",  # too many connections
    1203: "transient",  # user has too many connections
    1053: "transient",  # server shutdown in progress
    1317: "transient",  # query interrupted
    1927: "transient",  # connection was killed (MariaDB)
    1969: "transient",  # max_statement_time exceeded (MariaDB)
    3024: "transient",  # max_execution_time exceeded (MySQL)
    4031: "transient",  # disconnected by the server after inactivity (MySQL)
    2002: "transient",  # can't connect (socket)
    2003: "transient",  # can't connect (TCP)
    2005: "transient",  # unknown host
    2006: "transient",  # server has gone away
    2013: "transient",  # lost connection during query
    2055: "transient",  # lost connection at a system call
}

# MySQL error numbers caused by the data itself
_MYSQL_VALUE_ERRORS = frozenset(
    {1048, 1062, 1264, 1265, 1292, 1366, 1367, 1406, 1416, 1451, 1452, 1690, 3819, 4025}
)

# SQLite extended result code names, matched by prefix (SQLITE_CONSTRAINT_NOTNULL, ...).
# SQLite runs in-process: only contention for the file lock can pass with time.
_SQLITE_NAMES: dict[str, TErrorClass] = {
    "SQLITE_BUSY": "transient",
    "SQLITE_LOCKED": "transient",
    "SQLITE_PROTOCOL": "transient",
    "SQLITE_SCHEMA": "transient",  # the schema changed under a prepared statement
    "SQLITE_INTERRUPT": "transient",
    "SQLITE_NOMEM": "transient",
    "SQLITE_IOERR": "transient",
    "SQLITE_FULL": "transient",  # the disk may get space again
    "SQLITE_CONSTRAINT": "terminal",
    "SQLITE_MISMATCH": "terminal",
    "SQLITE_TOOBIG": "terminal",
    "SQLITE_RANGE": "terminal",
    "SQLITE_MISUSE": "terminal",
    "SQLITE_READONLY": "terminal",
    "SQLITE_CANTOPEN": "terminal",
    "SQLITE_NOTADB": "terminal",
    "SQLITE_CORRUPT": "terminal",
    "SQLITE_PERM": "terminal",
    "SQLITE_AUTH": "terminal",
    # plain SQL error: syntax, unknown column, missing table (told apart by `_sqlite_error`)
    "SQLITE_ERROR": "terminal",
}
_SQLITE_VALUE_ERRORS = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG")

# DuckDB raises one exception class per error kind
_DUCKDB_CLASSES: dict[str, TErrorClass] = {
    "ConversionException": "terminal",
    "ConstraintException": "terminal",
    "OutOfRangeException": "terminal",
    "ParserException": "terminal",
    "SyntaxException": "terminal",
    "InvalidInputException": "terminal",
    "InvalidTypeException": "terminal",
    "TypeMismatchException": "terminal",
    "BinderException": "terminal",
    "DependencyException": "terminal",
    "NotImplementedException": "terminal",
    "PermissionException": "terminal",
    "SequenceException": "terminal",
    "TransactionException": "transient",  # write-write conflict between transactions
    "ConnectionException": "transient",
    "InterruptException": "transient",
    # another process holding the file lock, a disk error; the dialect's hook tells a path
    # that cannot be opened (terminal) apart by its text
    "IOException": "transient",
    "OutOfMemoryException": "transient",
}
_DUCKDB_VALUE_ERRORS = frozenset(
    {"ConversionException", "ConstraintException", "OutOfRangeException"}
)

_UNDEFINED_PATTERNS = re.compile(
    r"does not exist|doesn't exist|no such table|no such database|unknown database|"
    r"unknown table|invalid object name|not found|ora-00942|ora-01918|is an undefined name|"
    r"invalid schema name|invalid table name",
    re.IGNORECASE,
)
_TRANSIENT_PATTERNS = re.compile(
    r"connection (was )?(reset|refused|closed|lost)|server closed the connection|"
    r"timed? ?out|deadlock|gone away|lost connection|could not connect|database is locked|"
    r"database table is locked|too many (connections|clients)|temporarily unavailable|"
    r"starting up|shutting down|in recovery mode|connection slots are reserved",
    re.IGNORECASE,
)
# what a server says when it refuses a login it received (only read when no code decides)
_REFUSED_PATTERNS = re.compile(
    r"\bFATAL:|password|authenticat|access denied|permission denied|not permitted|"
    r"does not exist|unknown database|no pg_hba\.conf entry|login failed",
    re.IGNORECASE,
)
# messages that name the missing table as the first thing SQLite says
_SQLITE_UNDEFINED = ("no such table", "unknown database", "no such database")


def classify(ex: Exception, dialect_caps: Optional[DialectCapabilities]) -> Optional[TErrorClass]:
    """Returns the outcome for `ex`, or None when it is not a database error at all.

    Judged on the driver's exception underneath (`driver_error`), so the same server error
    gets the same outcome whether a load path met it raw (`executemany` on the DBAPI cursor)
    or SQLAlchemy wrapped it (DDL, merge SQL, COMMIT).
    """
    if isinstance(ex, sa.exc.NoSuchTableError):
        return "undefined_relation"
    orig = driver_error(ex)
    if orig is None:
        return None
    undefined: Optional[bool] = None
    if dialect_caps is not None:
        verdict = dialect_caps.classify_error(orig)
        if verdict is not None:
            return verdict
        undefined = dialect_caps.is_undefined_relation(ex)
        if undefined is True:
            return "undefined_relation"
    verdict = _by_codes(orig)
    if verdict is not None:
        return verdict
    if undefined is not False and _UNDEFINED_PATTERNS.search(str(orig)):
        return "undefined_relation"
    return _by_class(ex, orig)


def driver_error(ex: BaseException) -> Any:
    """The driver's own exception beneath `ex` (through `.orig` and `__cause__`), or None
    when no database error is underneath.

    SQLAlchemy's wrapper class is chosen from the driver's class, but a load path calling the
    DBAPI cursor itself sees the driver's class bare: deciding on the one underneath keeps both
    routes to the same verdict.
    """
    seen: Set[int] = set()
    current: Optional[BaseException] = ex
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.exc.DBAPIError):
            if current.orig is None:
                return current
            if not isinstance(current.orig, sa.exc.StatementError):
                return current.orig  # whatever its class: what the driver (or dialect) raised
            current = current.orig
        elif isinstance(current, sa.exc.StatementError):
            current = current.orig or current.__cause__
        elif _looks_like_dbapi_error(current):
            return current
        else:
            return None
    return None


def connect_verdict(ex: Exception, dialect_caps: Optional[DialectCapabilities]) -> TErrorClass:
    """ "terminal" when the server refused the login or the database, else "transient".

    libpq gives no SQLSTATE for a refused login, so the server's `FATAL:` report is the only
    evidence there; codes decide first wherever the driver has them.
    """
    orig: Any = driver_error(ex)
    if orig is None:
        orig = ex
    verdict: Optional[TErrorClass] = None
    if dialect_caps is not None:
        verdict = dialect_caps.classify_error(orig)
    if verdict is None:
        verdict = _by_codes(orig)
    if verdict is None:
        message = str(orig)
        if _TRANSIENT_PATTERNS.search(message):
            return "transient"
        if _REFUSED_PATTERNS.search(message):
            return "terminal"
        verdict = _by_class(ex, orig)
    # a "missing relation" while connecting is a database name that does not exist
    return "transient" if verdict == "transient" else "terminal"


def is_value_error(ex: Exception) -> bool:
    """True when the data, not the statement, is at fault: a value the column cannot hold.

    Decides whether an insert failure is reported as `ValueNotStorable`; a terminal error of
    the statement itself (syntax, permissions, a missing column) must not be blamed on a value.
    """
    orig = driver_error(ex) or ex
    errno = mysql_errno_of(orig)  # before SQLSTATE: MySQL files some data errors under HY000
    if errno is not None:
        return errno in _MYSQL_VALUE_ERRORS
    sqlstate = sqlstate_of(orig)
    if sqlstate:
        return sqlstate[:2] in _VALUE_SQLSTATE_CLASSES
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if isinstance(sqlite_name, str):
        return sqlite_name.startswith(_SQLITE_VALUE_ERRORS)
    if _is_duckdb(orig):
        return type(orig).__name__ in _DUCKDB_VALUE_ERRORS
    data_errors = (sa.exc.IntegrityError, sa.exc.DataError)
    if isinstance(ex, data_errors):
        return True
    return any(t.__name__ in ("IntegrityError", "DataError") for t in type(orig).__mro__)


# limits a table declaration can exceed: (what was exceeded, what to do)
_TEXT_KEY = (
    "a TEXT or BLOB column in a key (primary key, unique, merge key, index) needs a length",
    "give the column a `precision` (text of at most that many characters), or keep MySQL's own"
    " type mapper (dlt-sqlalchemy's), which declares key columns VARCHAR(191)",
)
_MYSQL_LIMITS: dict[int, tuple[str, str]] = {
    1117: (
        "too many columns in one table (MySQL/MariaDB: at most 4096, fewer with wide types)",
        "load fewer columns into this table: nest sparse fields (dlt's max_table_nesting),"
        " drop unused ones, or split the resource",
    ),
    1118: (
        "row size too large (MySQL/MariaDB: 65,535 bytes for the fixed-width part of a row)",
        "declare long text columns without `precision` (TEXT counts a few bytes of the row),"
        " or load fewer columns into this table",
    ),
    1166: (
        "a column name MySQL/MariaDB cannot store",
        "use a naming convention that keeps names to letters, digits and `_` (dlt's default"
        " `snake_case`), or rename the field",
    ),
    1300: (
        "a character MySQL/MariaDB cannot hold in a name (4-byte characters such as emoji)",
        "use a naming convention that removes them (dlt's default `snake_case` does)",
    ),
    1059: ("an identifier longer than 64 characters", "use shorter table and column names"),
    1071: (
        "an index key longer than the server allows (3072 bytes with utf8mb4)",
        "give the key columns a smaller `precision`",
    ),
    1170: _TEXT_KEY,
    3750: (
        "the server requires a primary key on every table (sql_require_primary_key)",
        "give the resource a `primary_key` hint and set `create_primary_keys=True`",
    ),
    4165: (
        "the server requires a primary key on every table (wsrep_mode=REQUIRED_PRIMARY_KEY)",
        "give the resource a `primary_key` hint and set `create_primary_keys=True`",
    ),
}
_SQLSTATE_LIMITS: dict[str, tuple[str, str]] = {
    "54011": (
        "too many columns in one table (PostgreSQL: at most 1600)",
        "load fewer columns into this table: nest sparse fields (dlt's max_table_nesting),"
        " drop unused ones, or split the resource",
    ),
    "54000": (
        "a program limit of the database (a row, index entry or statement too large)",
        "load fewer or narrower columns into this table",
    ),
}


# SQLite reports its compile-time limits as a plain SQLITE_ERROR; only its text names them
_SQLITE_LIMITS: dict[str, tuple[str, str]] = {
    "too many columns": (
        "too many columns in one table (SQLite: at most 2000, its SQLITE_MAX_COLUMN default)",
        "load fewer columns into this table: nest sparse fields (dlt's max_table_nesting),"
        " drop unused ones, or split the resource",
    ),
}


# Galera's write-set limits come under generic numbers (1180 "error during COMMIT", 1105
# "unknown error"): only the server's text tells which limit was hit
_WSREP_LIMITS: dict[str, tuple[str, str]] = {
    "wsrep_max_ws_rows exceeded": (
        "the transaction changes more rows than the cluster allows (Galera wsrep_max_ws_rows)",
        "set the destination option `rows_per_commit` below that limit to commit each file in"
        " chunks, or raise wsrep_max_ws_rows on the server",
    ),
    "maximum writeset size exceeded": (
        "the transaction is larger than the cluster allows (Galera wsrep_max_ws_size)",
        "set the destination option `rows_per_commit` so that a chunk of rows stays below that"
        " size, or raise wsrep_max_ws_size on the server",
    ),
}


def _wsrep_limit(orig: Any) -> Optional[tuple[str, str]]:
    if mysql_errno_of(orig) not in (1180, 1105):
        return None
    message = driver_message(orig).lower()
    return next((v for k, v in _WSREP_LIMITS.items() if k in message), None)


def _limit_of(orig: Any) -> Optional[tuple[str, str]]:
    wsrep = _wsrep_limit(orig)
    if wsrep is not None:
        return wsrep
    errno = mysql_errno_of(orig)
    if errno is not None:
        return _MYSQL_LIMITS.get(errno)
    sqlstate = sqlstate_of(orig)
    if sqlstate:
        return _SQLSTATE_LIMITS.get(sqlstate)
    if (type(orig).__module__ or "").startswith("sqlite3"):
        message = str(orig)
        return next((v for k, v in _SQLITE_LIMITS.items() if message.startswith(k)), None)
    return None


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
        limit = _limit_of(driver_error(ex))
        if limit is not None:
            return DatabaseLimitExceeded(cause, *limit)
        return DatabaseTerminalException(cause)
    return DatabaseTransientException(cause)


def driver_message(ex: Exception) -> str:
    """The driver's own words, without SQLAlchemy's statement and parameter dump.

    MySQL drivers render `(errno, "text")`; only the text is worth showing to a user.
    """
    orig: Any = ex.orig if isinstance(ex, sa.exc.DBAPIError) and ex.orig is not None else ex
    args: Any = getattr(orig, "args", ())
    if mysql_errno_of(orig) is not None and len(args) > 1 and isinstance(args[1], str):
        text = args[1]
    elif isinstance(pg8000_fields(orig).get("M"), str):
        text = pg8000_fields(orig)["M"]  # pg8000 renders the whole field dict otherwise
    else:
        text = str(orig)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def column_of(ex: Exception) -> Optional[str]:
    """The column the server names in structured error fields (PostgreSQL's diagnostics)."""
    orig = ex.orig if isinstance(ex, sa.exc.DBAPIError) else ex
    name = getattr(getattr(orig, "diag", None), "column_name", None)
    if name is None:
        name = pg8000_fields(orig).get("c")
    return name if isinstance(name, str) and name else None


def sqlstate_of(orig: Any) -> Optional[str]:
    for attr in ("sqlstate", "pgcode"):
        code = getattr(orig, attr, None)
        if isinstance(code, str) and len(code) == 5:
            return code
    diag = getattr(orig, "diag", None)
    code = getattr(diag, "sqlstate", None)
    if isinstance(code, str) and len(code) == 5:
        return code
    code = pg8000_fields(orig).get("C")
    if isinstance(code, str) and len(code) == 5:
        return code
    # pyodbc puts the SQLSTATE first in args: ('42S02', '[42S02] [Microsoft]...')
    module = type(orig).__module__ or ""
    args = getattr(orig, "args", ())
    if module.startswith("pyodbc") and args and isinstance(args[0], str) and len(args[0]) == 5:
        return args[0]
    return None


def mysql_errno_of(orig: Any) -> Optional[int]:
    module = type(orig).__module__ or ""
    if not module.startswith(("MySQLdb", "pymysql", "mysql", "mariadb")):
        return None
    errno = getattr(orig, "errno", None)  # mysql-connector and mariadb connector
    if isinstance(errno, int) and errno > 0:
        return errno
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _by_codes(orig: Any) -> Optional[TErrorClass]:
    # an exact SQLSTATE, then the vendor's own number, then the SQLSTATE class: MySQL reports
    # many distinct errors under the catch-all HY000
    sqlstate = sqlstate_of(orig)
    if sqlstate and sqlstate in _SQLSTATE:
        return _SQLSTATE[sqlstate]
    if _wsrep_limit(orig) is not None:
        return "terminal"
    errno = mysql_errno_of(orig)
    if errno is not None and errno in _MYSQL:
        return _MYSQL[errno]
    if sqlstate and sqlstate[:2] in _SQLSTATE:
        return _SQLSTATE[sqlstate[:2]]
    if (type(orig).__module__ or "").startswith("sqlite3"):
        return _sqlite_verdict(orig)
    if _is_duckdb(orig):
        name = type(orig).__name__
        if name == "CatalogException":
            # one class for "no such table" and "already exists": only the text tells them apart
            return "undefined_relation" if _UNDEFINED_PATTERNS.search(str(orig)) else "terminal"
        return _DUCKDB_CLASSES.get(name)
    return None


def _sqlite_verdict(orig: Any) -> TErrorClass:
    """SQLite's result codes; a plain SQLITE_ERROR is also how it reports a missing table."""
    message = str(orig)
    name = getattr(orig, "sqlite_errorname", None)  # Python 3.11+
    if isinstance(name, str):
        if name == "SQLITE_ERROR" and message.startswith(_SQLITE_UNDEFINED):
            return "undefined_relation"
        for prefix, verdict in _SQLITE_NAMES.items():
            if name.startswith(prefix):
                return verdict
        return "terminal"
    # before Python 3.11 the code is not exposed; SQLite's English text is all there is
    if message.startswith(_SQLITE_UNDEFINED):
        return "undefined_relation"
    if _TRANSIENT_PATTERNS.search(message):
        return "transient"
    return "terminal"


def _is_duckdb(orig: Any) -> bool:
    return (type(orig).__module__ or "").startswith(("duckdb", "_duckdb"))


# PEP 249 exception classes, by name: a driver's class decides as its SQLAlchemy wrapper would
_TERMINAL_CLASSES = ("IntegrityError", "DataError", "ProgrammingError", "NotSupportedError")
_TRANSIENT_CLASSES = ("OperationalError", "InternalError", "InterfaceError")


def _by_class(ex: BaseException, orig: Any) -> TErrorClass:
    """The PEP 249 class of the driver's exception (the wrapper's when there is none)."""
    names = {t.__name__ for t in type(orig).__mro__}
    pep249 = {*_TERMINAL_CLASSES, *_TRANSIENT_CLASSES}
    if isinstance(orig, sa.exc.DBAPIError) or not names & pep249:
        names |= {t.__name__ for t in type(ex).__mro__}
    if names & set(_TERMINAL_CLASSES):
        return "terminal"
    if isinstance(ex, sa.exc.DBAPIError) and ex.connection_invalidated:
        return "transient"
    if _TRANSIENT_PATTERNS.search(str(orig)):
        return "transient"
    if names & set(_TRANSIENT_CLASSES):
        return "transient"
    return "terminal"


def _looks_like_dbapi_error(ex: BaseException) -> bool:
    """A raw driver exception (PEP 249 names), as raised below SQLAlchemy by a bulk path.
    Every PEP 249 name counts, not DatabaseError alone: MariaDB Connector/Python derives its
    ProgrammingError, IntegrityError ... from Error directly."""
    names = {"DatabaseError", *_TERMINAL_CLASSES, *_TRANSIENT_CLASSES}
    return any(t.__name__ in names for t in type(ex).__mro__)


def _scrubbed(ex: Exception, secrets: Iterable[str]) -> Exception:
    """Returns `ex`, or a plain copy of it with any secret in its text replaced by `***`."""
    text = str(ex)
    hidden = scrub(text, secrets)
    if hidden == text:
        return ex
    return RuntimeError(hidden)


# query-string keys whose values are secrets (`?password=`, ODBC `PWD`, `sslpassword`, tokens)
_SECRET_KEYS = re.compile(r"pass|pwd|secret|token|api_?key|access_?key", re.IGNORECASE)


def secret_forms(password: Optional[str], query: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Every spelling in which a credential could reach a message: raw and URL-encoded.

    A password with `@` or `/` travels percent-encoded inside URLs, and drivers that echo a
    connection string echo that form.
    """
    values: List[str] = [password] if password else []
    for key, value in (query or {}).items():
        if _SECRET_KEYS.search(str(key)):
            values.extend(value if isinstance(value, (list, tuple)) else [value])
    forms: List[str] = []
    for value in values:
        if not value:
            continue
        text = str(value)
        for form in (text, quote(text, safe=""), quote_plus(text)):
            if form not in forms:
                forms.append(form)
    # longest first, so that a secret containing another one is hidden whole
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def mentions_secret(ex: BaseException, secrets: Sequence[str]) -> bool:
    """True if `ex` or any exception it chains to carries a secret in its text."""
    if not secrets:
        return False
    seen: Set[int] = set()
    pending: List[Optional[BaseException]] = [ex]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        text = str(current)
        if any(secret and secret in text for secret in secrets):
            return True
        pending.extend((current.__cause__, current.__context__))
    return False
