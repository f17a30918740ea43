"""Shared fixtures: one `backend` fixture over real databases.

Servers come from env overrides or this machine's defaults. A server that cannot be reached is a
skip with instructions locally, and a failure when `CI=true` (CI must never pass by skipping).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional

import dlt
import pytest
import sqlalchemy as sa

from dlt_sqlalchemy import sqlalchemy as sqlalchemy_destination

SERVER_URLS = {
    "postgresql": os.environ.get(
        "DLT_SQLA_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "DLT_SQLA_TEST_MARIADB_URL", "mysql+mysqldb://root@127.0.0.1:3306/test"
    ),
}
START_HINTS = {
    "postgresql": "start it: pg_ctlcluster --skip-systemctl-redirect"
    " $(ls /etc/postgresql) main start (or `docker compose up -d --wait`)",
    "mariadb": "start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
    " (or `docker compose up -d --wait`)",
}
LIVE_BACKENDS = ["sqlite", "duckdb", "postgresql", "mariadb"]
# the nodes of a MariaDB Galera cluster (`bash scripts/galera start`; scripts/test exports it)
GALERA_URLS = [u for u in os.environ.get("DLT_SQLA_TEST_GALERA_URLS", "").split(",") if u]


@dataclasses.dataclass
class Backend:
    """A live database for one test, with helpers to make pipelines and read tables directly."""

    name: str
    url: str
    tmp_path: Any
    datasets: List[str] = dataclasses.field(default_factory=list)
    _engine: Optional[sa.Engine] = None

    @property
    def engine(self) -> sa.Engine:
        """An engine of the test's own, to check what the destination wrote."""
        if self._engine is None:
            self._engine = sa.create_engine(self.url)
        return self._engine

    def destination(self, **kwargs: Any) -> Any:
        return sqlalchemy_destination(kwargs.pop("credentials", self.url), **kwargs)

    def new_dataset_name(self) -> str:
        name = f"ds_{uuid.uuid4().hex[:10]}"
        self.datasets.append(name)
        return name

    def pipeline(
        self,
        dataset_name: Optional[str] = None,
        pipeline_name: Optional[str] = None,
        destination: Any = None,
        **kwargs: Any,
    ) -> dlt.Pipeline:
        """A pipeline into a fresh dataset (dropped after the test) with its own working dir."""
        if dataset_name is None:
            dataset_name = self.new_dataset_name()
        elif dataset_name not in self.datasets:
            self.datasets.append(dataset_name)
        return dlt.pipeline(
            pipeline_name=pipeline_name or f"p_{uuid.uuid4().hex[:8]}",
            destination=destination or self.destination(),
            dataset_name=dataset_name,
            pipelines_dir=str(self.tmp_path / "pipelines"),
            **kwargs,
        )

    def qualified(self, dataset: str, table: str) -> str:
        q = self.engine.dialect.identifier_preparer.quote_identifier
        return f"{q(dataset)}.{q(table)}"

    def query(self, sql: str, dataset: Optional[str] = None) -> List[Any]:
        """Runs raw SQL through the test's own engine (SQLite datasets are attached first)."""
        with self.engine.connect() as conn:
            if self.name == "sqlite":
                attach_sqlite_datasets(conn, self.url, self.datasets)
            return list(conn.exec_driver_sql(sql).fetchall())

    def rows(self, dataset: str, table: str, order_by: str = "") -> List[Any]:
        order = f" ORDER BY {order_by}" if order_by else ""
        return self.query(f"SELECT * FROM {self.qualified(dataset, table)}{order}")

    def cleanup(self) -> None:
        if self.name in ("postgresql", "mariadb"):
            with self.engine.connect() as conn:
                for dataset in self.datasets:
                    for name in (dataset, f"{dataset}_staging"):
                        quoted = self.engine.dialect.identifier_preparer.quote_identifier(name)
                        cascade = " CASCADE" if self.name == "postgresql" else ""
                        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted}{cascade}")
                conn.commit()
        if self._engine is not None:
            self._engine.dispose()


def attach_sqlite_datasets(conn: sa.Connection, url: str, datasets: List[str]) -> None:
    main = sa.make_url(url).database or ""
    stem, suffix = os.path.splitext(main)
    attached = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
    for dataset in datasets:
        for name in (dataset, f"{dataset}_staging"):
            path = f"{stem}__{name}{suffix}"
            if name not in attached and os.path.exists(path):
                conn.exec_driver_sql("ATTACH DATABASE ? AS " + f'"{name}"', (path,))
    conn.commit()


@functools.cache
def server_problem(name: str) -> Optional[str]:
    """None when the server answers, else why it does not."""
    try:
        engine = sa.create_engine(SERVER_URLS[name])
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as ex:  # any failure means: not usable for tests
        return f"{type(ex).__name__}: {str(ex).splitlines()[0]}"


def require_server(name: str) -> str:
    problem = server_problem(name)
    if problem is not None:
        message = f"{name} at {SERVER_URLS[name]} is not reachable ({problem}); {START_HINTS[name]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and a required backend is missing: {message}")
        pytest.skip(message)
    return SERVER_URLS[name]


def backend_url(name: str, tmp_path: Any) -> str:
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'chess.db'}"
    if name == "duckdb":
        return f"duckdb:///{tmp_path / 'chess.duckdb'}"
    return require_server(name)


@pytest.fixture(params=LIVE_BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    """Each live backend in turn: SQLite file, DuckDB file, PostgreSQL and MariaDB servers."""
    live = Backend(request.param, backend_url(request.param, tmp_path), tmp_path)
    try:
        yield live
    finally:
        live.cleanup()


@dataclasses.dataclass
class GaleraCluster:
    """The nodes of a live Galera cluster, each a `Backend` sharing one list of datasets."""

    nodes: List[Backend]

    def node(self, index: int) -> Backend:
        return self.nodes[index]

    def query_each(self, sql: str) -> List[List[Any]]:
        """`sql` on every node, each read waiting until the node applied what the cluster
        committed before it (`wsrep_sync_wait`), so that equal answers mean replicated."""
        answers = []
        for node in self.nodes:
            with node.engine.connect() as conn:
                conn.exec_driver_sql("SET SESSION wsrep_sync_wait = 1")
                answers.append(list(conn.exec_driver_sql(sql).fetchall()))
        return answers

    def cleanup(self) -> None:
        self.nodes[0].cleanup()
        for node in self.nodes[1:]:
            if node._engine is not None:
                node._engine.dispose()


def require_galera() -> List[str]:
    if len(GALERA_URLS) < 2:
        message = (
            "no Galera cluster: DLT_SQLA_TEST_GALERA_URLS is unset (start one with"
            " `bash scripts/galera start` and export `DLT_SQLA_TEST_GALERA_URLS=$(bash"
            " scripts/galera urls)`; scripts/test does both)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and a required backend is missing: {message}")
        pytest.skip(message)
    return GALERA_URLS


@pytest.fixture
def galera(tmp_path: Any) -> Iterator[GaleraCluster]:
    """A live MariaDB Galera cluster: one `Backend` per node, datasets dropped after the test."""
    datasets: List[str] = []
    nodes = [Backend("mariadb", url, tmp_path, datasets) for url in require_galera()]
    cluster = GaleraCluster(nodes)
    try:
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture(autouse=True)
def _isolated_dlt_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Keeps each test's dlt config to what it sets itself (no user-level secrets leak in)."""
    for key in list(os.environ):
        if key.startswith(("DESTINATION__", "LOAD__", "NORMALIZE__", "RUNTIME__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.chdir(tmp_path)


def make_rows(n: int, **extra: Callable[[int], Any]) -> List[Dict[str, Any]]:
    """`n` simple rows with an id and a name, plus any `extra` columns computed from the index."""
    return [{"id": i, "name": f"name {i}", **{k: f(i) for k, f in extra.items()}} for i in range(n)]


def hide_module(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Makes `import <module>` fail as where the package is not installed, for this test only:
    tests about a missing driver must not depend on what this machine happens to have."""
    for name in [n for n in sys.modules if n.split(".")[0] == module]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # type: ignore[arg-type]
