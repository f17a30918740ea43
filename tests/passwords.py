"""Credentials that really carry a password, and the check that it shows up nowhere.

A "password never appears" assertion is only worth something when the URL has a password. The
test servers accept logins without one (PostgreSQL trusts 127.0.0.1, MariaDB's root has none),
so here PostgreSQL gets a password it ignores (trust) and MariaDB a user of its own with one.
SQLite and DuckDB files take no password: for them there is nothing to hide.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pathlib
import pickle
import traceback
import uuid
from typing import Iterator, List, Optional, Tuple
from urllib.parse import quote, quote_plus

import dlt
import sqlalchemy as sa

from conftest import Backend


def new_password() -> str:
    # URL-special characters: the password travels percent-encoded inside URLs as well
    return f"Pw@/{uuid.uuid4().hex[:12]}!"


@contextlib.contextmanager
def url_with_password(backend: Backend) -> Iterator[Tuple[str, Optional[str]]]:
    """The backend's URL with a password in it, and that password (None for database files).

    A URL that already has a password (a CI server configured with one) is used as it is.
    """
    url = sa.make_url(backend.url)
    if backend.name in ("sqlite", "duckdb"):
        yield backend.url, None
        return
    if url.password:
        yield backend.url, str(url.password)
        return
    secret = new_password()
    if backend.name == "postgresql":
        # trust authentication never asks for it; libpq still carries it with the URL
        yield url.set(password=secret).render_as_string(hide_password=False), secret
        return
    with _mariadb_user(backend.engine, secret) as user:
        yield url.set(username=user, password=secret).render_as_string(hide_password=False), secret


@contextlib.contextmanager
def _mariadb_user(engine: sa.Engine, secret: str) -> Iterator[str]:
    """A MariaDB user with a password that may create and fill datasets; dropped afterwards."""
    user = f"dlt_pw_{uuid.uuid4().hex[:8]}"
    hosts = ("%", "localhost")
    with engine.connect() as conn:
        for host in hosts:
            pattern = host.replace("%", "%%")  # the driver formats the statement with `%`
            conn.exec_driver_sql(f"CREATE USER '{user}'@'{pattern}' IDENTIFIED BY %s", (secret,))
            conn.exec_driver_sql(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'{pattern}'")
        conn.commit()
    try:
        yield user
    finally:
        with engine.connect() as conn:
            for host in hosts:
                pattern = host.replace("%", "%%")
                conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'{pattern}'")
            conn.commit()


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record at DEBUG, tracebacks included: the root logger's, SQLAlchemy's and
    dlt's own (which does not propagate to the root)."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(), logging.getLogger("dlt"), logging.getLogger("sqlalchemy")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield text
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(level)


def spellings(secret: str) -> List[str]:
    return list({secret, quote(secret, safe=""), quote_plus(secret)})


def assert_password_nowhere(
    secret: Optional[str],
    error: Optional[BaseException],
    logs: str,
    pipeline: Optional[dlt.Pipeline] = None,
) -> None:
    """No spelling of `secret` in the error, its traceback, the logs, `pipeline.last_trace`
    (pickled, as dlt stores it) or any file of the pipeline's working directory (trace.pickle,
    state, load packages)."""
    if secret is None:
        return
    texts = {"logs": logs}
    if error is not None:
        texts["str(error)"] = str(error)
        texts["traceback"] = "".join(traceback.format_exception(error))
    for where, text in texts.items():
        for form in spellings(secret):
            assert form not in text, f"the password appears in {where}"
    if pipeline is None:
        return
    forms = [form.encode() for form in spellings(secret)]
    if pipeline.last_trace is not None:
        dumped = pickle.dumps(pipeline.last_trace)
        assert not any(form in dumped for form in forms), "the password is in last_trace"
    files = [p for p in pathlib.Path(pipeline.working_dir).rglob("*") if p.is_file()]
    assert files, "the pipeline wrote its working directory"
    for path in files:
        content = path.read_bytes()
        assert not any(form in content for form in forms), f"the password is in {path}"
