"""SQLite datasets as attached files, and in-memory databases through a passed Engine."""

from __future__ import annotations

import os
from typing import Any

import dlt
import pytest
import sqlalchemy as sa

from dlt_sqlalchemy import sqlalchemy


def _run_replace(pipeline: dlt.Pipeline, ids: Any, strategy: str) -> None:
    info = pipeline.run(
        [{"id": i, "moves": [{"san": f"m{i}"}]} for i in ids],
        table_name="games",
        write_disposition="replace",
    )
    assert not info.has_failed_jobs


def test_each_dataset_is_a_file_beside_the_main_file(tmp_path: Any) -> None:
    """Dataset `games` of `chess.db` is `chess__games.db`; staging gets its own file too."""
    url = f"sqlite:///{tmp_path / 'data' / 'chess.db'}"
    os.makedirs(tmp_path / "data")
    pipeline = dlt.pipeline(
        "files",
        destination=sqlalchemy(url, replace_strategy="insert-from-staging"),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pl"),
    )
    _run_replace(pipeline, [1, 2], "insert-from-staging")
    files = sorted(os.listdir(tmp_path / "data"))
    assert files == ["chess.db", "chess__games.db", "chess__games_staging.db"]
    with sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'chess__games.db'}").connect() as c:
        assert c.exec_driver_sql("SELECT id FROM games ORDER BY id").scalars().all() == [1, 2]


def test_dataset_main_uses_the_main_file(tmp_path: Any) -> None:
    """Dataset `main` loads into the main file and creates no other file (staging aside)."""
    url = f"sqlite:///{tmp_path / 'chess.db'}"
    pipeline = dlt.pipeline(
        "main_ds",
        destination=sqlalchemy(url),
        dataset_name="main",
        pipelines_dir=str(tmp_path / "pl"),
    )
    pipeline.run([{"id": 1}], table_name="t")
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".db")) == ["chess.db"]
    with sa.create_engine(url).connect() as c:
        assert c.exec_driver_sql("SELECT id FROM t").scalars().all() == [1]


def test_dropped_dataset_file_is_removed_and_can_be_recreated(tmp_path: Any) -> None:
    """Dropping a dataset deletes its file; loading again makes a new one."""
    url = f"sqlite:///{tmp_path / 'chess.db'}"
    pipeline = dlt.pipeline(
        "dropper",
        destination=sqlalchemy(url),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pl"),
    )
    pipeline.run([{"id": 1}], table_name="t")
    assert (tmp_path / "chess__games.db").exists()
    with pipeline.destination_client() as client:
        client.drop_storage()
    assert not (tmp_path / "chess__games.db").exists()
    pipeline.run([{"id": 2}], table_name="t")
    assert pipeline.dataset().t.fetchall()[0][0] == 2


def _shared_cache_engine(name: str) -> sa.Engine:
    return sa.create_engine(
        f"sqlite:///file:{name}?mode=memory&cache=shared&uri=true",
        connect_args={"check_same_thread": False},
        poolclass=sa.pool.SingletonThreadPool,
    )


def _static_engine() -> sa.Engine:
    return sa.create_engine(
        "sqlite:///:memory:",
        connect_args={"check_same_thread": False},
        poolclass=sa.pool.StaticPool,
    )


@pytest.mark.parametrize("mode", ["shared-cache", "static-pool"])
@pytest.mark.parametrize("dataset_name", ["main", "games"])
@pytest.mark.parametrize(
    "strategy", ["truncate-and-insert", "insert-from-staging", "staging-optimized"]
)
def test_in_memory_database_with_staging(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, mode: str, dataset_name: str, strategy: str
) -> None:
    """An in-memory engine loads, replaces through its in-memory staging dataset, and survives."""
    engine = (
        _shared_cache_engine(f"mem_{tmp_path.name}") if mode == "shared-cache" else _static_engine()
    )
    if mode == "static-pool":
        monkeypatch.setenv("LOAD__WORKERS", "1")
    keep_alive = engine.connect()  # a shared-cache database lives while a connection holds it
    try:
        pipeline = dlt.pipeline(
            f"mem_{mode}",
            destination=sqlalchemy(engine, replace_strategy=strategy),
            dataset_name=dataset_name,
            pipelines_dir=str(tmp_path / "pl"),
        )
        _run_replace(pipeline, [1, 2, 3], strategy)
        _run_replace(pipeline, [4, 5], strategy)
        assert sorted(r[0] for r in pipeline.dataset().games.select("id").fetchall()) == [4, 5]
        assert len(pipeline.dataset().games__moves.fetchall()) == 2
        # the user's engine is still usable: we never dispose what we did not create
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert not any(f.endswith(".db") for f in os.listdir(tmp_path))
    finally:
        keep_alive.close()
        engine.dispose()


def test_database_in_a_new_folder_is_created(tmp_path: Any) -> None:
    """A SQLite path into a folder that does not exist yet loads (the folder is made)."""
    url = f"sqlite:///{tmp_path / 'new' / 'deeper' / 'chess.db'}"
    pipeline = dlt.pipeline(
        "folders",
        destination=sqlalchemy(url),
        dataset_name="games",
        pipelines_dir=str(tmp_path / "pl"),
    )
    pipeline.run([{"id": 1}], table_name="t")
    assert (tmp_path / "new" / "deeper" / "chess__games.db").exists()


def test_sqlalchemy_reflection_renders_our_sqlite_tables(tmp_path: Any) -> None:
    """SQLAlchemy's own reflection (what Alembic uses) reads our tables and renders them back."""
    import decimal

    url = f"sqlite:///{tmp_path / 'chess.db'}"
    pipeline = dlt.pipeline(
        "reflect",
        destination=sqlalchemy(url),
        dataset_name="main",
        pipelines_dir=str(tmp_path / "pl"),
    )
    pipeline.run(
        [{"id": 1, "price": decimal.Decimal("1.25")}],
        table_name="prices",
        columns={"price": {"data_type": "decimal", "precision": 18, "scale": 4}},
    )
    engine = sa.create_engine(url)
    table = sa.Table("prices", sa.MetaData(), autoload_with=engine)
    ddl = str(sa.schema.CreateTable(table).compile(dialect=engine.dialect))
    assert "price" in ddl
    engine.dispose()
