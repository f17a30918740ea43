"""One verdict per server error, wherever it is raised: the driver's exception decides.

A load path calling the DBAPI cursor meets a driver error bare; DDL, merge SQL and COMMIT meet
it wrapped by SQLAlchemy. Both must be retried, or both not (issue #15 item 2).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, List, Optional, Tuple

import MySQLdb
import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from dlt.destinations.exceptions import (
    DatabaseTerminalException,
    DatabaseTransientException,
    DatabaseUndefinedRelation,
)

from dlt_sqlalchemy.client.errors import classify, driver_error, to_dlt_exception
from dlt_sqlalchemy.dialects import get_dialect_capabilities
from dlt_sqlalchemy.exceptions import DatabaseLimitExceeded

# (PEP 249 class name, MySQL error number, server text, expected verdict)
MYSQL_CASES: List[Tuple[str, int, str, str]] = [
    (
        "OperationalError",
        1180,
        'Got error 6 "No such device or address" during COMMIT',
        "transient",
    ),
    ("OperationalError", 1047, "WSREP has not yet prepared node for application use", "transient"),
    ("OperationalError", 1213, "Deadlock found when trying to get lock", "transient"),
    (
        "OperationalError",
        1205,
        "Lock wait timeout exceeded; try restarting transaction",
        "transient",
    ),
    ("OperationalError", 2013, "Lost connection to server during query", "transient"),
    ("OperationalError", 1105, "an error the server has no number for", "transient"),
    ("OperationalError", 1180, "wsrep_max_ws_rows exceeded", "terminal"),
    ("OperationalError", 1105, "Maximum writeset size exceeded", "terminal"),
    ("OperationalError", 4165, "Galera replication not supported", "terminal"),
    ("OperationalError", 3750, "Unable to create a table without PK", "terminal"),
    ("IntegrityError", 1062, "Duplicate entry '0' for key 'PRIMARY'", "terminal"),
    ("DataError", 1406, "Data too long for column 'name' at row 1", "terminal"),
    ("OperationalError", 1054, "Unknown column 'x' in 'field list'", "terminal"),
    ("ProgrammingError", 4242, "an error the client refuses", "terminal"),
    ("ProgrammingError", 1146, "Table 'test.nowhere' doesn't exist", "undefined_relation"),
]
MYSQL_DRIVERS = {"mysqldb": MySQLdb, "pymysql": pymysql.err}


def _other_drivers() -> List[Tuple[str, Callable[[], Exception], str]]:
    return [
        (
            "psycopg serialization",
            lambda: psycopg.errors.SerializationFailure("conflict"),
            "transient",
        ),
        ("psycopg unique", lambda: psycopg.errors.UniqueViolation("duplicate key"), "terminal"),
        ("psycopg undefined", lambda: psycopg.errors.UndefinedTable("no t"), "undefined_relation"),
        (
            "psycopg closed",
            lambda: psycopg.OperationalError("server closed the connection unexpectedly"),
            "transient",
        ),
        ("sqlite locked", lambda: sqlite3.OperationalError("database is locked"), "transient"),
        (
            "sqlite no table",
            lambda: sqlite3.OperationalError("no such table: t"),
            "undefined_relation",
        ),
    ]


def _wrapped(orig: Exception) -> sa.exc.DBAPIError:
    """What SQLAlchemy raises for `orig`: the wrapper class it picks from the driver's class."""
    base = next(t for t in type(orig).__mro__ if t.__name__ == "Error")
    wrapped = sa.exc.DBAPIError.instance("COMMIT", {}, orig, base)
    assert isinstance(wrapped, sa.exc.DBAPIError)
    return wrapped


def _caps(name: Optional[str]) -> Any:
    return get_dialect_capabilities(name) if name else None


CASES = [
    pytest.param(
        lambda m=MYSQL_DRIVERS[driver], c=cls, n=errno, t=text: getattr(m, c)(n, t),
        verdict,
        caps,
        id=f"{driver}-{errno}-{cls}-{verdict}-{caps or 'generic'}"
        + ("-wsrep" if "wsrep" in text.lower() or "writeset" in text.lower() else ""),
    )
    for driver in MYSQL_DRIVERS
    for cls, errno, text, verdict in MYSQL_CASES
    for caps in ("mysql", None)
    if caps or driver == "mysqldb"
] + [
    pytest.param(make, verdict, None, id=name.replace(" ", "-"))
    for name, make, verdict in _other_drivers()
]


@pytest.mark.parametrize("make, verdict, caps", CASES)
def test_raw_and_wrapped_driver_errors_get_one_verdict(
    make: Callable[[], Exception], verdict: str, caps: Optional[str]
) -> None:
    raw = make()
    wrapped = _wrapped(make())
    assert driver_error(wrapped) is wrapped.orig
    assert classify(raw, _caps(caps)) == verdict
    assert classify(wrapped, _caps(caps)) == verdict
    raw_dlt = to_dlt_exception(raw, _caps(caps))
    wrapped_dlt = to_dlt_exception(wrapped, _caps(caps))
    assert type(raw_dlt) is type(wrapped_dlt)
    expected = {
        "transient": DatabaseTransientException,
        "terminal": DatabaseTerminalException,
        "undefined_relation": DatabaseUndefinedRelation,
    }[verdict]
    assert isinstance(raw_dlt, expected)


@pytest.mark.parametrize(
    "text, limit",
    [
        ("wsrep_max_ws_rows exceeded", "wsrep_max_ws_rows"),
        ("Maximum writeset size exceeded", "wsrep_max_ws_size"),
    ],
)
def test_write_set_limits_name_the_limit_and_the_option(text: str, limit: str) -> None:
    errno = 1180 if "rows" in limit else 1105
    for ex in (
        MySQLdb.OperationalError(errno, text),
        _wrapped(MySQLdb.OperationalError(errno, text)),
    ):
        translated = to_dlt_exception(ex, _caps("mysql"))
        assert isinstance(translated, DatabaseLimitExceeded), translated
        assert limit in str(translated) and "rows_per_commit" in str(translated)


def test_a_statement_error_without_a_driver_error_is_not_a_database_error() -> None:
    assert driver_error(ValueError("not from a database")) is None
    assert classify(ValueError("not from a database"), None) is None
