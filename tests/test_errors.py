"""Errors: one translation at the SQL client, clear messages for bad input, no secret ever shown.

Every situation is produced on a live database: the classification must hold for the codes
real drivers send, not for exceptions we would build ourselves.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import pathlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Type
from urllib.parse import quote, quote_plus

import dlt
import pytest
import sqlalchemy as sa
from dlt.common.destination.exceptions import (
    DestinationTerminalException,
    DestinationTransientException,
)
from dlt.destinations.exceptions import (
    DatabaseTerminalException,
    DatabaseTransientException,
    DatabaseUndefinedRelation,
)
from dlt.load.exceptions import LoadClientJobRetry, LoadClientJobTerminalRetry
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.helpers import retry_load
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from conftest import LIVE_BACKENDS, SERVER_URLS, Backend, hide_module, require_server
from dlt_sqlalchemy import sqlalchemy as sqlalchemy_destination
from dlt_sqlalchemy.client.errors import secret_forms
from dlt_sqlalchemy.exceptions import (
    DatabaseUnreachable,
    DriverImportFailed,
    InvalidCredentials,
    MissingDriver,
    UnknownDialect,
    ValueNotStorable,
)
from passwords import assert_password_nowhere, captured_logs, url_with_password

DB_OUTCOMES = (DatabaseUndefinedRelation, DatabaseTerminalException, DatabaseTransientException)


# --- helpers ----------------------------------------------------------------------------------


def chain(ex: BaseException) -> List[BaseException]:
    """`ex` and every exception a traceback would print after it (causes and contexts)."""
    found: List[BaseException] = []
    current: Optional[BaseException] = ex
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return found


def in_chain(ex: BaseException, kind: Type[BaseException]) -> Any:
    matches = [e for e in chain(ex) if isinstance(e, kind)]
    assert matches, f"no {kind.__name__} in {[type(e).__name__ for e in chain(ex)]}"
    return matches[0]


def full_trace(ex: BaseException) -> str:
    return "".join(traceback.format_exception(ex))


def assert_outcome(ex: BaseException, expected: Type[BaseException]) -> None:
    """`ex` is exactly one of dlt's three outcomes, the expected one, chained to the driver."""
    assert isinstance(ex, expected), f"{type(ex).__name__}: {ex}"
    others = [kind for kind in DB_OUTCOMES if kind is not expected]
    assert not isinstance(ex, tuple(others)), f"{type(ex).__name__} is also one of {others}"
    assert ex.__cause__ is not None, "the driver's error stays reachable for debugging"


def closed_port() -> int:
    """A local TCP port nothing listens on: bound once, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_secret() -> str:
    # URL-special characters: the password travels percent-encoded in the URL as well
    return f"S3cr3t@/{uuid.uuid4().hex[:12]}"


def with_credentials(url: str, **parts: Any) -> str:
    return sa.make_url(url).set(**parts).render_as_string(hide_password=False)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Captures every log record at DEBUG: the root logger's and dlt's own (which does not
    propagate), so a test can assert that no secret was logged anywhere."""
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # it defaults itself to WARNING
    dlt_logger = logging.getLogger("dlt")
    level = dlt_logger.level
    dlt_logger.setLevel(logging.DEBUG)
    dlt_logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        dlt_logger.removeHandler(caplog.handler)
        dlt_logger.setLevel(level)


def assert_hidden(secret: str, ex: BaseException, logs: pytest.LogCaptureFixture) -> None:
    assert_hidden_in(secret, ex, logs.text)


def assert_hidden_in(secret: str, ex: BaseException, logs: str) -> None:
    # the password travels percent-encoded inside URLs: look for those spellings too
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    texts = {"str(exc)": str(ex), "traceback": full_trace(ex), "logs": logs}
    for where, text in texts.items():
        for form in forms:
            assert form not in text, f"the password appears in {where}"


def assert_not_on_disk(secret: str, pipeline: dlt.Pipeline) -> None:
    """Traces, state and packages the pipeline saved hold no spelling of the password."""
    forms = [f.encode() for f in (secret, quote(secret, safe=""), quote_plus(secret))]
    files = [p for p in pathlib.Path(pipeline.working_dir).rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        assert not any(form in content for form in forms), f"the password is in {path}"


def dlt_log_text(logs: pytest.LogCaptureFixture) -> str:
    """dlt's records only, tracebacks included."""
    return "\n".join(logs.handler.format(r) for r in logs.records if r.name.startswith("dlt"))


def load_fails_but_keeps_the_data(pipeline: dlt.Pipeline, rows: Sequence[Any]) -> Any:
    """Extracts and normalizes `rows`, then loads: the load must fail and keep the package.

    (`pipeline.run` on a fresh pipeline would fail earlier, when it syncs state from the
    destination, before any data is taken from the source.)
    """
    pipeline.extract(rows, table_name="t")
    pipeline.normalize()
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.load()
    assert raised.value.step == "load"
    assert pipeline.list_normalized_load_packages(), "the data waits in a pending package"
    return raised.value


def rows_of(pipeline: dlt.Pipeline, table: str, columns: str = "id") -> List[Any]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"SELECT {columns} FROM {client.make_qualified_table_name(table)} ORDER BY id"
        )
    return [tuple(r) for r in rows or []]


# --- bad input: dialect, driver ---------------------------------------------------------------


def test_unknown_dialect_is_named_with_what_to_do(tmp_path: Any) -> None:
    secret = new_secret()
    url = f"foo://loader:{quote(secret, safe='')}@127.0.0.1/dwh"
    with pytest.raises(UnknownDialect) as raised:
        pipeline = dlt.pipeline(
            pipeline_name="unknown_dialect",
            destination=sqlalchemy_destination(url),
            dataset_name="d",
            pipelines_dir=str(tmp_path),
        )
        pipeline.run([{"id": 1}], table_name="t")
    ex = raised.value
    assert isinstance(ex, ValueError) and isinstance(ex, DestinationTerminalException)
    assert "`foo`" in str(ex) and "pip install" in str(ex)
    for form in (secret, quote(secret, safe=""), quote_plus(secret)):
        assert form not in full_trace(ex)


MISSING_DRIVERS = {
    "mssql+pyodbc": ("pyodbc", "pip install pyodbc"),
    "oracle+oracledb": ("oracledb", "pip install oracledb"),
    "postgresql+pg8000": ("pg8000", 'pip install "dlt-sqlalchemy[pg8000]"'),
    "mysql+mysqlconnector": ("mysql", 'pip install "dlt-sqlalchemy[mysql-connector]"'),
    "mariadb+mariadbconnector": ("mariadb", 'pip install "dlt-sqlalchemy[mariadb]"'),
}


@pytest.mark.parametrize("drivername", sorted(MISSING_DRIVERS))
def test_missing_driver_says_what_to_install(
    drivername: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, hint = MISSING_DRIVERS[drivername]
    hide_module(monkeypatch, module)
    pipeline = dlt.pipeline(
        pipeline_name=f"missing_{module}",
        destination=sqlalchemy_destination(f"{drivername}://loader:pw@127.0.0.1/dwh"),
        dataset_name="d",
        pipelines_dir=str(tmp_path),
    )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1}], table_name="t")
    missing = in_chain(raised.value, MissingDriver)
    assert isinstance(missing, ImportError) and isinstance(missing, DestinationTerminalException)
    assert not isinstance(missing, DriverImportFailed), "absent, not installed-but-broken"
    named = "mysql.connector" if module == "mysql" else module  # a package's submodule
    assert f"`{named}`" in str(missing) and hint in str(missing)
    assert "which is not installed" in str(missing)
    assert hint in str(raised.value), "the install command reaches the user's error"
    assert raised.value.step == "sync", "fails before any data is taken from the source"
    failed = load_fails_but_keeps_the_data(pipeline, [{"id": 1}])
    assert hint in str(in_chain(failed, MissingDriver))


# per live backend: a URL and the driver module it names, hidden by the test
ABSENT_DRIVERS = {
    "sqlite": ("sqlite+pysqlcipher:///{dir}/x.db?cipher=aes-256-cfb", "pysqlcipher3"),
    "duckdb": ("duckdb:///{dir}/x.duckdb", "duckdb_engine"),
    "postgresql": ("postgresql+pg8000://loader:{pw}@127.0.0.1:5432/test", "pg8000"),
    "mariadb": ("mariadb+mariadbconnector://loader:{pw}@127.0.0.1:3306/test", "mariadb"),
}


def load_storage_files(pipelines_dir: pathlib.Path) -> List[pathlib.Path]:
    """Every file of every load package (new, extracted, normalized) under `pipelines_dir`."""
    return [p for p in pipelines_dir.rglob("load/*/*/**/*") if p.is_file()]


@pytest.mark.parametrize("backend_name", LIVE_BACKENDS)
@pytest.mark.parametrize("mode", ["run", "dev_mode"])
def test_missing_driver_is_found_before_extract_and_normalize(
    backend_name: str,
    mode: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    """`pipeline.run(data)` syncs with the destination before it takes any data from the
    source; that is where the driver is first needed, and where its absence stops the run.

    With `dev_mode=True` (or `restore_from_destination=false`) dlt does not contact the
    destination before extract, and extract and normalize need no driver by design (see
    test_capabilities.py): the load step is the first to start the client, and the package
    waits there for the driver.
    """
    url, module = ABSENT_DRIVERS[backend_name]
    # the DuckDB dialect ships inside duckdb-engine: its import fails as if never installed
    hide_module(monkeypatch, module)
    secret = new_secret()
    pipelines_dir = tmp_path / "p"

    def make_pipeline() -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=f"absent_{backend_name}_{mode}",
            destination=sqlalchemy_destination(url.format(dir=tmp_path, pw=quote(secret, safe=""))),
            dataset_name="d",
            pipelines_dir=str(pipelines_dir),
            dev_mode=mode == "dev_mode",
        )

    if backend_name == "duckdb":
        # a dialect inside its driver package cannot even be named without the package
        with pytest.raises(MissingDriver) as early:
            make_pipeline()
        assert "pip install duckdb duckdb-engine" in str(early.value)
        assert "has no dialect" not in str(early.value), "a package to install, not a typo"
        assert not load_storage_files(pipelines_dir)
        return
    pipeline = make_pipeline()
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1}, {"id": 2}], table_name="t")
    missing = in_chain(raised.value, MissingDriver)
    assert isinstance(missing, DestinationTerminalException)
    assert f"`{module}`" in str(missing) and "pip install" in str(missing)
    if mode == "run":
        assert raised.value.step == "sync"
        assert not pipeline.list_extracted_load_packages()
        assert not pipeline.list_normalized_load_packages()
        assert not load_storage_files(pipelines_dir), "no data work was done"
    else:
        assert raised.value.step == "load"
        assert pipeline.list_normalized_load_packages(), "the data waits for the driver"
        assert load_storage_files(pipelines_dir), "(the check of the `run` case can see files)"
    assert_hidden(secret, raised.value, all_logs)
    assert_not_on_disk(secret, pipeline)


@pytest.fixture
def broken_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Callable[[str, str], None]:
    """Installs a driver module whose import fails the way CPython fails a compiled module that
    cannot load a shared library: a plain `ImportError` (not `ModuleNotFoundError`) carrying
    the module's name, the path of its `.so` and the dynamic loader's message. (Checked against
    a real extension module linked to a missing `libodbc.so.2`.)"""
    folder = tmp_path / "broken_drivers"
    folder.mkdir()

    def install(module: str, loader_message: str) -> None:
        so_path = folder / f"{module}.cpython-311-x86_64-linux-gnu.so"
        (folder / f"{module}.py").write_text(
            f"raise ImportError({loader_message!r}, name={module!r}, path={str(so_path)!r})\n"
        )
        for name in list(sys.modules):
            if name == module or name.startswith(module + "."):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.syspath_prepend(str(folder))

    return install


NO_LIBODBC = "libodbc.so.2: cannot open shared object file: No such file or directory"
BROKEN_DRIVERS = {
    # pyodbc present, unixODBC absent: what a fresh Debian/Ubuntu image does
    "pyodbc without unixODBC": (
        "mssql+pyodbc",
        "pyodbc",
        NO_LIBODBC,
        ["`libodbc.so.2`", "apt-get install unixodbc", "msodbcsql18"],
    ),
    # any driver, any library: named from the loader's message
    "a library we have no hint for": (
        "postgresql+pg8000",
        "pg8000",
        "libfrob.so.7: cannot open shared object file: No such file or directory",
        ["`libfrob.so.7`", "system's package manager"],
    ),
    # installed but broken otherwise (a version mismatch): reinstalling is the advice
    "no library involved": (
        "postgresql+pg8000",
        "pg8000",
        "cannot import name 'Connection' from 'pg8000.core'",
        [
            "cannot import name 'Connection'",
            "Reinstall or upgrade",
            'pip install "dlt-sqlalchemy[pg8000]"',
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_DRIVERS))
def test_installed_driver_that_cannot_load_says_what_is_really_missing(
    case: str,
    tmp_path: Any,
    broken_driver: Callable[[str, str], None],
    all_logs: pytest.LogCaptureFixture,
) -> None:
    drivername, module, loader_message, expected = BROKEN_DRIVERS[case]
    broken_driver(module, loader_message)
    secret = new_secret()
    pipeline = dlt.pipeline(
        pipeline_name=f"broken_{module}",
        destination=sqlalchemy_destination(
            f"{drivername}://loader:{quote(secret, safe='')}@127.0.0.1/dwh"
        ),
        dataset_name="d",
        pipelines_dir=str(tmp_path / "p"),
    )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1}], table_name="t")
    assert raised.value.step == "sync", "found before any data is taken from the source"
    assert not pipeline.list_extracted_load_packages()
    assert not pipeline.list_normalized_load_packages()
    failed = in_chain(raised.value, DriverImportFailed)
    # still a MissingDriver (and an ImportError) for code that catches those; terminal
    assert isinstance(failed, MissingDriver) and isinstance(failed, ImportError)
    assert isinstance(failed, DestinationTerminalException)
    message = str(failed)
    assert f"`{module}` is installed" in message and "not installed" not in message
    assert loader_message in message, "the loader's own words say what failed"
    for words in expected:
        assert words in message
    assert message.endswith("#driver-import-failed")
    assert_hidden(secret, raised.value, all_logs)
    assert_not_on_disk(secret, pipeline)


# --- bad input: credentials, host, database ---------------------------------------------------


@contextlib.contextmanager
def mariadb_user(secret: str) -> Iterator[str]:
    """A real MariaDB / MySQL user with a password, dropped afterwards with its schemas."""
    url = require_server("mariadb")
    engine = sa.create_engine(url)
    user = f"dlt_err_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        for host in ("%", "localhost"):
            pattern = host.replace("%", "%%")  # the driver formats the statement with `%`
            conn.exec_driver_sql(f"CREATE USER '{user}'@'{pattern}' IDENTIFIED BY %s", (secret,))
            conn.exec_driver_sql(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'{pattern}'")
        conn.commit()
    try:
        yield user
    finally:
        with engine.connect() as conn:
            for host in ("%%", "localhost"):  # `%` doubled: the driver formats with `%`
                conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'{host}'")
            # datasets the user's pipelines created (named after it by the tests)
            schemas = conn.exec_driver_sql(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                (f"{user}%",),
            ).scalars()
            for schema in list(schemas):
                conn.exec_driver_sql(f"DROP SCHEMA `{schema}`")
            conn.commit()
        engine.dispose()


@contextlib.contextmanager
def postgres_role(secret: str) -> Iterator[str]:
    """A real PostgreSQL role with a password that may not log in (see the test below)."""
    url = require_server("postgresql")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    role = f"dlt_err_{uuid.uuid4().hex[:8]}"
    assert "'" not in secret
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN PASSWORD '{secret}'")
        conn.exec_driver_sql(f"GRANT CREATE ON DATABASE {sa.make_url(url).database} TO {role}")
    try:
        yield role
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role} CASCADE")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        engine.dispose()


def test_wrong_password_mariadb_is_terminal_and_never_shown(
    tmp_path: Any, all_logs: pytest.LogCaptureFixture
) -> None:
    secret = new_secret()
    wrong = new_secret()
    with mariadb_user(secret) as user:
        all_logs.clear()  # creating the user logged its password: that was the test, not us
        base = SERVER_URLS["mariadb"]
        pipeline = dlt.pipeline(
            pipeline_name="wrong_password",
            destination=sqlalchemy_destination(
                with_credentials(base, username=user, password=wrong)
            ),
            dataset_name=user,
            pipelines_dir=str(tmp_path),
        )
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.run([{"id": 1}, {"id": 2}], table_name="t")
        refused = in_chain(raised.value, InvalidCredentials)
        assert not isinstance(refused, DestinationTransientException)
        assert "Access denied" in str(refused) and "password" in str(refused)
        assert_hidden(wrong, raised.value, all_logs)

        # the SQL client says the same, on its own
        with pytest.raises(InvalidCredentials) as direct, pipeline.sql_client() as client:
            client.execute_sql("SELECT 1")
        assert_hidden(wrong, direct.value, all_logs)

        # nothing is lost: the package waits, and loads once the password is right
        failed = load_fails_but_keeps_the_data(pipeline, [{"id": 1}, {"id": 2}])
        in_chain(failed, InvalidCredentials)
        assert any(r.name == "dlt" for r in all_logs.records), "dlt's own log is captured"
        assert_hidden(wrong, failed, all_logs)
        fixed = dlt.pipeline(
            pipeline_name="wrong_password",
            destination=sqlalchemy_destination(
                with_credentials(base, username=user, password=secret)
            ),
            dataset_name=pipeline.dataset_name,
            pipelines_dir=str(tmp_path),
        )
        fixed.run()
        assert rows_of(fixed, "t") == [(1,), (2,)]
        assert_not_on_disk(wrong, fixed)
        assert_not_on_disk(secret, fixed)
        assert_hidden(secret, raised.value, all_logs)
        assert_hidden(wrong, raised.value, all_logs)


def test_refused_login_postgresql_is_terminal_and_never_shown(
    tmp_path: Any, all_logs: pytest.LogCaptureFixture
) -> None:
    """The test servers trust 127.0.0.1, so PostgreSQL never checks a password there; a NOLOGIN
    role makes the server itself refuse the login (libpq reports no SQLSTATE for that)."""
    secret = new_secret()
    with postgres_role(secret) as role:
        all_logs.clear()  # creating the role logged its password: that was the test, not us
        base = SERVER_URLS["postgresql"]
        pipeline = dlt.pipeline(
            pipeline_name="refused_login",
            destination=sqlalchemy_destination(
                with_credentials(base, username=role, password=secret)
            ),
            dataset_name=f"ds_{uuid.uuid4().hex[:10]}",
            pipelines_dir=str(tmp_path),
        )
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.run([{"id": 1}, {"id": 2}], table_name="t")
        refused = in_chain(raised.value, InvalidCredentials)
        assert not isinstance(refused, DestinationTransientException)
        assert "not permitted to log in" in str(refused)
        assert_hidden(secret, raised.value, all_logs)

        # nothing is lost: the package waits, and loads once the role may log in
        failed = load_fails_but_keeps_the_data(pipeline, [{"id": 1}, {"id": 2}])
        in_chain(failed, InvalidCredentials)
        assert any(r.name == "dlt" for r in all_logs.records), "dlt's own log is captured"
        assert_hidden(secret, failed, all_logs)
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"ALTER ROLE {role} LOGIN")
        engine.dispose()
        pipeline.run()
        assert rows_of(pipeline, "t") == [(1,), (2,)]
        with pipeline.sql_client() as client:
            client.drop_dataset()
        assert_hidden(secret, raised.value, all_logs)


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_unreachable_host_is_transient(
    server: str, tmp_path: Any, all_logs: pytest.LogCaptureFixture
) -> None:
    secret = new_secret()
    url = with_credentials(SERVER_URLS[server], port=closed_port(), password=secret)
    pipeline = dlt.pipeline(
        pipeline_name=f"unreachable_{server}",
        destination=sqlalchemy_destination(url),
        dataset_name="d",
        pipelines_dir=str(tmp_path),
    )
    with pytest.raises(DatabaseUnreachable) as raised, pipeline.sql_client() as client:
        client.execute_sql("SELECT 1")
    assert isinstance(raised.value, DestinationTransientException)
    assert "Cannot reach the database at" in str(raised.value)
    assert_hidden(secret, raised.value, all_logs)

    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run([{"id": 1}], table_name="t")
    in_chain(failed.value, DatabaseUnreachable)
    assert_hidden(secret, failed.value, all_logs)
    # the data waits for the server to return
    unreachable = load_fails_but_keeps_the_data(pipeline, [{"id": 1}])
    in_chain(unreachable, DatabaseUnreachable)
    assert_hidden(secret, unreachable, all_logs)
    assert_not_on_disk(secret, pipeline)


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_unknown_database_is_terminal(server: str, tmp_path: Any) -> None:
    database = f"no_such_db_{uuid.uuid4().hex[:8]}"
    url = with_credentials(require_server(server), database=database)
    pipeline = dlt.pipeline(
        pipeline_name=f"unknown_db_{server}",
        destination=sqlalchemy_destination(url),
        dataset_name="d",
        pipelines_dir=str(tmp_path),
    )
    with pytest.raises(InvalidCredentials) as raised, pipeline.sql_client() as client:
        client.execute_sql("SELECT 1")
    assert not isinstance(raised.value, DestinationTransientException)
    assert database in str(raised.value) and "database name" in str(raised.value)


@pytest.mark.parametrize("scheme", ["sqlite", "duckdb"])
@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_database_file_that_cannot_be_opened_is_terminal(
    scheme: str, where: str, tmp_path: Any
) -> None:
    """The path names a folder, or a file inside a regular file: no retry can open it."""
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    path = tmp_path / "a_folder" if where == "a folder" else tmp_path / "a_file" / "x.db"
    pipeline = dlt.pipeline(
        pipeline_name=f"{scheme}_cantopen",
        destination=sqlalchemy_destination(f"{scheme}:///{path}"),
        dataset_name="d",
        pipelines_dir=str(tmp_path / "p"),
    )
    with pytest.raises(InvalidCredentials) as raised, pipeline.sql_client() as client:
        client.execute_sql("SELECT 1")
    assert not isinstance(raised.value, DestinationTransientException)
    assert str(path) in str(raised.value)


@contextlib.contextmanager
def duckdb_held(path: pathlib.Path) -> Iterator[subprocess.Popen]:
    """Another *process* holds the DuckDB file open for writing (DuckDB's file lock is per
    process) until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " sys.stdin.read(); c.close()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.communicate("", timeout=30)


def assert_lock_conflict(failed: PipelineStepFailed, step: str) -> None:
    """The run failed at `step` with a transient error naming the lock, which dlt's
    `retry_load` retries."""
    assert failed.step == step
    unreachable = in_chain(failed, DatabaseUnreachable)
    assert isinstance(unreachable, DestinationTransientException)
    assert not isinstance(unreachable, DestinationTerminalException)
    assert "Conflicting lock" in str(unreachable)
    assert failed.exception is unreachable, "raised outside a job: the step's own error"
    assert retry_load(("sync", "load"))(failed), "dlt's retry helper retries it"


def test_duckdb_file_locked_by_another_process_is_transient(tmp_path: Any) -> None:
    """A DuckDB file is open for writing in one process at a time; the holder may finish."""
    path = tmp_path / "held.duckdb"
    with duckdb_held(path):
        pipeline = dlt.pipeline(
            pipeline_name="duckdb_held",
            destination=sqlalchemy_destination(f"duckdb:///{path}"),
            dataset_name="d",
            pipelines_dir=str(tmp_path / "p"),
        )
        with pytest.raises(DatabaseUnreachable) as raised, pipeline.sql_client() as client:
            client.execute_sql("SELECT 1")
        assert "lock" in str(raised.value).lower()


def test_duckdb_lock_at_sync_fails_the_run_transient_before_any_data_work(
    tmp_path: Any,
) -> None:
    """Held when the run starts: dlt does not retry outside a load job, so the run fails at
    once (transient); `retry_load` (or the next run) loads once the holder lets go."""
    path = tmp_path / "held.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="duckdb_held_sync",
        destination=sqlalchemy_destination(f"duckdb:///{path}"),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "p"),
    )
    attempts = 0
    with duckdb_held(path) as holder:
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.run([{"id": 1}, {"id": 2}], table_name="t")
        assert_lock_conflict(raised.value, "sync")
        assert not pipeline.list_extracted_load_packages()
        assert not pipeline.list_normalized_load_packages()

        # a retry loop as docs/troubleshooting.md shows it: the holder lets go after try one
        for attempt in Retrying(
            stop=stop_after_attempt(3),
            wait=wait_fixed(0.1),
            retry=retry_if_exception(retry_load(("sync", "load"))),
            reraise=True,
        ):
            with attempt:
                attempts += 1
                if attempts == 2:
                    holder.communicate("", timeout=30)
                pipeline.run([{"id": 1}, {"id": 2}], table_name="t")
    assert attempts == 2
    assert rows_of(pipeline, "t") == [(1,), (2,)]


def test_duckdb_lock_at_the_load_step_keeps_the_package_and_loads_it_once(
    tmp_path: Any,
) -> None:
    """Held between normalize and load: the load step fails transient before any job ran, the
    package waits, and the next load writes every row exactly once."""
    path = tmp_path / "held.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="duckdb_held_load",
        destination=sqlalchemy_destination(f"duckdb:///{path}"),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "p"),
    )
    pipeline.run([{"id": 1}], table_name="t")
    pipeline.extract([{"id": 2}, {"id": 3}], table_name="t")
    pipeline.normalize()
    with duckdb_held(path):
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.load()
        assert_lock_conflict(raised.value, "load")
        assert pipeline.list_normalized_load_packages(), "the data waits in a pending package"
    pipeline.load()
    assert rows_of(pipeline, "t") == [(1,), (2,), (3,)]


def test_duckdb_lock_met_by_a_statement_is_transient(tmp_path: Any) -> None:
    """The same lock met by a statement (ATTACH of a file another process holds) goes
    through the SQL client's translation, not the connect path: transient as well."""
    pipeline = dlt.pipeline(
        pipeline_name="duckdb_attach_held",
        destination=sqlalchemy_destination(f"duckdb:///{tmp_path / 'main.duckdb'}"),
        dataset_name="d",
        pipelines_dir=str(tmp_path / "p"),
    )
    held = tmp_path / "other.duckdb"
    with duckdb_held(held), pipeline.sql_client() as client:
        with pytest.raises(DatabaseTransientException) as raised:
            client.execute_sql(f"ATTACH '{held}' AS other")
        assert_outcome(raised.value, DatabaseTransientException)
        assert "Conflicting lock" in str(raised.value)
        # a path that cannot be opened is the other IOException: terminal
        with pytest.raises(DatabaseTerminalException) as bad_path:
            client.execute_sql(f"ATTACH '{tmp_path / 'no_dir' / 'x.duckdb'}' AS nowhere")
        assert_outcome(bad_path.value, DatabaseTerminalException)


# --- classification through the SQL client ----------------------------------------------------


def _q(client: Any, name: str) -> str:
    return str(client.capabilities.escape_identifier(name))


CASES: Dict[str, Dict[str, Any]] = {
    "missing table": dict(
        sql=lambda c: [f"SELECT * FROM {c.make_qualified_table_name('no_such_table')}"],
        expected=DatabaseUndefinedRelation,
    ),
    "missing table on insert": dict(
        sql=lambda c: [f"INSERT INTO {c.make_qualified_table_name('no_such_table')} VALUES (1)"],
        expected=DatabaseUndefinedRelation,
    ),
    "missing schema": dict(
        sql=lambda c: [f"SELECT * FROM {_q(c, 'no_such_dataset')}.{_q(c, 't')}"],
        expected=DatabaseUndefinedRelation,
    ),
    "syntax error": dict(sql=lambda c: ["SELEC 1"], expected=DatabaseTerminalException),
    "unknown column": dict(
        sql=lambda c: [f"SELECT no_such_column FROM {c.make_qualified_table_name('t')}"],
        expected=DatabaseTerminalException,
    ),
    "duplicate key": dict(
        sql=lambda c: [
            f"CREATE TABLE {c.make_qualified_table_name('u')} (id INTEGER NOT NULL PRIMARY KEY)",
            f"INSERT INTO {c.make_qualified_table_name('u')} VALUES (1)",
            f"INSERT INTO {c.make_qualified_table_name('u')} VALUES (1)",
        ],
        expected=DatabaseTerminalException,
    ),
    "null into not null": dict(
        sql=lambda c: [
            f"CREATE TABLE {c.make_qualified_table_name('nn')} (id INTEGER NOT NULL)",
            f"INSERT INTO {c.make_qualified_table_name('nn')} VALUES (NULL)",
        ],
        expected=DatabaseTerminalException,
    ),
    "text too long": dict(
        sql=lambda c: [
            f"CREATE TABLE {c.make_qualified_table_name('v')} (s VARCHAR(3))",
            f"INSERT INTO {c.make_qualified_table_name('v')} VALUES ('abcdef')",
        ],
        expected=DatabaseTerminalException,
        backends=("postgresql", "mariadb"),  # SQLite and DuckDB do not enforce VARCHAR(n)
    ),
    "integer out of range": dict(
        sql=lambda c: [
            f"CREATE TABLE {c.make_qualified_table_name('r')} (n SMALLINT)",
            f"INSERT INTO {c.make_qualified_table_name('r')} VALUES (70000)",
        ],
        expected=DatabaseTerminalException,
        backends=("postgresql", "mariadb", "duckdb"),  # SQLite stores any integer
    ),
    "conversion error": dict(
        sql=lambda c: ["SELECT CAST('abc' AS INTEGER)"],
        expected=DatabaseTerminalException,
        backends=("postgresql", "duckdb"),  # MariaDB and SQLite convert with a warning
    ),
}


@pytest.fixture
def loaded(backend: Backend) -> dlt.Pipeline:
    """A pipeline whose dataset holds table `t` (id, n) with five rows.

    Made with plain SQL through the destination's client: these tests need a table, and a
    full load per test would only make them slow.
    """
    pipeline = backend.pipeline()
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            client.create_dataset()
        table = client.make_qualified_table_name("t")
        client.execute_sql(f"CREATE TABLE {table} (id INTEGER NOT NULL, n INTEGER)")
        client.execute_sql(f"INSERT INTO {table} VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)")
    return pipeline


@pytest.mark.parametrize(
    "case,backend",
    [(case, name) for case in sorted(CASES) for name in CASES[case].get("backends", LIVE_BACKENDS)],
    indirect=["backend"],
)
def test_sql_client_classifies(case: str, backend: Backend, loaded: dlt.Pipeline) -> None:
    spec = CASES[case]
    with loaded.sql_client() as client:
        *setup, failing = spec["sql"](client)
        for statement in setup:
            client.execute_sql(statement)
        with pytest.raises(Exception) as raised:
            client.execute_sql(failing)
        assert_outcome(raised.value, spec["expected"])
        # a failed autocommit statement leaves the connection usable
        assert client.execute_sql("SELECT 1") == [(1,)]


def test_duckdb_catalog_and_conversion_errors(tmp_path: Any) -> None:
    """DuckDB has no SQLSTATE: its exception classes decide (Catalog -> missing relation)."""
    pipeline = dlt.pipeline(
        pipeline_name="duck",
        destination=sqlalchemy_destination(f"duckdb:///{tmp_path / 'x.duckdb'}"),
        dataset_name="d",
        pipelines_dir=str(tmp_path),
    )
    pipeline.run([{"id": 1}], table_name="t")
    with pipeline.sql_client() as client:
        with pytest.raises(DatabaseUndefinedRelation) as missing:
            client.execute_sql("SELECT * FROM d.no_such_table")
        assert type(missing.value.__cause__.orig).__name__ == "CatalogException"
        with pytest.raises(DatabaseTerminalException) as converted:
            client.execute_sql("SELECT CAST('abc' AS INTEGER)")
        assert type(converted.value.__cause__.orig).__name__ == "ConversionException"
        # a Catalog error that is not about a missing relation stays terminal
        with pytest.raises(DatabaseTerminalException):
            client.execute_sql("CREATE TABLE d.t (id INTEGER)")


# --- transient: locks, deadlocks, dropped connections -----------------------------------------


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_lock_timeout_is_transient(loaded: dlt.Pipeline, backend: Backend) -> None:
    with loaded.sql_client() as client, backend.engine.connect() as other:
        table = client.make_qualified_table_name("t")
        other.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        client.execute_sql("SET lock_timeout = '100ms'")
        with pytest.raises(DatabaseTransientException) as raised:
            client.execute_sql(f"UPDATE {table} SET n = 0")
        assert_outcome(raised.value, DatabaseTransientException)
        assert raised.value.__cause__.orig.sqlstate == "55P03"
        other.rollback()


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_mariadb_lock_wait_timeout_is_transient(loaded: dlt.Pipeline, backend: Backend) -> None:
    with loaded.sql_client() as client, backend.engine.connect() as other:
        table = client.make_qualified_table_name("t")
        other.exec_driver_sql(f"UPDATE {table} SET n = 0 WHERE id = 1")
        client.execute_sql("SET SESSION innodb_lock_wait_timeout = 1")
        with pytest.raises(DatabaseTransientException) as raised:
            client.execute_sql(f"UPDATE {table} SET n = 5 WHERE id = 1")
        assert_outcome(raised.value, DatabaseTransientException)
        assert raised.value.__cause__.orig.args[0] == 1205
        other.rollback()


def _deadlock(
    client: Any,
    other: sa.Connection,
    table: str,
    other_waits: Callable[[], bool],
) -> BaseException:
    """The client locks row 1, `other` rows 2 to 5 and then waits for row 1; the client asking
    for row 2 closes the cycle. Returns what the client's statement raised."""
    errors: List[BaseException] = []

    def blocked_update() -> None:
        try:
            other.exec_driver_sql(f"UPDATE {table} SET n = n + 1 WHERE id = 1")
        except BaseException as ex:  # the server picked this side as the victim
            errors.append(ex)

    worker = threading.Thread(target=blocked_update, daemon=True)
    with client.begin_transaction() as tx:
        client.execute_sql(f"UPDATE {table} SET n = n + 1 WHERE id = 1")
        other.exec_driver_sql(f"UPDATE {table} SET n = n + 1 WHERE id >= 2")
        worker.start()
        _wait_until(other_waits, "the other session waits for row 1")
        with pytest.raises(Exception) as raised:
            client.execute_sql(f"UPDATE {table} SET n = n + 1 WHERE id = 2")
        tx.rollback_transaction()
    worker.join(10)
    other.rollback()
    assert not errors, f"the other session was chosen as the victim: {errors}"
    return raised.value


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_deadlock_is_transient(loaded: dlt.Pipeline, backend: Backend) -> None:
    with loaded.sql_client() as client, backend.engine.connect() as other:
        table = client.make_qualified_table_name("t")
        # only the client's session runs the deadlock check soon, so it is the one aborted
        client.execute_sql("SET deadlock_timeout = '50ms'")
        other.exec_driver_sql("SET deadlock_timeout = '20s'")
        other.commit()
        other_pid = other.exec_driver_sql("SELECT pg_backend_pid()").scalar()

        def other_waits() -> bool:
            with backend.engine.connect() as probe:
                return bool(
                    probe.exec_driver_sql(
                        "SELECT count(*) FROM pg_stat_activity"
                        f" WHERE pid = {other_pid} AND wait_event_type = 'Lock'"
                    ).scalar()
                )

        ex = _deadlock(client, other, table, other_waits)
    assert isinstance(ex, DatabaseTransientException), f"{type(ex).__name__}: {ex}"
    assert_outcome(ex, DatabaseTransientException)
    assert ex.__cause__.orig.sqlstate == "40P01"


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_mariadb_deadlock_is_transient(loaded: dlt.Pipeline, backend: Backend) -> None:
    # InnoDB rolls back the transaction that changed fewer rows: the client's, by design
    with loaded.sql_client() as client:
        table = client.make_qualified_table_name("t")
        # without an index InnoDB locks every row an UPDATE scans, not only the matching ones
        client.execute_sql(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        with backend.engine.connect() as other:
            other_id = other.exec_driver_sql("SELECT CONNECTION_ID()").scalar()

            def other_waits() -> bool:
                with backend.engine.connect() as probe:
                    return bool(
                        probe.exec_driver_sql(
                            "SELECT count(*) FROM information_schema.innodb_trx"
                            f" WHERE trx_mysql_thread_id = {other_id}"
                            " AND trx_state = 'LOCK WAIT'"
                        ).scalar()
                    )

            ex = _deadlock(client, other, table, other_waits)
    assert isinstance(ex, DatabaseTransientException), f"{type(ex).__name__}: {ex}"
    assert_outcome(ex, DatabaseTransientException)
    assert ex.__cause__.orig.args[0] == 1213


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_terminated_connection_is_transient(
    loaded: dlt.Pipeline, backend: Backend
) -> None:
    with loaded.sql_client() as client:
        pid = client.execute_sql("SELECT pg_backend_pid()")[0][0]
        with backend.engine.connect() as other:
            assert other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar()
            other.commit()
        with pytest.raises(DatabaseTransientException) as raised:
            client.execute_sql("SELECT 1")
        assert_outcome(raised.value, DatabaseTransientException)


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_mariadb_killed_connection_is_transient(loaded: dlt.Pipeline, backend: Backend) -> None:
    with loaded.sql_client() as client:
        connection_id = client.execute_sql("SELECT CONNECTION_ID()")[0][0]
        with backend.engine.connect() as other:
            other.exec_driver_sql(f"KILL CONNECTION {connection_id}")
        with pytest.raises(DatabaseTransientException) as raised:
            client.execute_sql("SELECT 1")
        assert_outcome(raised.value, DatabaseTransientException)
        assert raised.value.__cause__.orig.args[0] in (2006, 2013, 4031, 1927)


def test_sqlite_database_is_locked_is_transient(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    destination = sqlalchemy_destination(url, engine_kwargs={"connect_args": {"timeout": 0.1}})
    pipeline = dlt.pipeline(
        pipeline_name="sqlite_locked",
        destination=destination,
        dataset_name="d",
        pipelines_dir=str(tmp_path / "p"),
    )
    pipeline.run([{"id": 1, "n": 1}], table_name="t")
    with pipeline.sql_client() as client:
        files = {row[1]: row[2] for row in client.execute_sql("PRAGMA database_list") or []}
        holder = sqlite3.connect(files["d"], isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(DatabaseTransientException) as raised:
                client.execute_sql(f"UPDATE {client.make_qualified_table_name('t')} SET n = 2")
            assert_outcome(raised.value, DatabaseTransientException)
            assert raised.value.__cause__.orig.sqlite_errorname.startswith("SQLITE_BUSY")
        finally:
            holder.execute("ROLLBACK")
            holder.close()


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_duckdb_write_conflict_is_transient(loaded: dlt.Pipeline, backend: Backend) -> None:
    with loaded.sql_client() as client, backend.engine.connect() as other:
        table = client.make_qualified_table_name("t")
        other.exec_driver_sql(f"UPDATE {table} SET n = 0 WHERE id = 1")
        with pytest.raises(DatabaseTransientException) as raised:
            client.execute_sql(f"UPDATE {table} SET n = 5 WHERE id = 1")
        assert_outcome(raised.value, DatabaseTransientException)
        assert type(raised.value.__cause__.orig).__name__ == "TransactionException"
        other.rollback()


# --- values a column cannot hold, through pipeline.run ----------------------------------------

VALUE_CASES: Dict[str, Dict[str, Any]] = {
    "text longer than its precision": dict(
        column="s",
        hints={"s": {"data_type": "text", "precision": 5}},
        good={"s": "abc"},
        bad={"s": "x" * 20},
        enforced=("postgresql", "mariadb"),
    ),
    "integer out of a 16-bit range": dict(
        column="n",
        hints={"n": {"data_type": "bigint", "precision": 16}},
        good={"n": 5},
        bad={"n": 70000},
        enforced=("postgresql", "mariadb", "duckdb"),
        arrow_refuses="Value 70000 too large to fit in C integer type",
    ),
}


def assert_value_not_storable(failed: PipelineStepFailed, table: str, column: str) -> None:
    assert failed.step == "load"
    job_failure = in_chain(failed, LoadClientJobTerminalRetry)
    # terminal: the job failed once, it was not retried as a transient error would be
    assert not isinstance(job_failure, (LoadClientJobRetry, DestinationTransientException))
    not_storable = in_chain(failed, ValueNotStorable)
    assert isinstance(not_storable, DatabaseTerminalException)
    assert (not_storable.table_name, not_storable.column_name) == (table, column)
    assert f"column `{column}` of table `{table}`" in str(failed)


@pytest.mark.parametrize("file_format", ["typed-jsonl", "parquet"])
@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_value_a_column_cannot_hold_fails_the_file(
    case: str, file_format: str, backend: Backend
) -> None:
    spec = VALUE_CASES[case]
    column = spec["column"]
    pipeline = backend.pipeline()
    pipeline.run([{"id": 0, **spec["good"]}], table_name="t", columns=spec["hints"])
    rows = [{"id": 1, **spec["good"]}, {"id": 2, **spec["bad"]}, {"id": 3, **spec["good"]}]
    run = functools.partial(
        pipeline.run, rows, table_name="t", columns=spec["hints"], loader_file_format=file_format
    )
    if file_format == "parquet" and spec.get("arrow_refuses"):
        # dlt's normalizer writes a 16-bit column as int16 in parquet: pyarrow refuses the value
        # there, before any destination sees it; terminal, and nothing is loaded
        with pytest.raises(PipelineStepFailed) as raised:
            run()
        assert raised.value.step == "normalize"
        assert "job_id=t." in str(raised.value) and spec["arrow_refuses"] in str(raised.value)
        assert rows_of(pipeline, "t") == [(0,)]
        return
    if backend.name not in spec["enforced"]:
        # the database can hold the value after all: it must arrive intact
        run()
        stored = dict(rows_of(pipeline, "t", f"id, {column}"))
        assert stored[2] == spec["bad"][column]
        return
    with pytest.raises(PipelineStepFailed) as raised:
        run()
    assert_value_not_storable(raised.value, "t", column)
    assert rows_of(pipeline, "t") == [(0,)], "no row of the failed file remains"


def test_null_into_not_null_column_fails_the_file(backend: Backend) -> None:
    """dlt's normalizer already refuses NULL for a column hinted not-nullable; the database is
    the last line when the hint was relaxed after the table was created NOT NULL."""
    pipeline = backend.pipeline()
    not_null = {"n": {"data_type": "bigint", "nullable": False}}
    pipeline.run([{"id": 0, "n": 0}], table_name="t", columns=not_null)
    relaxed = {"n": {"data_type": "bigint", "nullable": True}}
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(
            [{"id": 1, "n": 1}, {"id": 2, "n": None}, {"id": 3, "n": 3}],
            table_name="t",
            columns=relaxed,
        )
    assert_value_not_storable(raised.value, "t", "n")
    assert rows_of(pipeline, "t") == [(0,)], "no row of the failed file remains"


def test_statement_error_is_not_blamed_on_a_value(backend: Backend) -> None:
    """A column dropped behind dlt's back fails the insert terminally, but as what it is: a
    database error, not a value that does not fit."""
    pipeline = backend.pipeline()
    pipeline.run([{"id": 0, "s": "a"}], table_name="t")
    with pipeline.sql_client() as client:
        client.execute_sql(
            f"ALTER TABLE {client.make_qualified_table_name('t')} DROP COLUMN {_q(client, 's')}"
        )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1, "s": "b"}], table_name="t")
    in_chain(raised.value, LoadClientJobTerminalRetry)
    terminal = in_chain(raised.value, DatabaseTerminalException)
    assert not isinstance(terminal, ValueNotStorable)
    assert rows_of(pipeline, "t") == [(0,)]


# --- secrets ----------------------------------------------------------------------------------


def test_secret_forms_cover_encoded_and_query_secrets() -> None:
    forms = secret_forms("p@ss/w rd", {"sslpassword": "k3y", "sslmode": "require"})
    assert {"p@ss/w rd", "p%40ss%2Fw%20rd", "p%40ss%2Fw+rd", "k3y"} <= set(forms)
    assert "require" not in forms
    assert secret_forms(None) == []


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"], indirect=True)
def test_sql_error_text_never_carries_the_password(
    backend: Backend, all_logs: pytest.LogCaptureFixture
) -> None:
    """A statement that echoes the password: the error text, its traceback and the logs must
    not (the error's own chain is cut, since the driver's text holds the password)."""
    secret = new_secret()
    with contextlib.ExitStack() as stack:
        if backend.name == "mariadb":
            user = stack.enter_context(mariadb_user(secret))
        else:
            user = "postgres"  # trusted on 127.0.0.1: any password is accepted
        all_logs.clear()
        url = with_credentials(backend.url, username=user, password=secret)
        pipeline = backend.pipeline(destination=backend.destination(credentials=url))
        with pytest.raises(DatabaseTerminalException) as raised, pipeline.sql_client() as client:
            client.execute_sql(f"SELEC '{secret}'")
    assert not isinstance(raised.value, (DatabaseTransientException, DatabaseUndefinedRelation))
    assert "***" in str(raised.value)
    # SQLAlchemy's own statement echo (DEBUG) prints the statement as written; only ours counts
    assert_hidden_in(secret, raised.value, dlt_log_text(all_logs))


def test_mariadb_session_is_strict_even_when_the_server_is_not(tmp_path: Any) -> None:
    """A non-strict server would truncate an over-long value silently; our sessions refuse it."""
    import sqlalchemy as sa

    from conftest import Backend, require_server

    url = require_server("mariadb")
    backend = Backend("mariadb", url, tmp_path)
    try:
        pipeline = backend.pipeline(
            destination=backend.destination(
                engine_kwargs={"connect_args": {"init_command": "SET SESSION sql_mode=''"}}
            )
        )
        pipeline.run([{"id": 0, "code": "ok"}], table_name="t", columns={"code": {"precision": 3}})
        with pytest.raises(Exception, match="code"):
            pipeline.run([{"id": 1, "code": "far too long"}], table_name="t")
        rows = backend.query(f"SELECT id FROM {backend.qualified(pipeline.dataset_name, 't')}")
        assert [r[0] for r in rows] == [0]
        assert isinstance(backend.engine, sa.Engine)
    finally:
        backend.cleanup()


# --- DDL the server refuses: terminal, with the limit and what to do -------------------------

LIMIT_CASES: Dict[str, Dict[str, Any]] = {
    # 1,700 BIGINT columns: PostgreSQL allows 1,600 per table (SQLSTATE 54011)
    "too many columns (postgresql)": {
        "server": "postgresql",
        "row": {f"c{i}": i for i in range(1700)},
        "columns": None,
        "says": "at most 1600",
    },
    # 5,000 columns: MariaDB refuses the table (1117)
    "too many columns (mariadb)": {
        "server": "mariadb",
        "row": {f"c{i}": i for i in range(5000)},
        "columns": None,
        "says": "at most 4096",
    },
    # 2,100 columns: SQLite's SQLITE_MAX_COLUMN is 2,000 (a plain SQLITE_ERROR)
    "too many columns (sqlite)": {
        "server": "sqlite",
        "row": {f"c{i}": i for i in range(2100)},
        "columns": None,
        "says": "at most 2000",
    },
    # 70 VARCHAR(255) in utf8mb4: 71,400 bytes beyond the 65,535-byte row (1118)
    "row size too large (mariadb)": {
        "server": "mariadb",
        "row": {f"t{i}": "x" for i in range(70)},
        "columns": {f"t{i}": {"data_type": "text", "precision": 255} for i in range(70)},
        "says": "row size too large",
    },
    # a 4-byte character (emoji) in a column name kept by the `direct` naming convention
    "4-byte character in a name (mariadb)": {
        "server": "mariadb",
        "row": {"id": 1, "score_\U0001f600": 2},
        "columns": None,
        "says": "4-byte characters",
        "naming": "direct",
    },
}
# DuckDB has no column, row-size or name limit a table of dlt's could reach


@pytest.mark.parametrize(
    "case, backend",
    [(case, spec["server"]) for case, spec in sorted(LIMIT_CASES.items())],
    indirect=["backend"],
)
def test_table_the_server_refuses_is_terminal_with_the_limit(
    case: str, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table over a server limit fails the schema update as terminal (dlt must not retry the
    same DDL), naming the table, the limit and what to change; no table is left, and the
    password of the credentials is nowhere."""
    from dlt.common.destination.exceptions import SchemaUpdateTerminalError

    from dlt_sqlalchemy.exceptions import DatabaseLimitExceeded

    spec = LIMIT_CASES[case]
    if spec.get("naming"):
        monkeypatch.setenv("SCHEMA__NAMING", spec["naming"])
    with url_with_password(backend) as (url, secret), captured_logs() as logs:
        pipeline = backend.pipeline(destination=backend.destination(credentials=url))
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.run([spec["row"]], table_name="wide_table", columns=spec["columns"])
        found = chain(raised.value)
        assert any(isinstance(e, SchemaUpdateTerminalError) for e in found), found
        assert not any(isinstance(e, DestinationTransientException) for e in found), found
        limit = next(e for e in found if isinstance(e, DatabaseLimitExceeded))
        assert spec["says"] in str(limit).lower() or spec["says"] in limit.limit.lower()
        assert "wide_table" in str(raised.value)
        with pipeline.sql_client() as client:
            assert client.reflect_table("wide_table") is None
        assert_password_nowhere(secret, raised.value, logs.getvalue(), pipeline)


def test_text_key_without_length_on_mysql_is_terminal_with_the_hint(tmp_path: Any) -> None:
    """The spec's quick type mapper (JSON as unbounded text) on a text primary key: MySQL
    refuses a TEXT key without a length (1170); terminal, saying to give it a precision, naming
    the table; no table is left and the password is nowhere."""
    from dlt_sqlalchemy import SqlalchemyTypeMapper
    from dlt_sqlalchemy.exceptions import DatabaseLimitExceeded

    class PlainTextKeys(SqlalchemyTypeMapper):
        def db_type_from_text_type(self, column: Any, table: Any = None) -> Any:
            return sa.Text()

    backend = Backend("mariadb", require_server("mariadb"), tmp_path)
    try:
        with url_with_password(backend) as (url, secret), captured_logs() as logs:
            pipeline = backend.pipeline(
                destination=backend.destination(
                    credentials=url, create_primary_keys=True, type_mapper=PlainTextKeys
                )
            )
            with pytest.raises(PipelineStepFailed) as raised:
                pipeline.run([{"code": "a", "n": 1}], table_name="coded", primary_key="code")
            found = chain(raised.value)
            limit = next(e for e in found if isinstance(e, DatabaseLimitExceeded))
            assert "precision" in limit.hint
            assert not any(isinstance(e, DestinationTransientException) for e in found)
            assert "coded" in str(raised.value)
            with pipeline.sql_client() as client:
                assert client.reflect_table("coded") is None
            assert_password_nowhere(secret, raised.value, logs.getvalue(), pipeline)
    finally:
        backend.cleanup()


def _invalid_utf8_strings() -> Any:
    import pyarrow as pa

    offsets = pa.py_buffer(bytes([0, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0]))
    return pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ok\xff\xfebad")])


@pytest.mark.parametrize("case", ["uint64 beyond bigint", "invalid utf-8"])
def test_value_arrow_refuses_fails_the_file_naming_the_column(case: str, backend: Backend) -> None:
    """Values that never reach the database (Arrow cannot cast them, or they are no UTF-8)
    are terminal `ValueNotStorable` naming table and column, like values the database refuses:
    dlt does not retry them, and no row of the file is loaded."""
    import pyarrow as pa

    if case == "uint64 beyond bigint":
        table = pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64()), "name": ["a", "b"]})
        column = "id"
    else:
        table = pa.table({"id": pa.array([1, 2], pa.int64()), "name": _invalid_utf8_strings()})
        column = "name"
    with url_with_password(backend) as (url, secret), captured_logs() as logs:
        pipeline = backend.pipeline(destination=backend.destination(credentials=url))
        kept = pa.table({"id": pa.array([0], pa.int64()), "name": ["kept"]})
        pipeline.run(kept, table_name="t")
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.run(table, table_name="t")
        found = chain(raised.value)
        refused = next(e for e in found if isinstance(e, ValueNotStorable))
        assert (refused.table_name, refused.column_name) == ("t", column)
        assert f"`{column}` of table `t`" in str(refused)
        assert any(isinstance(e, LoadClientJobTerminalRetry) for e in found)
        assert not any(isinstance(e, LoadClientJobRetry) for e in found)
        assert backend.rows(pipeline.dataset_name, "t", order_by="id")[0][:2] == (0, "kept")
        assert len(backend.rows(pipeline.dataset_name, "t")) == 1
        assert_password_nowhere(secret, raised.value, logs.getvalue(), pipeline)


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql://loader:{secret}@db.example:notaport/dwh", "the port `notaport`"),
        ("postgresqlloader:{secret}@db.example/dwh", "no `://`"),
        ("mysql+mysqldb://loader:{secret}@db.example:33o6/dwh", "the port `33o6`"),
        ("mariadb+mysqldb//loader:{secret}@db.example/dwh", "no `://`"),
    ],
)
def test_malformed_url_never_keeps_the_password(
    url: str, says: str, tmp_path: Any, all_logs: pytest.LogCaptureFixture
) -> None:
    """A URL that does not parse is refused saying what is wrong, and no exception dlt keeps
    (its trace file, `last_trace`, the exception chain) holds the raw string."""
    import pickle

    secret = new_secret()
    pipeline = dlt.pipeline(
        f"malformed_{uuid.uuid4().hex[:8]}",
        destination=sqlalchemy_destination(url.format(secret=quote(secret, safe=""))),
        dataset_name="unused",
        pipelines_dir=str(tmp_path),
    )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1}], table_name="t")
    assert says in str(raised.value)
    assert_hidden(secret, raised.value, all_logs)
    for found in chain(raised.value):
        assert secret not in repr(vars(found)), type(found)
    assert pipeline.last_trace is not None
    assert secret.encode() not in pickle.dumps(pipeline.last_trace)
    assert_not_on_disk(secret, pipeline)


@pytest.mark.parametrize(
    "url, backend, driver, known",
    [
        ("postgresql+psycopg3://loader@db.example/dwh", "postgresql", "psycopg3", "psycopg"),
        ("mysql+pymsql://loader@db.example/dwh", "mysql", "pymsql", "pymysql"),
    ],
)
def test_misspelled_driver_is_named_with_the_dialects_drivers(
    url: str, backend: str, driver: str, known: str
) -> None:
    """A driver name SQLAlchemy's dialect does not have is a misspelling, not a missing
    package: the error lists the dialect's drivers instead of a pip line that cannot help."""
    from dlt_sqlalchemy.exceptions import UnknownDriver

    with pytest.raises(UnknownDriver) as raised:
        sqlalchemy_destination(url).capabilities()
    message = str(raised.value)
    assert f"`{backend}` dialect has no driver `{driver}`" in message
    assert known in message and "pip install" not in message
    assert isinstance(raised.value, DestinationTerminalException)


def _raw_driver_errors() -> List[Any]:
    """Exceptions as each driver raises them inside a bulk path (not wrapped by SQLAlchemy)."""
    import mariadb
    import mysql.connector
    import pg8000.dbapi

    return [
        # MariaDB Connector/Python derives every class from Error, not DatabaseError
        pytest.param(mariadb.ProgrammingError("Unknown column 's'"), "terminal", id="mariadb-prog"),
        pytest.param(mariadb.IntegrityError("Duplicate entry"), "terminal", id="mariadb-integrity"),
        pytest.param(mariadb.DataError("Data too long"), "terminal", id="mariadb-data"),
        pytest.param(mariadb.OperationalError("Lost connection"), "transient", id="mariadb-op"),
        pytest.param(mariadb.InterfaceError("not connected"), "transient", id="mariadb-iface"),
        pytest.param(
            mysql.connector.errors.ProgrammingError(msg="syntax"), "terminal", id="myconn-prog"
        ),
        pytest.param(
            mysql.connector.errors.OperationalError(msg="gone"), "transient", id="myconn-op"
        ),
        # pg8000 passes the server's fields as a dict: the SQLSTATE decides
        pytest.param(
            pg8000.dbapi.ProgrammingError({"C": "42703", "M": 'column "s" does not exist'}),
            "terminal",
            id="pg8000-42703",
        ),
        pytest.param(
            pg8000.dbapi.ProgrammingError({"C": "40P01", "M": "deadlock detected"}),
            "transient",
            id="pg8000-deadlock",
        ),
        pytest.param(
            pg8000.dbapi.InterfaceError("connection is closed"), "transient", id="pg8000-if"
        ),
    ]


@pytest.mark.parametrize("error, verdict", _raw_driver_errors())
def test_raw_driver_errors_are_classified_by_their_pep249_class(
    error: Exception, verdict: str
) -> None:
    """Errors a bulk path gets straight from the driver are terminal or transient as the same
    error wrapped by SQLAlchemy would be, whichever driver raised them."""
    from dlt_sqlalchemy.client.errors import to_dlt_exception

    expected = DatabaseTerminalException if verdict == "terminal" else DatabaseTransientException
    translated = to_dlt_exception(error, None)
    assert isinstance(translated, expected), f"{error!r} -> {translated!r}"
