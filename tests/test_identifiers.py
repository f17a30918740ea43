"""Names the server cannot keep are refused before anything is created or loaded."""

from __future__ import annotations

from typing import Any

import dlt
import pytest

from conftest import Backend
from dlt_sqlalchemy.dialects import get_dialect_capabilities
from dlt_sqlalchemy.exceptions import IdentifierTooLong


def test_postgresql_counts_bytes_not_characters(backend: Backend) -> None:
    """A 40-character, 80-byte column name fits dlt's 63-character cut but not PostgreSQL's
    63 bytes: the load is refused naming table and column, and no table is created."""
    long_name = "ü" * 40
    pipeline = backend.pipeline(destination=backend.destination(naming_convention="direct"))
    rows: Any = [{"id": 1, long_name: "x"}]
    if backend.name != "postgresql":
        # characters are what these databases count: the same name loads
        pipeline.run(rows, table_name="players")
        assert pipeline.dataset().players.fetchall()
        return
    with pytest.raises(Exception) as failure:
        pipeline.run(rows, table_name="players")
    chain = [failure.value, *_causes(failure.value)]
    refused = next((e for e in chain if isinstance(e, IdentifierTooLong)), None)
    assert refused is not None, chain
    assert refused.identifier == long_name and refused.table_name == "players"
    assert "80 bytes" in str(refused) and "63" in str(refused)
    tables = backend.query(
        "SELECT table_name FROM information_schema.tables"
        f" WHERE table_schema = '{pipeline.dataset_name}' AND table_name = 'players'"
    )
    assert tables == []


def test_too_long_table_name_is_refused_with_its_name() -> None:
    """A table name over the limit is named in the error, with the limit and the unit."""
    caps = get_dialect_capabilities("postgresql")
    assert caps.identifier_fits("a" * 63, 63)
    assert not caps.identifier_fits("a" * 62 + "ü", 63)
    assert get_dialect_capabilities("mysql").identifier_fits("ü" * 64, 64)
    error = IdentifierTooLong("table", "t" * 70, 63, "t" * 70, "bytes")
    assert "70 bytes" in str(error) and "allows 63" in str(error)


def _causes(ex: BaseException) -> list[BaseException]:
    found = []
    while ex.__cause__ or ex.__context__:
        ex = ex.__cause__ or ex.__context__  # type: ignore[assignment]
        found.append(ex)
    return found


def test_dlt_shortens_names_to_the_limit_it_knows(backend: Backend) -> None:
    """With the default naming, over-long names are shortened by dlt and load fine."""
    pipeline = backend.pipeline()
    long_name = "column_" + "x" * 120
    pipeline.run([{long_name: 1}], table_name="t")
    limit = pipeline.destination.capabilities().max_column_identifier_length
    names = list(pipeline.default_schema.get_table("t")["columns"])
    assert all(len(n) <= limit for n in names)
    assert dlt.__version__


ODD_NAMES = ["pct%s", "100%", "%(x)s", "a:b", "x :y", "q?"]


@pytest.mark.parametrize("file_format", ["typed-jsonl", "parquet"])
@pytest.mark.parametrize("disposition", ["append", "merge", "replace"])
def test_names_with_percent_colon_and_question_mark_load_on_every_path(
    backend: Backend, file_format: str, disposition: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every name a naming convention can keep loads: `%` (doubled by paramstyle escaping),
    `:name` (a bind to `sqlalchemy.text()`), `?`, through the bulk paths' column lists, the
    follow-up SQL, and ALTER TABLE of a column added later."""
    monkeypatch.setenv("SCHEMA__NAMING", "direct")
    hints: Any = {"write_disposition": disposition}
    if disposition == "merge":
        hints["primary_key"] = "id"
    if disposition == "replace":
        hints["write_disposition"] = "replace"
    destination = backend.destination(
        replace_strategy="staging-optimized" if disposition == "replace" else None
    )
    pipeline = backend.pipeline(destination=destination)
    row = {"id": 1, **{name: i for i, name in enumerate(ODD_NAMES)}}
    pipeline.run([row], table_name="odd", loader_file_format=file_format, **hints)
    added = {**row, "new %s :col": 9}  # ALTER TABLE ... ADD COLUMN
    info = pipeline.run([added], table_name="odd", loader_file_format=file_format, **hints)
    assert not info.has_failed_jobs
    columns = ["id", *ODD_NAMES, "new %s :col"]
    rows = pipeline.dataset().odd.select(*columns).fetchall()
    expected_rows = 2 if disposition == "append" else 1
    assert len(rows) == expected_rows
    assert (1, *range(len(ODD_NAMES)), 9) in [tuple(r) for r in rows]
