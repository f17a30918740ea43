"""`dlt-sqlalchemy doctor`: the report on each live backend, every way a load can be doomed
(refused login, unreachable server, missing driver, unknown dialect, no credentials), credentials
read from the places a pipeline reads them, and never a password on screen."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import uuid
from typing import Any, Callable, Dict, Iterator, Tuple
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from conftest import SERVER_URLS, Backend, hide_module, require_server
from dlt_sqlalchemy.cli import main
from dlt_sqlalchemy.doctor import Report

TRun = Callable[..., Tuple[int, str]]

# the fastest path of each backend's default driver, for both file formats, and its sqlglot name
EXPECTED = {
    "postgresql": ({"typed-jsonl": "copy", "parquet": "adbc"}, "postgres"),
    "mariadb": ({"typed-jsonl": "load_data", "parquet": "load_data"}, "mysql"),
    "sqlite": ({"typed-jsonl": "adbc", "parquet": "adbc"}, "sqlite"),
    "duckdb": ({"typed-jsonl": "arrow", "parquet": "arrow"}, "duckdb"),
}

SECTIONS = [
    "credentials from",
    "database URL",
    "dialect",
    "driver",
    "connection",
    "server version",
    "identifier limits",
    "timestamp precision",
    "merge strategies",
    "replace strategies",
    "file formats",
    "load path typed-jsonl",
    "load path parquet",
    "load path model",
    "load_path option",
    "create schema",
    "sqlglot dialect",
]


@pytest.fixture
def doctor(capsys: pytest.CaptureFixture[str]) -> TRun:
    """Runs `dlt-sqlalchemy doctor ARGS` in this process; returns the exit status and what it
    printed on stdout and stderr together (a secret must be on neither)."""

    def run(*args: str) -> Tuple[int, str]:
        capsys.readouterr()
        status = main(["doctor", *args])
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    return run


def new_secret() -> str:
    # URL-special characters: the password travels percent-encoded inside URLs too
    return f"Dr@/{uuid.uuid4().hex[:12]}"


def with_credentials(url: str, **parts: Any) -> str:
    return sa.make_url(url).set(**parts).render_as_string(hide_password=False)


def assert_hidden(secret: str, text: str) -> None:
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        assert form not in text, "the password is printed"


def parse(output: str) -> Dict[str, Tuple[str, str]]:
    """label -> (status mark, value with its wrapped and detail lines joined by spaces)."""
    lines = output.splitlines()
    heads = [t for t in lines if t.startswith("  ") and " : " in t]
    assert heads, output
    column = heads[0].index(" : ") + 3
    checks: Dict[str, Tuple[str, str]] = {}
    current = None
    for text in lines:
        if text[column - 3 : column] == " : " and text[: column - 3].strip():
            current = text[8 : column - 3].strip()
            checks[current] = (text[2:7].strip(), text[column:].strip())
        elif current is not None and text.strip() and not text[:column].strip():
            status, value = checks[current]
            checks[current] = (status, f"{value} {text.strip()}")
        else:
            current = None
    return checks


def line(output: str, label: str) -> str:
    """The value of `label`'s check, with its continuation and detail lines."""
    checks = parse(output)
    assert label in checks, f"no `{label}` line in:\n{output}"
    return checks[label][1]


def status_of(output: str, label: str) -> str:
    line(output, label)
    return parse(output)[label][0]


def reload_providers() -> None:
    # toml providers read their files once; a test that writes them must make dlt read again
    Container()[PluggableRunContext].reload_providers()


@pytest.fixture
def secrets_toml(tmp_path: Any) -> Iterator[Callable[[str], str]]:
    """Writes `.dlt/secrets.toml` in the test's working dir (the autouse fixture's tmp_path)."""
    settings = tmp_path / ".dlt"

    def write(text: str) -> str:
        settings.mkdir(exist_ok=True)
        path = settings / "secrets.toml"
        path.write_text(text, encoding="utf-8")
        reload_providers()
        return str(path)

    yield write
    shutil.rmtree(settings, ignore_errors=True)
    reload_providers()


# --- the live backends --------------------------------------------------------------------------


def test_live_backend_would_load(backend: Backend, doctor: TRun) -> None:
    status, output = doctor(backend.url)
    assert status == 0, output
    for label in SECTIONS:
        line(output, label)
    assert line(output, "credentials from").endswith("command line argument")
    assert output.rstrip().splitlines()[-1].startswith("verdict: a pipeline would load")
    paths, sqlglot = EXPECTED[backend.name]
    for file_format, path in paths.items():
        assert line(output, f"load path {file_format}").startswith(path), output
    assert line(output, "sqlglot dialect").startswith(f"{sqlglot}, for pipeline.dataset()")
    assert "delete-insert, scd2, upsert, insert-only, cdc" in line(output, "merge strategies")
    assert "truncate-and-insert (in use)" in line(output, "replace strategies")
    assert "parquet (preferred), typed-jsonl, model" in line(output, "file formats")
    assert status_of(output, "create schema") == "ok"
    assert status_of(output, "connection") == "ok"
    # the probe dataset is gone, and so is a database file the doctor had to open
    probe = output.split("dataset `", 1)[1].split("`", 1)[0]
    assert probe.startswith("dlt_doctor_")
    if backend.name in ("sqlite", "duckdb"):
        assert not os.path.exists(sa.make_url(backend.url).database or "")
        assert not glob.glob(os.path.join(str(backend.tmp_path), "*dlt_doctor*"))
    else:
        schemata = backend.query("SELECT schema_name FROM information_schema.schemata")
        assert probe not in {str(row[0]) for row in schemata}


def test_identifier_limits_and_versions(doctor: TRun) -> None:
    status, output = doctor(require_server("postgresql"))
    assert status == 0, output
    assert "63 bytes (tables and columns), case-sensitive" in line(output, "identifier limits")
    assert line(output, "server version").startswith("PostgreSQL ")
    assert "6 fractional digits" in line(output, "timestamp precision")
    assert "psycopg" in line(output, "driver") and "installed" in line(output, "driver")
    assert "load_path" in line(output, "load_path option")
    assert "adbc, copy, executemany" in line(output, "load_path option")


def test_existing_database_file_is_kept(tmp_path: Any, doctor: TRun) -> None:
    path = tmp_path / "kept.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    status, output = doctor(f"sqlite:///{path}")
    assert status == 0, output
    assert line(output, "database file").endswith(str(path))
    assert path.exists()


def test_new_database_folder_is_removed_again(tmp_path: Any, doctor: TRun) -> None:
    path = tmp_path / "new" / "folder" / "chess.db"
    status, output = doctor(f"sqlite:///{path}")
    assert status == 0, output
    assert "does not exist yet" in line(output, "database file")
    assert not (tmp_path / "new").exists()


# --- why a pipeline would not load --------------------------------------------------------------


def test_refused_login_mariadb(doctor: TRun) -> None:
    secret = new_secret()
    url = with_credentials(require_server("mariadb"), password=secret)
    status, output = doctor(url)
    assert status == 1, output
    assert status_of(output, "connection") == "FAIL"
    assert "refused" in line(output, "connection")
    assert "Access denied" in line(output, "connection")
    assert "verdict: a pipeline would NOT load" in output
    assert "connection: refused" in output
    assert_hidden(secret, output)
    # what the driver alone can tell is still there; what needs the server is not
    assert status_of(output, "identifier limits") == ""
    assert status_of(output, "create schema") == "--"


def test_unknown_database_postgresql(doctor: TRun) -> None:
    secret = new_secret()
    url = with_credentials(require_server("postgresql"), database="no_such_db", password=secret)
    status, output = doctor(url)
    assert status == 1, output
    assert "refused" in line(output, "connection")
    assert "no_such_db" in line(output, "connection")
    assert_hidden(secret, output)


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_unreachable_port(server: str, doctor: TRun) -> None:
    secret = new_secret()
    url = with_credentials(SERVER_URLS[server], host="127.0.0.1", port=1, password=secret)
    status, output = doctor(url)
    assert status == 1, output
    assert status_of(output, "connection") == "FAIL"
    assert line(output, "connection").startswith("unreachable")
    assert "connection: unreachable" in output
    assert_hidden(secret, output)


@pytest.mark.parametrize(
    "url, module, pip",
    [
        (
            "postgresql+pg8000://loader:{pw}@127.0.0.1:5432/test",
            "pg8000",
            'pip install "dlt-sqlalchemy[pg8000]"',
        ),
        ("mssql+pymssql://loader:{pw}@127.0.0.1:1433/dwh", "pymssql", "pip install pymssql"),
    ],
)
def test_missing_driver(
    url: str, module: str, pip: str, doctor: TRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_module(monkeypatch, module)
    secret = new_secret()
    status, output = doctor(url.format(pw=quote(secret, safe="")))
    assert status == 1, output
    assert status_of(output, "driver") == "FAIL"
    assert pip in line(output, "driver")
    assert status_of(output, "connection") == "--"
    # capabilities come from the dialect class alone: still reported
    assert "identifier limits" in output and "sqlglot dialect" in output
    assert "would NOT load" in output and "driver:" in output.split("verdict:")[1]
    assert_hidden(secret, output)


def test_driver_installed_without_its_system_library(
    doctor: TRun, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """pyodbc installed, unixODBC not: `import pyodbc` fails as CPython fails a compiled module
    whose shared library is missing (a plain ImportError with the loader's message)."""
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "pyodbc.py").write_text(
        "raise ImportError('libodbc.so.2: cannot open shared object file: No such file or"
        " directory', name='pyodbc', path='/x/pyodbc.cpython-311-x86_64-linux-gnu.so')\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    for name in [n for n in sys.modules if n == "pyodbc" or n.startswith("pyodbc.")]:
        monkeypatch.delitem(sys.modules, name)
    secret = new_secret()
    status, output = doctor(f"mssql+pyodbc://loader:{quote(secret, safe='')}@127.0.0.1/dwh")
    assert status == 1, output
    assert status_of(output, "driver") == "FAIL"
    driver = " ".join(line(output, "driver").split())  # the report wraps long lines
    assert driver.startswith("pyodbc: cannot be imported")
    assert "libodbc.so.2" in driver and "apt-get install unixodbc" in driver
    assert "not installed" not in driver
    assert_hidden(secret, output)


def test_unknown_dialect(doctor: TRun) -> None:
    secret = new_secret()
    status, output = doctor(f"nosuchdb://loader:{quote(secret, safe='')}@host/db")
    assert status == 1, output
    assert status_of(output, "dialect") == "FAIL"
    assert "SQLAlchemy has no dialect `nosuchdb`" in line(output, "dialect")
    assert "connection" not in parse(output)
    assert_hidden(secret, output)


def test_not_a_url(doctor: TRun) -> None:
    status, output = doctor("not a url at all")
    assert status == 1, output
    assert status_of(output, "credentials") == "FAIL"
    assert "not usable" in line(output, "credentials")


@pytest.mark.parametrize("name", [None, "warehouse"])
def test_no_credentials(name: Any, doctor: TRun) -> None:
    status, output = doctor(*(["--destination-name", name] if name else []))
    assert status == 1, output
    section = name or "sqlalchemy"
    text = line(output, "credentials")
    assert f"not found in the [destination.{section}] section" in text
    assert f"DESTINATION__{section.upper()}__CREDENTIALS" in text


def test_forced_load_path_that_cannot_run(monkeypatch: pytest.MonkeyPatch, doctor: TRun) -> None:
    # PyMySQL has LOCAL INFILE off unless asked: LOAD DATA cannot run, and a forced one fails
    url = require_server("mariadb").replace("mysql+mysqldb://", "mysql+pymysql://")
    status, output = doctor(url)
    assert status == 0, output
    assert line(output, "load path typed-jsonl").startswith("insert_values")
    assert "load_data unavailable: the client has LOCAL INFILE off" in line(
        output, "load path typed-jsonl"
    )
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__LOAD_PATH", "load_data")
    status, output = doctor(url)
    assert status == 1, output
    assert status_of(output, "load path parquet") == "FAIL"
    assert "forced path `load_data` cannot run" in line(output, "load path parquet")
    assert '"load_data": forces that path' in line(output, "load_path option")
    # options beside the URL argument come from the configuration, as in a pipeline
    monkeypatch.setenv(
        "DESTINATION__SQLALCHEMY__ENGINE_KWARGS", '{"connect_args": {"local_infile": true}}'
    )
    status, output = doctor(url)
    assert status == 0, output
    assert line(output, "load path parquet") == "load_data (forced by load_path)"


def test_forced_load_path_for_one_format(monkeypatch: pytest.MonkeyPatch, doctor: TRun) -> None:
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__LOAD_PATH", "adbc")
    status, output = doctor(require_server("postgresql"))
    assert status == 0, output
    assert "adbc (forced by load_path)" in line(output, "load path parquet")
    typed = line(output, "load path typed-jsonl")
    assert typed.startswith("copy")
    assert "does not take typed-jsonl files" in typed


def test_login_without_create_schema(doctor: TRun) -> None:
    """A PostgreSQL role that may log in but not CREATE in the database: loads only into a
    dataset that exists, with staging tables under a prefix."""
    url = require_server("postgresql")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    role = f"dlt_doctor_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    try:
        status, output = doctor(with_credentials(url, username=role))
        assert status == 0, output
        assert status_of(output, "create schema") == "warn"
        text = line(output, "create schema")
        assert "permission denied" in text and "staging_table_prefix" in text
        assert "(see the warnings: create schema)" in output
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


# --- where the credentials come from ------------------------------------------------------------


def test_credentials_from_env_var(monkeypatch: pytest.MonkeyPatch, doctor: TRun) -> None:
    secret = new_secret()  # trusted on 127.0.0.1: any password is accepted
    url = with_credentials(require_server("postgresql"), password=secret)
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", url)
    status, output = doctor()
    assert status == 0, output
    assert "environment variable DESTINATION__SQLALCHEMY__CREDENTIALS" in line(
        output, "credentials from"
    )
    assert_hidden(secret, output)


def test_split_fields_from_env_with_destination_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, doctor: TRun
) -> None:
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS__DRIVERNAME", "sqlite")
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS__DATABASE", str(tmp_path / "w.db"))
    status, output = doctor("--destination-name", "warehouse")
    assert status == 0, output
    source = line(output, "credentials from")
    assert "DESTINATION__WAREHOUSE__CREDENTIALS__DRIVERNAME" in source
    assert "DESTINATION__WAREHOUSE__CREDENTIALS__DATABASE" in source
    # the default section stays empty: the name picks the section
    status, output = doctor()
    assert status == 1, output


def test_credentials_from_secrets_toml(secrets_toml: Callable[[str], str], doctor: TRun) -> None:
    secret = new_secret()
    url = with_credentials(require_server("postgresql"), password=secret)
    path = secrets_toml(f'[destination.sqlalchemy]\ncredentials = "{url}"\n')
    status, output = doctor()
    assert status == 0, output
    source = line(output, "credentials from")
    assert "secrets.toml" in source and path in source
    assert "[destination.sqlalchemy] credentials" in source
    assert_hidden(secret, output)


def test_split_fields_from_secrets_toml(secrets_toml: Callable[[str], str], doctor: TRun) -> None:
    secret = new_secret()
    parsed = sa.make_url(require_server("postgresql"))
    secrets_toml(
        "[destination.sqlalchemy.credentials]\n"
        f'drivername = "{parsed.drivername}"\n'
        f'host = "{parsed.host}"\n'
        f"port = {parsed.port or 5432}\n"
        f'username = "{parsed.username}"\n'
        f'password = "{secret}"\n'
        f'database = "{parsed.database}"\n'
    )
    status, output = doctor()
    assert status == 0, output
    source = line(output, "credentials from")
    assert "[destination.sqlalchemy.credentials]" in source
    assert "drivername" in source and "password" in source
    assert_hidden(secret, output)


def test_argument_wins_over_config(monkeypatch: pytest.MonkeyPatch, doctor: TRun) -> None:
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", "nosuchdb://x@y/z")
    status, output = doctor(require_server("postgresql"))
    assert status == 0, output
    assert line(output, "credentials from").endswith("command line argument")


# --- the report itself --------------------------------------------------------------------------


def test_wrapping_never_splits_a_secret() -> None:
    report = Report()
    secret = "a-long-secret-that-would-straddle-a-line-break-if-wrapped-first"
    report.hide(secret)
    report.add("connection", "fail", "refused", [f"{'word ' * 17}{secret} and more text"])
    rendered = report.render(width=60)
    assert_hidden(secret, rendered)
    assert "***" in rendered
    assert report.exit_code == 1


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--help"])
    assert exited.value.code == 0
    assert "--destination-name" in capsys.readouterr().out


# --- as a command -------------------------------------------------------------------------------


def _command_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DESTINATION__")}


def test_python_dash_m(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "dlt_sqlalchemy", "doctor", url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_command_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "load path typed-jsonl" in done.stdout
    assert "verdict: a pipeline would load" in done.stdout


def test_console_script_refused_login(tmp_path: Any) -> None:
    script = shutil.which("dlt-sqlalchemy", path=os.path.dirname(sys.executable))
    assert script is not None, "pip install -e . installs the `dlt-sqlalchemy` console script"
    secret = new_secret()
    url = with_credentials(require_server("mariadb"), password=secret)
    done = subprocess.run(
        [script, "doctor", url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_command_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "connection: refused" in done.stdout
    assert_hidden(secret, done.stdout + done.stderr)
