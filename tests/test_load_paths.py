"""Every load path stores the same data, and loads each file all or nothing.

Each test forces one path (`load_path=`) on the backend that offers it, in both file formats,
and checks the path really ran (the job metrics name it). The data is the all-types rows of
`test_types` plus text and binary built to break a bulk format: CSV quotes and delimiters, COPY's
end-of-data marker, backslashes, NULL spelled as text, line breaks of every kind.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any, Dict, List, Tuple

import pytest
import sqlalchemy as sa
from dlt.common.schema.typing import TColumnSchema
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend, hide_module
from dlt_sqlalchemy.exceptions import ValueNotStorable
from test_types import COLUMNS, assert_rows, expected_rows, make_rows, read_typed

FORMATS = ["typed-jsonl", "parquet"]

# the paths each live backend offers in the test environment (dev extras installed)
PATHS: Dict[str, List[str]] = {
    "postgresql": ["adbc", "copy", "executemany"],
    "mariadb": ["load_data", "insert_values", "executemany"],
    "sqlite": ["adbc", "tuples", "executemany"],
    "duckdb": ["arrow", "executemany"],
}
FORMAT_ONLY = {("postgresql", "adbc"): "parquet"}

CASES: List[Tuple[str, str, str]] = [
    (backend, path, file_format)
    for backend, paths in PATHS.items()
    for path in paths
    for file_format in FORMATS
    if FORMAT_ONLY.get((backend, path), file_format) == file_format
]
PATH_CASES = sorted({(backend, path) for backend, path, _ in CASES})


def _ids(case: Tuple[str, ...]) -> str:
    return "-".join(case)


def backend_path_format(cases: List[Tuple[str, str, str]]) -> Any:
    return pytest.mark.parametrize(
        "backend,path,file_format",
        [pytest.param(*c, id=_ids(c)) for c in cases],
        indirect=["backend"],
    )


def backend_path(cases: List[Tuple[str, str]]) -> Any:
    return pytest.mark.parametrize(
        "backend,path", [pytest.param(*c, id=_ids(c)) for c in cases], indirect=["backend"]
    )


def destination(backend: Backend, path: str, **kwargs: Any) -> Any:
    if backend.name == "mariadb" and path == "load_data":
        # LOCAL INFILE is a client capability: ask for it (libmysqlclient builds default to off)
        kwargs["engine_kwargs"] = {"connect_args": {"local_infile": 1}}
        require_server_local_infile(backend)
    return backend.destination(load_path=path, **kwargs)


def require_server_local_infile(backend: Backend) -> None:
    """The server decides too; a test never changes a server setting."""
    ((value,),) = backend.query("SELECT @@GLOBAL.local_infile")
    if str(value).upper() not in ("1", "ON"):
        pytest.skip("the MariaDB server has local_infile OFF: LOAD DATA LOCAL is refused")


def paths_used(info: Any, table: str) -> set[str]:
    used = set()
    for metrics in info.metrics.values():
        for job in metrics[0]["job_metrics"].values():
            if job.table_name == table and (job.remote_url or "").startswith("load-path:"):
                used.add(job.remote_url.split(":", 1)[1])
    return used


# --- text and binary that break careless bulk formats -----------------------------------------

EDGE_TEXTS = [
    "",
    "NULL",
    "null",
    "\\N",
    "\\.",
    "a\n\\.\nb",
    "\\.\n",
    ",",
    ";",
    "|",
    '"',
    '""',
    '"quoted"',
    "'",
    "''",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\\",
    "\\\\",
    "\\t not a tab \\n not a newline \\x41",
    " leading and trailing ",
    'a,"b",c\n1,"2",3',
    "ü☃😀 中文 עברית \u2028 \u00a0",
    "\x1a\x07\x08\x0b\x0c",
    "0x414243",
    "x" * 10_000,
]
EDGE_BINARY = [b"", b"\\", b",", b'"', b"\n", b"\r\n", b"\\N", bytes(range(256)), b"\x00" * 10]
EDGE_JSON: List[Any] = [
    {"s": "\t\n\r\"\\,;|'", "n": None, "u": "ü☃😀", "nested": [{"a": [1, 2.5, None]}]},
    ["NULL", "\\N", "", None],
    {"csv": 'a,"b"\n', "copy_end": "\\.", "empty": {}, "list": []},
    [0, True, False, -2.5],
    None,
]
EDGE_COLUMNS: Dict[str, TColumnSchema] = {
    "id": {"data_type": "bigint", "nullable": False},
    "txt": {"data_type": "text"},
    "bin": {"data_type": "binary"},
    "js": {"data_type": "json"},
}


def edge_rows() -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for i, text in enumerate(EDGE_TEXTS):
        row: Dict[str, Any] = {"id": i, "txt": text}
        if i < len(EDGE_BINARY) and EDGE_BINARY[i]:  # dlt cannot carry empty bytes (test_types)
            row["bin"] = EDGE_BINARY[i]
        if i < len(EDGE_JSON) and EDGE_JSON[i] is not None:
            row["js"] = EDGE_JSON[i]
        rows.append(row)
    rows.append({"id": len(EDGE_TEXTS)})  # NULL everywhere but the key
    return rows


@backend_path_format(CASES)
def test_all_types_round_trip_per_path(backend: Backend, path: str, file_format: str) -> None:
    """The all-types rows read back equal, with their Python types, through each path."""
    pipeline = backend.pipeline(destination=destination(backend, path))
    info = pipeline.run(
        make_rows(backend.name, file_format),
        table_name="types",
        columns=COLUMNS,
        loader_file_format=file_format,  # type: ignore[arg-type]
    )
    assert not info.has_failed_jobs
    assert paths_used(info, "types") == {path}
    expected = expected_rows(backend.name, file_format)
    assert_rows(read_typed(backend, pipeline.dataset_name), expected, f"{path}/{file_format}")
    relation = pipeline.dataset()["types"].select(*COLUMNS)
    rows = sorted(relation.fetchall(), key=lambda r: r[0])
    assert_rows([dict(zip(COLUMNS, r)) for r in rows], expected, f"{path}/{file_format} dataset")


@backend_path_format(CASES)
def test_edge_text_binary_and_json_per_path(backend: Backend, path: str, file_format: str) -> None:
    """NULL stays apart from '' and from the text 'NULL'; quotes, delimiters, backslashes, line
    breaks and COPY's `\\.` arrive as written; binary keeps every byte; JSON is a document."""
    pipeline = backend.pipeline(destination=destination(backend, path))
    rows = edge_rows()
    info = pipeline.run(
        rows,
        table_name="edges",
        columns=EDGE_COLUMNS,
        loader_file_format=file_format,  # type: ignore[arg-type]
    )
    assert not info.has_failed_jobs
    assert paths_used(info, "edges") == {path}
    assert_edges_stored(backend, pipeline.dataset_name, rows, f"{path}/{file_format}")


def assert_edges_stored(
    backend: Backend, dataset: str, rows: List[Dict[str, Any]], how: str
) -> None:
    """The edge rows are stored as written, read through the test's own engine."""
    table = sa.Table(
        "edges",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger),
        sa.Column("txt", sa.Text),
        sa.Column("bin", sa.LargeBinary),
        sa.Column("js", sa.Text),
        schema=dataset,
    )
    with backend.engine.connect() as conn:
        if backend.name == "sqlite":
            from conftest import attach_sqlite_datasets

            attach_sqlite_datasets(conn, backend.url, backend.datasets)
        stored = conn.execute(
            sa.select(table.c.id, table.c.txt, table.c.bin, sa.cast(table.c.js, sa.Text)).order_by(
                table.c.id
            )
        ).all()
    assert len(stored) == len(rows)
    for (id_, txt, bin_, js), row in zip(stored, rows):
        where = f"{how} row {id_}"
        assert id_ == row["id"]
        assert txt == row.get("txt"), f"{where}: {txt!r}"
        assert (bytes(bin_) if bin_ is not None else None) == row.get("bin"), where
        if row.get("js") is None:
            assert js is None, where
        else:
            assert json.loads(js) == row["js"], f"{where}: {js!r}"


@backend_path(PATH_CASES)
def test_json_with_typed_values_matches_executemany(backend: Backend, path: str) -> None:
    """Dates, decimals and timestamps inside a JSON document serialize as on the portable path
    (dlt tags them inside typed-jsonl; a bulk path must not leak the tags or double-encode)."""
    document = {
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 2, 29),
        "amount": Decimal("12.3400"),
        "plain": "text",
        "list": [Decimal("1.5"), datetime.date(2000, 1, 1), None],
    }
    stored = {}
    for how in ("executemany", path):
        pipeline = backend.pipeline(destination=destination(backend, how))
        file_format = FORMAT_ONLY.get((backend.name, path), "typed-jsonl")
        info = pipeline.run(
            [{"id": 1, "js": document}],
            table_name="docs",
            columns={"js": {"data_type": "json"}},
            loader_file_format=file_format,  # type: ignore[arg-type]
        )
        assert not info.has_failed_jobs
        assert paths_used(info, "docs") == {how}
        ((value,),) = pipeline.dataset()["docs"].select("js").fetchall()
        stored[how] = value
    assert stored[path] == stored["executemany"]
    assert isinstance(stored[path], dict) and stored[path]["plain"] == "text"


@backend_path_format(CASES)
def test_failure_mid_file_leaves_no_rows(backend: Backend, path: str, file_format: str) -> None:
    """Thousands of good rows, then a NULL for a NOT NULL column near the end of the file: the
    job fails naming the column, and none of the file's rows remain."""
    pipeline = backend.pipeline(destination=destination(backend, path, max_rows_per_insert=500))
    not_null: Dict[str, TColumnSchema] = {"n": {"data_type": "bigint", "nullable": False}}
    pipeline.run([{"id": 0, "n": 0}], table_name="t", columns=not_null)
    relaxed: Dict[str, TColumnSchema] = {"n": {"data_type": "bigint", "nullable": True}}
    rows = [{"id": i, "n": i, "s": f"row {i}\twith\ntext"} for i in range(1, 12_001)]
    rows[-3]["n"] = None
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(
            rows,
            table_name="t",
            columns=relaxed,
            loader_file_format=file_format,  # type: ignore[arg-type]
        )
    assert_names_column(raised.value, "t", "n")
    table = backend.qualified(pipeline.dataset_name, "t")
    assert [tuple(r) for r in backend.query(f"SELECT id FROM {table}")] == [(0,)]


VALUE_CASES = {
    "text longer than its precision": (
        "s",
        {"s": {"data_type": "text", "precision": 5}},
        "x" * 20,
        ("postgresql", "mariadb"),
    ),
    "integer out of a 16-bit range": (
        "n",
        {"n": {"data_type": "bigint", "precision": 16}},
        70_000,
        ("postgresql", "mariadb", "duckdb"),
    ),
}


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
@backend_path_format(CASES)
def test_value_errors_name_the_column_per_path(
    backend: Backend, path: str, file_format: str, case: str
) -> None:
    """A value the column cannot hold fails the file as `ValueNotStorable` naming the column,
    whichever path the database refused it on."""
    column, hints, bad, enforced = VALUE_CASES[case]
    if backend.name not in enforced:
        pytest.skip(f"{backend.name} stores the value (see test_errors)")
    if file_format == "parquet" and column == "n":
        pytest.skip("dlt's normalizer refuses the integer before the load step")
    pipeline = backend.pipeline(destination=destination(backend, path))
    pipeline.run([{"id": 0, column: None}], table_name="v", columns=hints)
    rows = [{"id": i, column: None} for i in range(1, 3000)] + [{"id": 3000, column: bad}]
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(
            rows,
            table_name="v",
            columns=hints,
            loader_file_format=file_format,  # type: ignore[arg-type]
        )
    assert_names_column(raised.value, "v", column)
    table = backend.qualified(pipeline.dataset_name, "v")
    assert [tuple(r) for r in backend.query(f"SELECT id FROM {table}")] == [(0,)]


def assert_names_column(failed: PipelineStepFailed, table: str, column: str) -> None:
    error: Any = failed
    seen: set[int] = set()
    while error is not None and not isinstance(error, ValueNotStorable):
        assert id(error) not in seen, f"the exception chain loops at {error!r}"
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    assert isinstance(error, ValueNotStorable), f"no ValueNotStorable in {failed!r}"
    assert (error.table_name, error.column_name) == (table, column)


# --- choosing a path ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql", "mariadb", "sqlite", "duckdb"], indirect=True)
def test_fastest_path_is_the_default(backend: Backend) -> None:
    """Without `load_path`, each backend loads by its first available path."""
    expected = {
        "postgresql": {"typed-jsonl": "copy", "parquet": "adbc"},
        "mariadb": {"typed-jsonl": "load_data", "parquet": "load_data"},
        "sqlite": {"typed-jsonl": "adbc", "parquet": "adbc"},
        "duckdb": {"typed-jsonl": "arrow", "parquet": "arrow"},
    }[backend.name]
    if backend.name == "mariadb":
        require_server_local_infile(backend)
    for file_format in FORMATS:
        pipeline = backend.pipeline()
        info = pipeline.run(
            [{"id": 1}],
            table_name="t",
            loader_file_format=file_format,  # type: ignore[arg-type]
        )
        assert paths_used(info, "t") == {expected[file_format]}, file_format


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_insert_values_steps_aside_without_numpy(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where LOAD DATA is off (PyMySQL's default, clusters, managed MySQL) and numpy is missing,
    the job loads through `executemany` instead of failing every file on the import; forcing
    `insert_values` names the extra that installs numpy."""
    import pyarrow.compute  # noqa: F401 - pyarrow checks once, on import, whether numpy is there

    url = sa.make_url(backend.url).set(drivername="mysql+pymysql")
    hide_module(monkeypatch, "numpy")
    pipeline = backend.pipeline(destination=backend.destination(credentials=url))
    info = pipeline.run([{"id": i, "s": f"row {i}"} for i in range(30)], table_name="t")
    assert paths_used(info, "t") == {"executemany"}
    assert pipeline.dataset()["t"].select("id").fetchall() == [(i,) for i in range(30)]

    forced = backend.pipeline(
        destination=backend.destination(credentials=url, load_path="insert_values")
    )
    with pytest.raises(PipelineStepFailed, match=r"dlt-sqlalchemy\[mysql\]"):
        forced.run([{"id": 1}], table_name="t")


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_load_data_steps_aside_when_the_client_has_local_infile_off(backend: Backend) -> None:
    """PyMySQL has LOCAL INFILE off unless asked: the job falls back to Arrow-rendered multi-row
    INSERTs, and forcing `load_data` says what to set."""
    url = sa.make_url(backend.url).set(drivername="mysql+pymysql")
    pipeline = backend.pipeline(destination=backend.destination(credentials=url))
    info = pipeline.run([{"id": 1, "s": "a\\'b"}], table_name="t")
    assert paths_used(info, "t") == {"insert_values"}
    assert pipeline.dataset()["t"].select("s").fetchall() == [("a\\'b",)]

    forced = backend.pipeline(
        destination=backend.destination(credentials=url, load_path="load_data")
    )
    with pytest.raises(PipelineStepFailed, match="local_infile"):
        forced.run([{"id": 1}], table_name="t")

    require_server_local_infile(backend)
    allowed = backend.pipeline(
        destination=backend.destination(
            credentials=url, engine_kwargs={"connect_args": {"local_infile": True}}
        )
    )
    info = allowed.run([{"id": 1, "s": 'a\tb\n"c"'}], table_name="t")
    assert paths_used(info, "t") == {"load_data"}
    assert allowed.dataset()["t"].select("s").fetchall() == [('a\tb\n"c"',)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("file_format", FORMATS)
def test_copy_runs_on_psycopg2_too(backend: Backend, file_format: str) -> None:
    """`copy_expert` streams the same CSV as psycopg 3's `cursor.copy()`."""
    url = sa.make_url(backend.url).set(drivername="postgresql+psycopg2")
    pipeline = backend.pipeline(destination=backend.destination(credentials=url, load_path="copy"))
    info = pipeline.run(
        make_rows(backend.name, file_format),
        table_name="types",
        columns=COLUMNS,
        loader_file_format=file_format,  # type: ignore[arg-type]
    )
    assert paths_used(info, "types") == {"copy"}
    rows = sorted(pipeline.dataset()["types"].select(*COLUMNS).fetchall(), key=lambda r: r[0])
    expected = expected_rows(backend.name, file_format)
    assert_rows([dict(zip(COLUMNS, r)) for r in rows], expected, "psycopg2 copy")


@pytest.mark.parametrize("backend", ["postgresql", "sqlite", "duckdb", "mariadb"], indirect=True)
def test_user_type_decorator_tables_load_by_executemany(backend: Backend) -> None:
    """A column type that processes values in Python is run by `executemany`, never skipped."""
    from dlt_sqlalchemy import SqlalchemyTypeMapper
    from dlt_sqlalchemy.dialects import get_dialect_capabilities
    from test_extension_api import JSONString

    caps = type(get_dialect_capabilities(backend.engine.url.get_backend_name()))
    base = caps(backend.name).type_mapper_class() or SqlalchemyTypeMapper

    class Mapper(base):  # type: ignore[valid-type,misc]
        def _db_type_from_json_type(self, column: Any, table: Any = None) -> Any:
            return JSONString()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(caps, "type_mapper_class", lambda self: Mapper)
        pipeline = backend.pipeline()
        info = pipeline.run(
            [{"id": 1, "js": {"a": [1, "x"]}}],
            table_name="t",
            columns={"js": {"data_type": "json"}},
        )
        assert paths_used(info, "t") == {"executemany"}
        assert pipeline.dataset()["t"].select("js").fetchall()[0][0] in (
            {"a": [1, "x"]},
            '{"a":[1,"x"]}',
        )


@pytest.mark.compiled
def test_mssql_offers_fast_executemany_for_pyodbc_only() -> None:
    """Compiled only (no server here): the path comes first and claims pyodbc dialects."""
    from sqlalchemy.dialects.mssql import pymssql, pyodbc

    from dlt_sqlalchemy.dialects.mssql.capabilities import MssqlCapabilities
    from dlt_sqlalchemy.dialects.mssql.paths import PyodbcFastExecutemanyPath

    paths = MssqlCapabilities("mssql").load_paths()
    assert [p.name for p in paths] == ["fast_executemany", "executemany"]
    assert PyodbcFastExecutemanyPath.supports_dialect(pyodbc.dialect())
    assert not PyodbcFastExecutemanyPath.supports_dialect(pymssql.dialect())


@pytest.mark.compiled
def test_bulk_statements_quote_every_identifier() -> None:
    """COPY and LOAD DATA are our own constructs: names with quotes and spaces stay names."""
    from sqlalchemy.dialects import mysql, postgresql

    from dlt_sqlalchemy.dialects.mysql.paths import LoadDataLocalInfile
    from dlt_sqlalchemy.dialects.postgresql.paths import CopyFromStdin

    table = sa.Table(
        'we"ird ta`ble',
        sa.MetaData(),
        sa.Column("select", sa.Integer),
        sa.Column('a"b`c', sa.LargeBinary),
        schema="my schema",
    )
    copy = str(CopyFromStdin(table).compile(dialect=postgresql.psycopg.dialect()))
    assert copy == (
        'COPY "my schema"."we""ird ta`ble" ("select", "a""b`c") FROM STDIN WITH (FORMAT csv)'
    )
    load = str(
        LoadDataLocalInfile(table, "/tmp/it's.csv", ['a"b`c']).compile(
            dialect=mysql.mysqldb.dialect()
        )
    )
    assert 'INTO TABLE `my schema`.`we"ird ta``ble`' in load
    assert '(`select`, @hex1) SET `a"b``c` = UNHEX(@hex1)' in load
    assert "'/tmp/it''s.csv'" in load or "'/tmp/it\\'s.csv'" in load


def test_arrow_and_python_readers_agree(tmp_path: Any) -> None:
    """The bulk paths' Arrow batches hold the values of the executemany path's Python batches."""
    from dlt.common.json import json as dlt_json

    from dlt_sqlalchemy.load.readers import read_arrow, read_typed_jsonl

    rows = make_rows("postgresql", "typed-jsonl")
    path = tmp_path / "t.typed-jsonl"
    path.write_bytes(
        dlt_json.typed_dumpb(rows[:2]) + b"\n" + dlt_json.typed_dumpb(rows[2:]) + b"\n"
    )
    columns = [{"name": n, **c} for n, c in COLUMNS.items()]
    python = [v for batch in read_typed_jsonl(str(path), columns, 100) for v in zip(*batch)]
    arrow = [
        tuple(row.values())
        for batch in read_arrow(str(path), "typed-jsonl", columns, 100)
        for row in batch.to_pylist()
    ]
    assert len(python) == len(arrow) == 3
    for got, want in zip(arrow, python):
        for name, a, p in zip(COLUMNS, got, want):
            data_type = COLUMNS[name]["data_type"]
            if data_type in ("decimal", "wei") and p is not None:
                assert Decimal(a) == p, name
            elif data_type == "json" and p is not None:
                assert json.loads(a) == p, name
            else:
                assert a == p, name


def test_hex_text_matches_python() -> None:
    import pyarrow as pa

    from dlt_sqlalchemy.load.bulk import hex_text

    values = [b"\x00\xff", None, b"", bytes(range(256)), b"abc"]
    array = pa.array(values, pa.binary()).slice(1)  # an offset array too
    got = hex_text(array, b"\\x").to_pylist()
    assert got == [None if v is None else "\\x" + v.hex() for v in values[1:]]


@backend_path(PATH_CASES)
def test_statement_error_fails_cleanly_per_path(backend: Backend, path: str) -> None:
    """A column dropped behind dlt's back: the statement fails before any row is read (COPY and
    LOAD DATA never open their stream), the job fails terminally and nothing hangs."""
    assert_statement_error_fails_cleanly(backend, destination(backend, path), path)


def assert_statement_error_fails_cleanly(backend: Backend, dest: Any, path: str) -> None:
    from dlt.destinations.exceptions import DatabaseTerminalException

    pipeline = backend.pipeline(destination=dest)
    file_format = FORMAT_ONLY.get((backend.name, path), "typed-jsonl")
    pipeline.run([{"id": 0, "s": "a"}], table_name="t", loader_file_format=file_format)  # type: ignore[arg-type]
    with pipeline.sql_client() as client:
        quoted = client.escape_column_name("s")
        client.execute_sql(
            f"ALTER TABLE {client.make_qualified_table_name('t')} DROP COLUMN {quoted}"
        )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1, "s": "b"}], table_name="t", loader_file_format=file_format)  # type: ignore[arg-type]
    error: Any = raised.value
    seen: set[int] = set()
    while error is not None and not isinstance(error, DatabaseTerminalException):
        assert id(error) not in seen, f"the exception chain loops at {error!r}"
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    assert isinstance(error, DatabaseTerminalException)
    assert not isinstance(error, ValueNotStorable)
    table = backend.qualified(pipeline.dataset_name, "t")
    assert [tuple(r) for r in backend.query(f"SELECT id FROM {table}")] == [(0,)]


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_insert_values_under_no_backslash_escapes(backend: Backend) -> None:
    """A session with NO_BACKSLASH_ESCAPES reads `\\` literally: the rendered VALUES follow."""
    sql_mode = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'"
    pipeline = backend.pipeline(
        destination=backend.destination(
            load_path="insert_values",
            engine_kwargs={"connect_args": {"init_command": sql_mode}},
        )
    )
    rows = edge_rows()
    info = pipeline.run(rows, table_name="edges", columns=EDGE_COLUMNS)
    assert paths_used(info, "edges") == {"insert_values"}
    stored = pipeline.dataset()["edges"].select("id", "txt").fetchall()
    assert sorted(stored) == sorted((r["id"], r.get("txt")) for r in rows)


BULK_PATHS = {"postgresql": "copy", "mariadb": "load_data", "sqlite": "tuples", "duckdb": "arrow"}


@pytest.mark.parametrize("backend", list(BULK_PATHS), indirect=True)
def test_typed_jsonl_decoded_by_subprocesses(backend: Backend, monkeypatch: Any) -> None:
    """Large typed-jsonl files are decoded by two subprocesses whose batches are interleaved back
    into file order: the same values arrive, and a failed row is still found by its position."""
    from dlt_sqlalchemy.load import readers

    monkeypatch.setattr(readers, "DECODE_IN_SUBPROCESS_BYTES", 1)
    path = BULK_PATHS[backend.name]
    pipeline = backend.pipeline(destination=destination(backend, path))
    info = pipeline.run(
        make_rows(backend.name, "typed-jsonl"),
        table_name="types",
        columns=COLUMNS,
        loader_file_format="typed-jsonl",
    )
    assert paths_used(info, "types") == {path}
    expected = expected_rows(backend.name, "typed-jsonl")
    assert_rows(read_typed(backend, pipeline.dataset_name), expected, f"{path} in subprocesses")

    not_null: Dict[str, TColumnSchema] = {"n": {"data_type": "bigint", "nullable": False}}
    pipeline.run([{"id": 0, "n": 0}], table_name="t", columns=not_null)
    rows = [{"id": i, "n": i} for i in range(1, 20_001)]
    rows[-5]["n"] = None
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(
            rows,
            table_name="t",
            columns={"n": {"data_type": "bigint", "nullable": True}},
            loader_file_format="typed-jsonl",
        )
    assert_names_column(raised.value, "t", "n")
    table = backend.qualified(pipeline.dataset_name, "t")
    assert [tuple(r) for r in backend.query(f"SELECT id FROM {table}")] == [(0,)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_unknown_error_of_a_path_is_not_its_own_cause(backend: Backend, monkeypatch: Any) -> None:
    """An error no classifier knows reaches the user as it was, its cause chain finite: a
    self-caused exception hangs every reader of `__cause__` (dlt's own, the tests')."""
    from dlt_sqlalchemy.load.path import ExecutemanyPath

    def fail(self: Any, request: Any) -> int:
        raise RuntimeError("a path's own bug")

    monkeypatch.setattr(ExecutemanyPath, "load", fail)
    pipeline = backend.pipeline(destination=backend.destination(load_path="executemany"))
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run([{"id": 1}], table_name="t")
    error: Any = raised.value
    seen: List[Any] = []
    while error is not None:
        assert all(error is not e for e in seen), f"the exception chain loops at {error!r}"
        seen.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, RuntimeError) and "own bug" in str(e) for e in seen)
