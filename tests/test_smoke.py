"""The destination loads and reads back on every live backend."""

from __future__ import annotations

from conftest import Backend, make_rows


def test_append_and_read_back(backend: Backend) -> None:
    """Rows appended through the pipeline read back through the dataset and the SQL client."""
    pipeline = backend.pipeline()
    info = pipeline.run(make_rows(3), table_name="players")
    assert not info.has_failed_jobs
    assert sorted(r[0] for r in pipeline.dataset().players.select("id").fetchall()) == [0, 1, 2]
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"SELECT name FROM {client.make_qualified_table_name('players')} ORDER BY id"
        )
    assert [r[0] for r in rows] == ["name 0", "name 1", "name 2"]
