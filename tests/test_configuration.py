"""Configuration the dlt way: `.dlt/*.toml`, environment variables, and where local files go."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable, Iterator, List, Optional

import dlt
import pytest
import sqlalchemy as sa
from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.exceptions import TransientException
from dlt.common.runtime.run_context import active

from conftest import Backend, make_rows, require_server
from dlt_sqlalchemy import SqlalchemyCredentials, sqlalchemy
from test_factory import key_constraints

TWriteSettings = Callable[[str, str], None]


def _reload_providers() -> None:
    # toml providers read their files once; a test that writes them must make dlt read again
    Container()[PluggableRunContext].reload_providers()


@pytest.fixture
def dlt_project(tmp_path: Any) -> Iterator[TWriteSettings]:
    """Writes `.dlt/<file>` in the test's working dir and makes dlt read it; removes it after."""
    settings_dir = tmp_path / ".dlt"
    # dlt finds the project from the current working dir, where the autouse fixture put us
    assert os.path.abspath(active().settings_dir) == str(settings_dir)

    def write(file_name: str, text: str) -> None:
        settings_dir.mkdir(exist_ok=True)
        (settings_dir / file_name).write_text(text, encoding="utf-8")
        _reload_providers()

    yield write
    # the providers are process-wide: later tests must not see this test's settings
    shutil.rmtree(settings_dir, ignore_errors=True)
    _reload_providers()


def causes(ex: BaseException) -> List[BaseException]:
    chain: List[BaseException] = []
    current: Optional[BaseException] = ex
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def sql_log(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]


def toml_split_fields(url: str, driver_key: str) -> str:
    """The URL as split fields in a `[destination.sqlalchemy.credentials]` table."""
    parsed = sa.make_url(url)
    lines = ["[destination.sqlalchemy.credentials]", f'{driver_key} = "{parsed.drivername}"']
    for key in ("database", "username", "password", "host"):
        value = getattr(parsed, key)
        if value:
            lines.append(f'{key} = "{value}"')
    if parsed.port:
        lines.append(f"port = {parsed.port}")
    return "\n".join(lines) + "\n"


# --- secrets.toml, config.toml, environment ---------------------------------------------------


def test_secrets_toml_url(backend: Backend, dlt_project: TWriteSettings) -> None:
    dlt_project("secrets.toml", f'[destination.sqlalchemy]\ncredentials = "{backend.url}"\n')
    pipeline = backend.pipeline(destination="dlt_sqlalchemy.sqlalchemy")
    assert not pipeline.run(make_rows(2), table_name="players").has_failed_jobs
    assert len(backend.rows(pipeline.dataset_name, "players")) == 2


@pytest.mark.parametrize("driver_key", ["drivername", "driver_name"])
def test_secrets_toml_split_fields(
    backend: Backend, dlt_project: TWriteSettings, driver_key: str
) -> None:
    """Split fields work with both spellings of the driver (dlt's docs use `driver_name`)."""
    dlt_project("secrets.toml", toml_split_fields(backend.url, driver_key))
    pipeline = backend.pipeline(destination=sqlalchemy())
    credentials = pipeline.destination_client().config.credentials
    assert credentials.drivername == sa.make_url(backend.url).drivername
    assert not pipeline.run(make_rows(2), table_name="players").has_failed_jobs
    assert len(backend.rows(pipeline.dataset_name, "players")) == 2


def test_split_fields_with_query_table(dlt_project: TWriteSettings) -> None:
    """A `query` table among the split fields reaches the connection (MariaDB's charset)."""
    url = require_server("mariadb")
    dlt_project(
        "secrets.toml",
        toml_split_fields(url, "driver_name") + "[destination.sqlalchemy.credentials.query]\n"
        'charset = "utf8mb4"\n',
    )
    pipeline = dlt.pipeline("split_query", destination=sqlalchemy(), dataset_name="unused")
    with pipeline.sql_client() as client:
        assert client.execute_sql("SELECT @@character_set_client") == [("utf8mb4",)]


def test_env_var_credentials(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", backend.url)
    pipeline = backend.pipeline(destination=sqlalchemy())
    assert not pipeline.run(make_rows(2), table_name="players").has_failed_jobs
    assert len(backend.rows(pipeline.dataset_name, "players")) == 2


def test_env_var_split_fields_with_driver_name(monkeypatch: pytest.MonkeyPatch) -> None:
    url = sa.make_url(require_server("postgresql"))
    prefix = "DESTINATION__SQLALCHEMY__CREDENTIALS__"
    monkeypatch.setenv(prefix + "DRIVER_NAME", url.drivername)
    monkeypatch.setenv(prefix + "HOST", url.host or "")
    monkeypatch.setenv(prefix + "PORT", str(url.port))
    monkeypatch.setenv(prefix + "USERNAME", url.username or "")
    monkeypatch.setenv(prefix + "DATABASE", url.database or "")
    pipeline = dlt.pipeline("env_split", destination=sqlalchemy(), dataset_name="unused")
    with pipeline.sql_client() as client:
        assert client.execute_sql("SELECT current_database()") == [(url.database,)]


def test_env_var_query_fields_reach_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """`..._CREDENTIALS__QUERY__<KEY>` variables, which dlt alone would ignore, join the URL's
    query; the pipeline-scoped spelling wins over the plain one."""
    url = require_server("postgresql")
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", url)
    prefix = "DESTINATION__SQLALCHEMY__CREDENTIALS__QUERY__"
    monkeypatch.setenv(prefix + "APPLICATION_NAME", "plain")
    monkeypatch.setenv(prefix + "CONNECT_TIMEOUT", "7")
    pipeline = dlt.pipeline("env_query", destination=sqlalchemy(), dataset_name="unused")
    with pipeline.sql_client() as client:
        assert client.credentials.query == {"application_name": "plain", "connect_timeout": "7"}
        assert client.execute_sql("SELECT current_setting('application_name')") == [("plain",)]
    monkeypatch.setenv("ENV_QUERY__" + prefix + "APPLICATION_NAME", "scoped")
    pipeline = dlt.pipeline("env_query", destination=sqlalchemy(), dataset_name="unused")
    with pipeline.sql_client() as client:
        assert client.execute_sql("SELECT current_setting('application_name')") == [("scoped",)]


def test_no_credentials_says_where_dlt_looked(tmp_path: Any) -> None:
    """Nothing configured: the error lists the env var, the secrets.toml path (and that it is
    missing) instead of asking for a driver."""
    pipeline = dlt.pipeline("no_creds", destination=sqlalchemy(), dataset_name="unused")
    with pytest.raises(ConfigurationValueError) as raised, pipeline.sql_client():
        pass
    message = str(raised.value)
    assert message.startswith("No credentials found for the sqlalchemy destination")
    assert "DESTINATION__SQLALCHEMY__CREDENTIALS" in message
    assert str(tmp_path / ".dlt" / "secrets.toml") in message and "no such file" in message


def test_credentials_in_a_look_alike_section_are_pointed_out(
    dlt_project: TWriteSettings, tmp_path: Any
) -> None:
    dlt_project("secrets.toml", '[destination.dlt_sqlalchemy]\ncredentials = "sqlite:///x.db"\n')
    pipeline = dlt.pipeline("look_alike", destination=sqlalchemy(), dataset_name="unused")
    with pytest.raises(ConfigurationValueError) as raised, pipeline.sql_client():
        pass
    assert "has [destination.dlt_sqlalchemy]" in str(raised.value)


def test_conflicting_driver_spellings_are_refused() -> None:
    credentials = SqlalchemyCredentials(
        {"drivername": "postgresql", "driver_name": "mysql", "host": "h", "database": "d"}
    )
    with pytest.raises(ConfigurationValueError, match="driver_name"):
        credentials.on_resolved()


def test_missing_driver_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS__HOST", "127.0.0.1")
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS__DATABASE", "test")
    pipeline = dlt.pipeline("no_driver", destination=sqlalchemy(), dataset_name="unused")
    with pytest.raises(Exception) as exc_info:
        pipeline.destination_client()
    messages = " ".join(str(e) for e in causes(exc_info.value))
    assert "drivername" in messages


def test_config_toml_engine_kwargs(
    backend: Backend, dlt_project: TWriteSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """`[destination.sqlalchemy.engine_kwargs]` in config.toml reaches `create_engine`."""
    caplog.set_level(logging.INFO)
    dlt_project("secrets.toml", f'[destination.sqlalchemy]\ncredentials = "{backend.url}"\n')
    dlt_project("config.toml", "[destination.sqlalchemy.engine_kwargs]\necho = true\n")
    pipeline = backend.pipeline(destination="dlt_sqlalchemy.sqlalchemy")
    assert pipeline.destination_client().config.engine_kwargs == {"echo": True}
    pipeline.run(make_rows(2), table_name="players")
    assert any("CREATE TABLE" in line and "players" in line for line in sql_log(caplog))


def test_config_toml_engine_args_is_deprecated(
    dlt_project: TWriteSettings, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    dlt_project("config.toml", "[destination.sqlalchemy.engine_args]\npool_size = 3\n")
    dest = sqlalchemy("sqlite:///chess.db")
    pipeline = dlt.pipeline("engine_args", destination=dest, dataset_name="main")
    with pytest.warns(DeprecationWarning, match="engine_kwargs"):
        config = pipeline.destination_client().config
    assert config.engine_kwargs == {"pool_size": 3}
    # resolved from a file, the warning has no user code line to point at: the log says it too
    assert any(
        "engine_args" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    )
    with pipeline.sql_client() as client:
        assert client.native_connection.engine.pool.size() == 3


def test_config_toml_engine_args_and_engine_kwargs_together_are_refused(
    dlt_project: TWriteSettings,
) -> None:
    dlt_project(
        "config.toml",
        "[destination.sqlalchemy.engine_kwargs]\necho = true\n"
        "[destination.sqlalchemy.engine_args]\npool_size = 3\n",
    )
    pipeline = dlt.pipeline("both", destination=sqlalchemy("sqlite:///x.db"), dataset_name="main")
    with pytest.raises(Exception) as exc_info:
        pipeline.destination_client()
    refusal = [e for e in causes(exc_info.value) if isinstance(e, ConfigurationValueError)]
    assert refusal, causes(exc_info.value)
    assert "engine_args" in str(refusal[0]) and "engine_kwargs" in str(refusal[0])


def test_config_toml_key_options(backend: Backend, dlt_project: TWriteSettings) -> None:
    """`create_primary_keys` set in config.toml, as the docs show, creates the constraint."""
    dlt_project("secrets.toml", f'[destination.sqlalchemy]\ncredentials = "{backend.url}"\n')
    dlt_project("config.toml", "[destination.sqlalchemy]\ncreate_primary_keys = true\n")
    pipeline = backend.pipeline(destination="dlt_sqlalchemy.sqlalchemy")
    assert pipeline.destination_client().config.create_primary_keys is True

    @dlt.resource(primary_key="id")
    def players() -> Any:
        yield make_rows(2)

    assert not pipeline.run(players()).has_failed_jobs
    assert key_constraints(backend, pipeline.dataset_name, "players")[0] == ["id"]


# --- query parameters -------------------------------------------------------------------------


def test_url_query_reaches_the_connection(backend: Backend) -> None:
    """Query parameters of the URL survive resolution (and relocation of local files)."""
    probes = {
        "mariadb": ("charset=utf8mb4", "SELECT @@character_set_client", "utf8mb4"),
        "postgresql": ("application_name=dlt_q", "SHOW application_name", "dlt_q"),
        "sqlite": ("timeout=7", None, None),
        "duckdb": ("threads=3", "SELECT current_setting('threads')", 3),
    }
    query, probe_sql, expected = probes[backend.name]
    url = backend.url + ("&" if "?" in backend.url else "?") + query
    pipeline = backend.pipeline(destination=sqlalchemy(url))
    key, value = query.split("=")
    assert pipeline.destination_client().config.credentials.query[key] == value
    with pipeline.sql_client() as client:
        assert client.native_connection.engine.url.query[key] == value
        if probe_sql:
            assert client.execute_sql(probe_sql) == [(expected,)]
    assert not pipeline.run(make_rows(1), table_name="players").has_failed_jobs


# --- where local database files go ------------------------------------------------------------


def _load(url: str, tmp_path: Any, **kwargs: Any) -> dlt.Pipeline:
    pipeline_name = kwargs.pop("pipeline_name", "local_files")
    pipeline = dlt.pipeline(
        pipeline_name,
        destination=sqlalchemy(url, **kwargs),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    info = pipeline.run(make_rows(2), table_name="players")
    assert not info.has_failed_jobs
    return pipeline


def _database(pipeline: dlt.Pipeline) -> str:
    return str(pipeline.destination_client().config.credentials.database)


def test_relative_sqlite_path_is_under_the_local_dir(tmp_path: Any) -> None:
    pipeline = _load("sqlite:///chess.db", tmp_path)
    assert _database(pipeline) == str(tmp_path / "chess.db")
    assert (tmp_path / "chess.db").exists()
    assert (tmp_path / "chess__games.db").exists(), "dataset files sit next to the main file"


def test_dlt_local_dir_moves_relative_files(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "local"
    local.mkdir()
    monkeypatch.setenv("DLT_LOCAL_DIR", str(local))
    pipeline = _load("duckdb:///chess.duckdb", tmp_path)
    assert _database(pipeline) == str(local / "chess.duckdb")
    assert (local / "chess.duckdb").exists()
    assert not (tmp_path / "chess.duckdb").exists()


@pytest.mark.parametrize(
    "url, file_name", [("sqlite://", "local_files.db"), ("duckdb://", "local_files.duckdb")]
)
def test_bare_url_names_the_file_after_the_pipeline(
    tmp_path: Any, url: str, file_name: str
) -> None:
    pipeline = _load(url, tmp_path)
    assert _database(pipeline) == str(tmp_path / file_name)
    assert (tmp_path / file_name).exists()


def test_bare_url_names_the_file_after_the_destination(tmp_path: Any) -> None:
    pipeline = _load("sqlite://", tmp_path, destination_name="warehouse")
    assert _database(pipeline) == str(tmp_path / "warehouse.db")
    assert (tmp_path / "warehouse__games.db").exists()


@pytest.mark.parametrize("backend_name, suffix", [("sqlite", ".db"), ("duckdb", ".duckdb")])
def test_pipeline_location_is_the_pipeline_working_dir(
    tmp_path: Any, backend_name: str, suffix: str
) -> None:
    pipeline = _load(f"{backend_name}:///:pipeline:", tmp_path)
    expected = tmp_path / "pipelines" / "local_files" / f"local_files{suffix}"
    assert _database(pipeline) == str(expected)
    assert expected.exists()


def test_absolute_path_is_kept(tmp_path: Any) -> None:
    target = tmp_path / "elsewhere" / "abs.db"
    target.parent.mkdir()
    pipeline = _load(f"sqlite:///{target}", tmp_path)
    assert _database(pipeline) == str(target)
    assert target.exists()


def test_memory_database_is_not_turned_into_a_file(tmp_path: Any) -> None:
    pipeline = dlt.pipeline(
        "mem", destination=sqlalchemy("sqlite:///:memory:"), dataset_name="main"
    )
    assert _database(pipeline) == ":memory:"


# --- secrets stay secret ----------------------------------------------------------------------


def test_str_and_repr_never_show_the_password() -> None:
    from_url = SqlalchemyCredentials("postgresql://loader:s3cr3t@db:5432/dwh?sslkey=k3y")
    from_fields = SqlalchemyCredentials(
        {"driver_name": "mysql", "username": "loader", "password": "s3cr3t", "host": "db"}
    )
    from_engine = SqlalchemyCredentials(
        sa.create_engine("postgresql+psycopg://loader:s3cr3t@db/dwh")
    )
    for credentials in (from_url, from_fields, from_engine):
        for text in (str(credentials), repr(credentials)):
            assert "s3cr3t" not in text and "k3y" not in text
    assert str(from_url) == "postgresql://loader:***@db:5432/dwh"
    assert str(from_fields) == "mysql://loader:***@db"

    pipeline = dlt.pipeline(
        "secret", destination=sqlalchemy("postgresql://loader:s3cr3t@db/dwh"), dataset_name="x"
    )
    config = pipeline.destination_client().config
    for text in (str(config), repr(config), repr(pipeline.destination)):
        assert "s3cr3t" not in text


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_password_stays_out_of_load_info_and_logs(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """A real run with a password (PostgreSQL trusts us and ignores it) never shows it."""
    caplog.set_level(logging.DEBUG)
    url = sa.make_url(backend.url).set(password="s3cr3t-pw")
    pipeline = backend.pipeline(destination=sqlalchemy(url.render_as_string(hide_password=False)))
    info = pipeline.run(make_rows(2), table_name="players")
    assert not info.has_failed_jobs
    assert "s3cr3t-pw" not in str(info)
    assert "s3cr3t-pw" not in caplog.text


def test_refused_login_does_not_show_the_password() -> None:
    url = sa.make_url(require_server("mariadb")).set(password="wr0ng-pw")
    pipeline = dlt.pipeline(
        "refused",
        destination=sqlalchemy(url.render_as_string(hide_password=False)),
        dataset_name="unused",
    )
    with pytest.raises(Exception) as exc_info:
        pipeline.run(make_rows(1), table_name="players")
    for ex in causes(exc_info.value):
        assert "wr0ng-pw" not in str(ex), type(ex)
    assert "wr0ng-pw" not in repr(exc_info.value)
    assert any("Access denied" in str(ex) for ex in causes(exc_info.value)), "not a login failure"


def test_engine_kwargs_typo_is_a_configuration_error(backend: Backend) -> None:
    """An option `create_engine` does not take is named, with where engine_kwargs come from,
    as a configuration error instead of a bare TypeError at the first connection."""
    from dlt.common.configuration.exceptions import ConfigurationValueError
    from dlt.pipeline.exceptions import PipelineStepFailed

    from dlt_sqlalchemy.exceptions import InvalidEngineOption
    from passwords import assert_password_nowhere, captured_logs, url_with_password

    with url_with_password(backend) as (url, secret), captured_logs() as logs:
        pipeline = backend.pipeline(
            destination=backend.destination(credentials=url, engine_kwargs={"pool_pre_pingg": True})
        )
        with pytest.raises(PipelineStepFailed) as raised:
            pipeline.run(make_rows(1), table_name="players")
        error = raised.value.exception
        assert isinstance(error, InvalidEngineOption)
        # a configuration error, and so terminal for dlt: not retried
        assert isinstance(error, ConfigurationValueError)
        assert not isinstance(error, TransientException)
        assert "pool_pre_pingg" in str(error) and "engine_kwargs" in str(error)
        assert raised.value.step == "sync"
        assert not pipeline.list_extracted_load_packages()
        assert_password_nowhere(secret, raised.value, logs.getvalue(), pipeline)
