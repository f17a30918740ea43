"""`rows_per_commit`: a file committed in chunks, resumed after the last committed chunk."""

from __future__ import annotations

from typing import Any, List

import pytest
from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend, make_rows

PROGRESS = "_dlt_sqla_file_progress"


def _count(backend: Backend, dataset: str, table: str, what: str = "COUNT(*)") -> Any:
    return backend.query(f"SELECT {what} FROM {backend.qualified(dataset, table)}")[0][0]


@pytest.mark.parametrize("file_format", ["parquet", "typed-jsonl"])
def test_a_file_commits_in_chunks_and_leaves_no_progress_behind(
    backend: Backend, file_format: str
) -> None:
    pipeline = backend.pipeline(destination=backend.destination(rows_per_commit=700))
    info = pipeline.run(
        make_rows(2_500),
        table_name="players",
        loader_file_format=file_format,  # type: ignore[arg-type]
    )
    dataset = pipeline.dataset_name
    counts = backend.query(
        f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {backend.qualified(dataset, 'players')}"
    )
    assert tuple(counts[0]) == (2_500, 2_500)
    # the progress table exists (the chunks recorded themselves there) and is empty again
    assert _count(backend, dataset, PROGRESS) == 0
    assert not info.has_failed_jobs


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_rows_per_commit_below_one_is_refused(backend: Backend) -> None:
    pipeline = backend.pipeline(destination=backend.destination(rows_per_commit=0))
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run([{"id": 1}], table_name="t")
    assert "rows_per_commit" in str(failed.value)
    assert any(isinstance(e, ConfigurationValueError) for e in _chain(failed.value))


def _chain(ex: BaseException) -> List[BaseException]:
    found: List[BaseException] = []
    current: Any = ex
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def fail_inserts_of_id(backend: Backend, dataset: str, table: str, failing_id: int) -> None:
    """A trigger refusing the row with `failing_id`: a failure in the middle of a file."""
    if backend.name == "postgresql":
        function = backend.qualified(dataset, "fail_" + table)
        _execute(
            backend,
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF NEW.id = {failing_id} THEN"
            " RAISE EXCEPTION 'injected failure in the middle'; END IF; RETURN NEW; END $$",
        )
        _execute(
            backend,
            f'CREATE TRIGGER "fail" BEFORE INSERT ON {backend.qualified(dataset, table)}'
            f" FOR EACH ROW EXECUTE FUNCTION {function}()",
        )
        return
    _execute(
        backend,
        f"CREATE TRIGGER {backend.qualified(dataset, 'fail_' + table)}"
        f" BEFORE INSERT ON {backend.qualified(dataset, table)}"
        f" FOR EACH ROW BEGIN IF NEW.id = {failing_id} THEN"
        " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure in the middle';"
        " END IF; END",
    )


def stop_failing(backend: Backend, dataset: str, table: str) -> None:
    quoted = backend.engine.dialect.identifier_preparer.quote_identifier
    if backend.name == "postgresql":
        _execute(backend, f'DROP TRIGGER "fail" ON {backend.qualified(dataset, table)}')
        return
    _execute(backend, f"DROP TRIGGER {quoted(dataset)}.{quoted('fail_' + table)}")


def _execute(backend: Backend, sql: str) -> None:
    with backend.engine.connect() as conn:
        conn.exec_driver_sql(sql)
        conn.commit()


def assert_resumes_after_the_last_committed_chunk(
    backend: Backend, file_format: str = "typed-jsonl"
) -> None:
    """First attempts fail at row 1,500 after committing the chunks before it; once the cause
    is gone, the package is loaded again: the rest of the file comes in, nothing twice."""
    pipeline = backend.pipeline(destination=backend.destination(rows_per_commit=400))
    pipeline.run([{"id": -1, "name": "first"}], table_name="players")
    dataset = pipeline.dataset_name
    fail_inserts_of_id(backend, dataset, "players", 1_500)
    with pytest.raises(PipelineStepFailed, match="injected failure"):
        pipeline.run(
            make_rows(3_000),
            table_name="players",
            loader_file_format=file_format,  # type: ignore[arg-type]
        )
    # chunks of 400: rows 0..1199 are in, the chunk holding 1,500 rolled back
    assert _count(backend, dataset, "players") == 1 + 1_200
    progress = backend.query(
        f"SELECT chunks_done, rows_done FROM {backend.qualified(dataset, PROGRESS)}"
    )
    assert [tuple(r) for r in progress] == [(3, 1_200)]
    stop_failing(backend, dataset, "players")
    pipeline.load()
    counts = backend.query(
        f"SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id)"
        f" FROM {backend.qualified(dataset, 'players')}"
    )
    assert [tuple(int(v) for v in r) for r in counts] == [(3_001, 3_001, -1, 2_999)]
    assert _count(backend, dataset, PROGRESS) == 0


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_a_retry_resumes_after_the_last_committed_chunk(backend: Backend) -> None:
    assert_resumes_after_the_last_committed_chunk(backend)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_chunks_of_parquet_commit_with_their_progress_on_postgresql(backend: Backend) -> None:
    """ADBC commits on a connection of its own, apart from the chunk's progress record: with
    `rows_per_commit` the chunks go by COPY in the job's transaction, and resume as above."""
    pytest.importorskip("adbc_driver_postgresql")
    from test_load_paths import paths_used

    plain = backend.pipeline()
    info = plain.run(make_rows(2_000), table_name="players", loader_file_format="parquet")
    assert paths_used(info, "players") == {"adbc"}  # without the option, ADBC is the path
    chunked = backend.pipeline(destination=backend.destination(rows_per_commit=700))
    info = chunked.run(make_rows(2_000), table_name="players", loader_file_format="parquet")
    assert paths_used(info, "players") == {"copy"}
    assert_resumes_after_the_last_committed_chunk(backend, "parquet")


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_without_the_option_a_failing_file_leaves_no_rows(backend: Backend) -> None:
    """The default stays all or nothing (the trade-off is opt-in)."""
    pipeline = backend.pipeline()
    pipeline.run([{"id": -1, "name": "first"}], table_name="players")
    dataset = pipeline.dataset_name
    fail_inserts_of_id(backend, dataset, "players", 1_500)
    with pytest.raises(PipelineStepFailed):
        pipeline.run(make_rows(3_000), table_name="players")
    assert _count(backend, dataset, "players") == 1
