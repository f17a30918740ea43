"""Capabilities: the documented table, and per-dialect values derived from the URL alone."""

from __future__ import annotations

import datetime
import sys
from typing import Any, List

import dlt
import pytest
from dlt.common.destination import DestinationCapabilitiesContext

from conftest import Backend, make_rows
from dlt_sqlalchemy import sqlalchemy
from dlt_sqlalchemy.exceptions import MissingDriver

# module each URL's DBAPI driver lives in; the tests hide it so it counts as not installed
DIALECTS = {
    # url: (driver module, max identifier, sqlglot dialect, native boolean, case sensitive)
    "mssql+pyodbc://u:pw@h/db": ("pyodbc", 128, "tsql", False, True),
    "oracle+oracledb://u:pw@h/db": ("oracledb", 128, "oracle", None, False),
    "mysql+pymysql://u:pw@h/db": ("pymysql", 64, "mysql", False, True),
    "mariadb+mysqldb://u:pw@h/db": ("MySQLdb", 64, "mysql", False, True),
    "postgresql+psycopg2://u:pw@h/db": ("psycopg2", 63, "postgres", True, True),
    "sqlite:///chess.db": ("sqlite3", None, "sqlite", False, True),
    "duckdb:///chess.duckdb": ("duckdb", None, "duckdb", True, True),
}


@pytest.fixture
def without_driver(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes `import <module>` fail as it would where the driver is not installed."""

    def hide(module: str) -> None:
        for name in list(sys.modules):
            if name == module or name.startswith(module + "."):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)

    return hide


def assert_documented_table(caps: DestinationCapabilitiesContext) -> None:
    assert caps.preferred_loader_file_format == "parquet"  # pyarrow is installed here
    assert set(caps.supported_loader_file_formats) == {"typed-jsonl", "parquet", "model"}
    # `staging-optimized` is accepted as well and falls back to `insert-from-staging`
    assert caps.supported_replace_strategies[:2] == ["truncate-and-insert", "insert-from-staging"]
    assert set(caps.supported_replace_strategies) <= {
        "truncate-and-insert",
        "insert-from-staging",
        "staging-optimized",
    }
    assert caps.supports_tz_aware_datetime is True
    assert caps.supports_naive_datetime is True
    assert caps.preferred_staging_file_format is None


@pytest.mark.parametrize("url", list(DIALECTS))
def test_merge_strategies_as_documented(url: str) -> None:
    """Every dialect, MySQL included, declares all five strategies of dlt 1.31
    (docs/write-dispositions.md); delete-insert stays the default."""
    caps = sqlalchemy(url).capabilities()
    assert caps.supported_merge_strategies == [
        "delete-insert",
        "scd2",
        "upsert",
        "insert-only",
        "cdc",
    ]


@pytest.mark.parametrize("url", list(DIALECTS))
def test_capabilities_from_the_url_without_the_driver(url: str, without_driver: Any) -> None:
    module, max_length, sqlglot_dialect, native_bool, case_sensitive = DIALECTS[url]
    if module not in ("sqlite3", "duckdb"):
        without_driver(module)
        with pytest.raises(ImportError):
            __import__(module)
    caps = sqlalchemy(url).capabilities()
    assert_documented_table(caps)
    assert caps.sqlglot_dialect == sqlglot_dialect
    if max_length is not None:
        assert caps.max_identifier_length == max_length
        assert caps.max_column_identifier_length == max_length
    if native_bool is not None:
        assert caps.supports_native_boolean is native_bool
    assert caps.has_case_sensitive_identifiers is case_sensitive
    if not case_sensitive:
        # the database upper-cases unquoted names; we keep them lower-case, unquoted
        assert caps.casefold_identifier("Players") == "players"
    else:
        assert caps.casefold_identifier("Players") == "Players"


def test_explicit_capability_override_wins_over_the_dialect() -> None:
    caps = sqlalchemy("mssql+pyodbc://u:pw@h/db", max_identifier_length=30).capabilities()
    assert caps.max_identifier_length == 30


@pytest.mark.parametrize(
    "url, module, hint",
    [
        ("mssql+pyodbc://u:s3cr3t@h/db", "pyodbc", "pip install pyodbc"),
        ("oracle+oracledb://u:s3cr3t@h/db", "oracledb", "pip install oracledb"),
        ("mysql+pymysql://u:s3cr3t@h/db", "pymysql", "pip install pymysql"),
    ],
)
def test_extract_and_normalize_need_no_driver(
    url: str, module: str, hint: str, tmp_path: Any, without_driver: Any
) -> None:
    """Only loading needs the driver; it fails with MissingDriver and how to install it."""
    without_driver(module)
    pipeline = dlt.pipeline(
        f"no_driver_{module}",
        destination=sqlalchemy(url),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    long_name = "a_rather_long_column_name_" * 4 + "end"  # over 64 characters, under 128
    pipeline.extract([{"id": 1, "Player Name": "x", long_name: 1}], table_name="Players")
    pipeline.normalize()
    caps = sqlalchemy(url).capabilities()
    columns = list(pipeline.default_schema.get_table_columns("players"))
    assert "player_name" in columns
    stored = [c for c in columns if c.startswith("a_rather_long")]
    assert len(stored) == 1 and len(stored[0]) <= caps.max_column_identifier_length
    if caps.max_column_identifier_length >= len(long_name):
        assert stored[0] == long_name

    with pytest.raises(Exception) as exc_info:
        pipeline.load()
    missing = [e for e in _causes(exc_info.value) if isinstance(e, MissingDriver)]
    assert missing, f"expected MissingDriver, got {_causes(exc_info.value)}"
    assert hint in str(missing[0])
    assert module in str(missing[0])
    assert "s3cr3t" not in str(exc_info.value)


def _causes(ex: BaseException) -> List[BaseException]:
    chain: List[BaseException] = []
    current: Any = ex
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


# --- live: the capabilities a client gets, and that they hold ---------------------------------

LIVE_SQLGLOT = {
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "mariadb": "mysql",
}
LIVE_MAX_IDENTIFIER = {"postgresql": 63, "mariadb": 64}


def test_client_capabilities_follow_the_dialect(backend: Backend) -> None:
    pipeline = backend.pipeline()
    caps = pipeline.destination_client().capabilities
    assert_documented_table(caps)
    assert caps.sqlglot_dialect == LIVE_SQLGLOT[backend.name]
    if backend.name in LIVE_MAX_IDENTIFIER:
        assert caps.max_identifier_length == LIVE_MAX_IDENTIFIER[backend.name]
    assert caps.supports_native_boolean is backend.engine.dialect.supports_native_boolean


def test_datetimes_aware_and_naive_round_trip(backend: Backend) -> None:
    """Aware timestamps keep their instant; naive ones (timezone=False) keep their wall time."""
    aware = datetime.datetime(
        2024, 3, 1, 12, 30, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    naive = datetime.datetime(2024, 3, 1, 12, 30, 15)
    pipeline = backend.pipeline()

    @dlt.resource(columns={"naive": {"data_type": "timestamp", "timezone": False}})
    def events() -> Any:
        yield {"id": 1, "aware": aware, "naive": naive}

    assert not pipeline.run(events()).has_failed_jobs
    row = pipeline.dataset().events.select("aware", "naive").fetchall()[0]
    read_aware, read_naive = row
    if isinstance(read_aware, str):  # SQLite keeps ISO text
        read_aware = datetime.datetime.fromisoformat(read_aware)
        read_naive = datetime.datetime.fromisoformat(read_naive)
    assert read_aware.tzinfo is not None
    assert read_aware == aware
    assert read_naive.replace(tzinfo=None) == naive


def loaded_formats(info: Any) -> List[str]:
    jobs = [job for package in info.load_packages for job in package.jobs["completed_jobs"]]
    return sorted({job.job_file_info.file_format for job in jobs})


def test_parquet_by_default_typed_jsonl_on_request(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pyarrow installed, normalize writes parquet for us (its writer is faster and every
    load path reads Arrow); `loader_file_format` in code or in the environment chooses
    typed-jsonl, and the pipeline's own argument still wins over both."""
    pipeline = backend.pipeline()
    info = pipeline.run(make_rows(3), table_name="players")
    assert loaded_formats(info) == ["parquet"]
    assert sorted(r[0] for r in backend.rows(pipeline.dataset_name, "players")) == [0, 1, 2]

    in_code = backend.pipeline(destination=backend.destination(loader_file_format="typed-jsonl"))
    assert loaded_formats(in_code.run(make_rows(2), table_name="players")) == ["typed-jsonl"]

    monkeypatch.setenv("DESTINATION__SQLALCHEMY__LOADER_FILE_FORMAT", "typed-jsonl")
    from_env = backend.pipeline()
    assert loaded_formats(from_env.run(make_rows(2), table_name="players")) == ["typed-jsonl"]
    info = from_env.run(make_rows(2), table_name="more", loader_file_format="parquet")
    assert loaded_formats(info) == ["parquet"]


def test_typed_jsonl_by_default_without_pyarrow(without_driver: Any) -> None:
    without_driver("pyarrow")
    for url in ("postgresql+psycopg://u@h/db", "sqlite:///chess.db"):
        assert sqlalchemy(url).capabilities().preferred_loader_file_format == "typed-jsonl"


def test_unknown_loader_file_format_is_refused_before_extract(tmp_path: Any) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="bad_format",
        destination=sqlalchemy(f"sqlite:///{tmp_path / 'x.db'}", loader_file_format="csvv"),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with pytest.raises(Exception) as raised:
        pipeline.run(make_rows(2), table_name="players")
    assert '`loader_file_format = "csvv"`' in str(raised.value)
    assert "parquet, typed-jsonl" in str(raised.value)
    assert not pipeline.list_extracted_load_packages()
    assert not pipeline.list_normalized_load_packages()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_case_sensitive_identifiers_are_kept_apart(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a case-sensitive naming convention, `Id` and `id` become two columns."""
    monkeypatch.setenv("SCHEMA__NAMING", "sql_cs_v1")
    pipeline = backend.pipeline()
    info = pipeline.run([{"Id": 1, "id": 2}], table_name="Players")
    assert not info.has_failed_jobs
    rows = backend.query(
        f'SELECT "Id", "id" FROM {backend.qualified(pipeline.dataset_name, "Players")}'
    )
    assert rows == [(1, 2)]
