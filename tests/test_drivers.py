"""The driver matrix: every common driver of PostgreSQL and MariaDB loads every dlt type right,
by the bulk path meant for it.

Each driver of `conftest.DRIVER_BACKENDS` loads the all-types rows of `test_types` in both file
formats by the path chosen automatically (the test asserts which one ran), and the rows are read
back twice: through the server's default driver (what was stored) and through
`pipeline.dataset()` on the driver under test. Then each of the driver's load paths, forced, takes
the edge text, binary and JSON of `test_load_paths`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest
from dlt.common.schema.typing import TColumnSchema
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend
from test_load_paths import (
    EDGE_COLUMNS,
    assert_edges_stored,
    assert_names_column,
    assert_statement_error_fails_cleanly,
    edge_rows,
    paths_used,
    require_server_local_infile,
)
from test_types import COLUMNS, assert_rows, expected_rows, make_rows, read_typed

FORMATS = ["typed-jsonl", "parquet"]

# the path each driver loads by when nothing is forced, per file format (the server has
# local_infile ON; a client with LOCAL INFILE off by default takes insert_values)
DEFAULT_PATHS: Dict[str, Dict[str, str]] = {
    "postgresql+psycopg": {"typed-jsonl": "copy", "parquet": "adbc"},
    "postgresql+psycopg2": {"typed-jsonl": "copy", "parquet": "adbc"},
    "postgresql+pg8000": {"typed-jsonl": "copy", "parquet": "adbc"},
    "mysql+mysqldb": {"typed-jsonl": "load_data", "parquet": "load_data"},
    "mysql+pymysql": {"typed-jsonl": "insert_values", "parquet": "insert_values"},
    "mysql+mysqlconnector": {"typed-jsonl": "insert_values", "parquet": "insert_values"},
    "mariadb+mariadbconnector": {"typed-jsonl": "load_data", "parquet": "load_data"},
}

# each driver's bulk paths, with the connect_args a path needs from the client
DRIVER_PATHS: List[Tuple[str, str, Dict[str, Any]]] = [
    ("postgresql+psycopg", "copy", {}),
    ("postgresql+psycopg2", "copy", {}),
    ("postgresql+pg8000", "copy", {}),
    ("mysql+mysqldb", "load_data", {"local_infile": 1}),
    ("mysql+mysqldb", "insert_values", {}),
    ("mysql+pymysql", "load_data", {"local_infile": True}),
    ("mysql+pymysql", "insert_values", {}),
    ("mysql+mysqlconnector", "load_data", {"allow_local_infile": True}),
    ("mysql+mysqlconnector", "insert_values", {}),
    ("mariadb+mariadbconnector", "load_data", {}),
    ("mariadb+mariadbconnector", "insert_values", {}),
]


def _uses_load_data(backend: Backend) -> bool:
    return "load_data" in DEFAULT_PATHS[backend.driver].values()


@pytest.mark.parametrize("file_format", FORMATS)
def test_all_types_per_driver(driver_backend: Backend, file_format: str) -> None:
    """Every dlt type reads back equal through the driver's default path, in both formats."""
    backend = driver_backend
    if _uses_load_data(backend):
        require_server_local_infile(backend)
    pipeline = backend.pipeline()
    info = pipeline.run(
        make_rows(backend.name, file_format),
        table_name="types",
        columns=COLUMNS,
        loader_file_format=file_format,  # type: ignore[arg-type]
    )
    assert not info.has_failed_jobs
    how = f"{backend.driver}/{file_format}"
    assert paths_used(info, "types") == {DEFAULT_PATHS[backend.driver][file_format]}, how
    expected = expected_rows(backend.name, file_format)
    assert_rows(read_typed(backend, pipeline.dataset_name), expected, how)
    relation = pipeline.dataset()["types"].select(*COLUMNS)
    rows = sorted(relation.fetchall(), key=lambda r: r[0])
    assert_rows([dict(zip(COLUMNS, r)) for r in rows], expected, f"{how} dataset")


@pytest.mark.parametrize(
    "driver_backend,path,connect_args",
    [pytest.param(d, p, c, id=f"{d}-{p}") for d, p, c in DRIVER_PATHS],
    indirect=["driver_backend"],
)
def test_edge_values_per_driver_path(
    driver_backend: Backend, path: str, connect_args: Dict[str, Any]
) -> None:
    """Each bulk path of each driver, forced, stores the edge values as written."""
    backend = driver_backend
    if path == "load_data":
        require_server_local_infile(backend)
    destination = backend.destination(load_path=path, engine_kwargs={"connect_args": connect_args})
    pipeline = backend.pipeline(destination=destination)
    rows = edge_rows()
    info = pipeline.run(rows, table_name="edges", columns=EDGE_COLUMNS)
    assert not info.has_failed_jobs
    assert paths_used(info, "edges") == {path}
    assert_edges_stored(backend, pipeline.dataset_name, rows, f"{backend.driver}/{path}")


@pytest.mark.parametrize("file_format", FORMATS)
def test_value_errors_name_the_column_per_driver(driver_backend: Backend, file_format: str) -> None:
    """A value the column cannot hold fails the job terminally through each driver's default
    path, naming table and column, and leaves none of the file's rows behind."""
    backend = driver_backend
    if _uses_load_data(backend):
        require_server_local_infile(backend)
    pipeline = backend.pipeline()
    columns: Dict[str, TColumnSchema] = {"s": {"data_type": "text", "precision": 5}}
    pipeline.run([{"id": 0, "s": "ok"}], table_name="v", columns=columns)
    rows = [{"id": i, "s": "fits"} for i in range(1, 300)] + [{"id": 300, "s": "much too long"}]
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(rows, table_name="v", loader_file_format=file_format)  # type: ignore[arg-type]
    assert_names_column(raised.value, "v", "s")
    table = backend.qualified(pipeline.dataset_name, "v")
    assert [tuple(r) for r in backend.query(f"SELECT id FROM {table}")] == [(0,)]


@pytest.mark.parametrize(
    "driver_backend,path,connect_args",
    [pytest.param(d, p, c, id=f"{d}-{p}") for d, p, c in DRIVER_PATHS]
    + [pytest.param(d, "executemany", {}, id=f"{d}-executemany") for d in DEFAULT_PATHS],
    indirect=["driver_backend"],
)
def test_statement_error_fails_cleanly_per_driver_path(
    driver_backend: Backend, path: str, connect_args: Dict[str, Any]
) -> None:
    """A column dropped behind dlt's back fails each driver's paths terminally, nothing hangs
    and no row of the file stays."""
    if path == "load_data":
        require_server_local_infile(driver_backend)
    destination = driver_backend.destination(
        load_path=path, engine_kwargs={"connect_args": connect_args}
    )
    assert_statement_error_fails_cleanly(driver_backend, destination, path)


@pytest.mark.parametrize(
    "driver_backend,path,connect_args",
    [pytest.param(d, p, c, id=f"{d}-{p}") for d, p, c in DRIVER_PATHS],
    indirect=["driver_backend"],
)
def test_value_errors_name_the_column_per_driver_path(
    driver_backend: Backend, path: str, connect_args: Dict[str, Any]
) -> None:
    """NULL into a NOT NULL column, refused by each bulk path of each driver (LOAD DATA LOCAL
    only warns: the path raises the warning as the driver's own error), names the column."""
    backend = driver_backend
    if path == "load_data":
        require_server_local_infile(backend)
    destination = backend.destination(load_path=path, engine_kwargs={"connect_args": connect_args})
    pipeline = backend.pipeline(destination=destination)
    not_null: Dict[str, TColumnSchema] = {"n": {"data_type": "bigint", "nullable": False}}
    pipeline.run([{"id": 0, "n": 0}], table_name="t", columns=not_null)
    rows: List[Dict[str, Any]] = [{"id": i, "n": i} for i in range(1, 50)] + [{"id": 50}]
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(rows, table_name="t", columns={"n": {"data_type": "bigint", "nullable": True}})
    assert_names_column(raised.value, "t", "n")
    table = backend.qualified(pipeline.dataset_name, "t")
    assert [tuple(r) for r in backend.query(f"SELECT id FROM {table}")] == [(0,)]
