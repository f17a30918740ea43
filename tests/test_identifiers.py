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
