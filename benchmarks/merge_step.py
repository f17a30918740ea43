"""Times dlt's load step of a MERGE into an existing table: ours, the built-in, native SQL.

For every backend, merge strategy and case, a first run (untimed) merges `--dest-rows` rows into
an empty dataset; a second run then merges `--in-rows` rows, half of them new versions of
existing keys and half new keys, and only that second run's `pipeline.load()` is timed, with
`time.perf_counter`, like `load_step.py` times an append. Destinations: dlt-sqlalchemy ("ours"),
dlt's built-in `dlt.destinations.sqlalchemy` where it supports the strategy, and a hand-written
native merge ("native") of the very rows ours staged, in a copy of ours' table.

Cases:

- `flat`: primary key `id`; the updated keys are spread over the table (every k-th key);
- `nested`: the same, each row with a list of 4-6 items (`bench_rows__items`), each item with a
  list of 1-2 sub-items (`bench_rows__items__subs`);
- `compound`: primary key (`region`, `id`);
- `merge_key`: `delete-insert` by `merge_key="day"` alone (partition replace, no primary key): the
  incoming rows replace 5 whole partitions (days) and add 5 new ones. n/a for other strategies.

`scd2` declares no primary key (dlt identifies its records by a content hash) and merges a full
snapshot: the second run retires every active row and inserts the incoming rows as the active
versions; its `compound` case would equal `flat` and is n/a.

Each (backend, destination, strategy, case) makes its first run once, as a template: a fresh
pipeline and dataset, `extract` and `normalize` of the rows (parquet by default,
`--fill-format`), `load()`, then the second run's `extract` and `normalize` (the destination's
default file format, `--format` to choose). Every timed repetition then starts from a fresh copy
of that template: the pipeline's working directory is copied, and the database is cloned
(SQLite / DuckDB: file copy; PostgreSQL: `CREATE DATABASE ... TEMPLATE`, after an `ANALYZE` of
the template; MariaDB: `CREATE TABLE ... LIKE` + `INSERT ... SELECT` + `ANALYZE TABLE` of every
table, staging tables included). The normalized package of a first run is also shared between
backends when a 40-row sample normalizes to the same schema and parquet schemas on both (dlt's
normalizer output does not depend on the backend then); `--no-share` turns that off.

After each timed load the script counts, through an engine of its own, the root rows, the sum of
the `rev` column (0 in the first run, 1 in the second), the active rows (`scd2`) and the nested
rows, and fails the run if any differs from what the strategy must leave (see `expected`). The
clone is dropped after each run.

The native reference (flat case; `delete-insert`, `upsert`, `insert-only`) runs right after each
of ours' timed runs: another clone of ours' template (same DDL and indexes: the unique index
ours creates for `upsert` / `insert-only`, the primary key with `--keys`) gets the rows ours left
in its staging table, and the script times the backend's native merge statements plus COMMIT:
PostgreSQL `DELETE ... USING` + INSERT and `INSERT ... ON CONFLICT`; MariaDB multi-table
`DELETE ... JOIN` + INSERT, `INSERT ... ON DUPLICATE KEY UPDATE` and `INSERT IGNORE`; SQLite
`DELETE ... WHERE id IN (...)` + INSERT and `INSERT ... ON CONFLICT`; DuckDB `DELETE ... USING` +
INSERT, `INSERT OR REPLACE` and `INSERT OR IGNORE`. It verifies its result like the others.

    .venv/bin/python benchmarks/merge_step.py                  # 100,000 + 10,000 rows, 3 runs
    .venv/bin/python benchmarks/merge_step.py --dest-rows 20000 --in-rows 2000 --repeat 1
    .venv/bin/python benchmarks/merge_step.py --backends postgresql --strategies upsert --scaling
    .venv/bin/python benchmarks/merge_step.py --ref HEAD --json merge.json

Servers: `DLT_SQLA_TEST_POSTGRESQL_URL` and `DLT_SQLA_TEST_MARIADB_URL` override the default
URLs. On PostgreSQL the script creates (and drops) databases named `mb_<hex>_...`; on MariaDB
databases of that name are the datasets.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import glob
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

# no network calls from a benchmark: dlt's anonymous telemetry stays off unless asked for
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_step
from load_step import (
    SERVER_URLS,
    RssSampler,
    num,
    parse_list,
    release_free_memory,
    render_table,
    short_reason,
)

# `dlt_sqlalchemy` is imported in `make_destination`, after `--ref` may have put a snapshot of
# the package first on sys.path

TABLE = "bench_rows"
ITEMS = f"{TABLE}__items"
SUBS = f"{TABLE}__items__subs"
VALID_TO = "_dlt_valid_to"
BACKENDS = ("sqlite", "duckdb", "postgresql", "mariadb")
STRATEGIES = ("delete-insert", "upsert", "insert-only", "scd2", "cdc")
CASES = ("flat", "nested", "compound", "merge_key")
DESTINATIONS = ("ours", "built-in")
FORMATS = ("typed-jsonl", "parquet", "insert_values", "csv")
NATIVE_STRATEGIES = ("delete-insert", "upsert", "insert-only")
SCALING_STRATEGIES = ("delete-insert", "upsert")
SCALING_FRACTIONS = (0.01, 0.1, 1.0)
BUILT_IN_STRATEGIES_FALLBACK = ("delete-insert", "scd2")
ID_BASE = 10_000_000_000
REGIONS = 16  # compound key: region = i % 16, id = ID_BASE + i // 16
PARTITIONS_REPLACED = 5  # merge_key: the updated half of the incoming rows fills 5 partitions
PAGE_ROWS = 10_000  # rows per item the resources yield
SAMPLE_ROWS = 40  # rows normalized to compare two backends' packages before sharing one
WARMUP_DEST_ROWS = 500
WARMUP_IN_ROWS = 100


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """What one second run merges: `in_rows` rows into a table of `dest_rows` rows."""

    strategy: str
    case: str
    dest_rows: int
    in_rows: int

    @property
    def updated(self) -> int:
        return self.in_rows // 2

    @property
    def new(self) -> int:
        return self.in_rows - self.updated

    def updated_keys(self) -> range:
        """Existing rows the second run sends again: spread over the table, except for
        `merge_key`, where they are the first rows, filling whole partitions."""
        if self.case == "merge_key":
            return range(self.updated)
        stride = max(1, self.dest_rows // max(1, self.updated))
        return range(0, self.updated * stride, stride)

    def new_keys(self) -> range:
        return range(self.dest_rows, self.dest_rows + self.new)

    @property
    def partition_rows(self) -> int:
        n = self.updated
        if n >= PARTITIONS_REPLACED and n % PARTITIONS_REPLACED == 0:
            return n // PARTITIONS_REPLACED
        return max(1, n)

    def partition(self, i: int) -> int:
        """Partition (day number) of row `i`; new rows start partitions of their own."""
        size = self.partition_rows
        if i < self.dest_rows:
            return i // size
        return -(-self.dest_rows // size) + (i - self.dest_rows) // size

    @property
    def primary_key(self) -> Optional[Sequence[str]]:
        if self.strategy == "scd2" or self.case == "merge_key":
            return None
        return ("region", "id") if self.case == "compound" else ("id",)

    @property
    def merge_key(self) -> Optional[str]:
        return "day" if self.case == "merge_key" else None

    @property
    def nested(self) -> bool:
        return self.case == "nested"

    def fill_segments(self) -> List[Tuple[range, int]]:
        return [(range(self.dest_rows), 0)]

    def merge_segments(self) -> List[Tuple[range, int]]:
        return [(self.updated_keys(), 1), (self.new_keys(), 1)]


def not_applicable(strategy: str, case: str) -> Optional[str]:
    if case == "merge_key" and strategy != "delete-insert":
        return "merge_key partition replace is a delete-insert case"
    if case == "compound" and strategy == "scd2":
        return "scd2 has no primary key (content hash): same as flat"
    return None


def children(i: int) -> int:
    return 4 + i % 3


def grandchildren(i: int, j: int) -> int:
    return 1 + (i + j) % 2


def make_row(w: Workload, i: int, rev: int) -> Dict[str, Any]:
    """Row `i` in revision `rev`: a pure function of both, so every run merges the same data."""
    row = load_step.make_row(i)
    row["rev"] = rev
    if rev:
        row["name"] = f"{row['name']} rev {rev}"
        row["score"] = None if row["score"] is None else row["score"] + rev
    if w.case == "compound":
        row["region"] = i % REGIONS
        row["id"] = ID_BASE + i // REGIONS
    elif w.case == "merge_key":
        row["day"] = load_step.DAY_START + dt.timedelta(days=w.partition(i))
    elif w.case == "nested":
        row["items"] = [
            {
                "pos": j,
                "label": f"item {i}.{j} rev {rev}",
                "qty": (i * 7 + j + rev) % 1000,
                "subs": [
                    {"k": k, "code": f"{i}-{j}-{k}-{rev}"} for k in range(grandchildren(i, j))
                ],
            }
            for j in range(children(i))
        ]
    return row


def merge_resource(w: Workload, segments: List[Tuple[range, int]]) -> Any:
    columns = dict(load_step.COLUMNS)
    columns["rev"] = {"data_type": "bigint", "nullable": False}
    if w.case == "compound":
        columns["region"] = {"data_type": "bigint", "nullable": False}

    @dlt.resource(
        name=TABLE,
        columns=columns,
        primary_key=list(w.primary_key) if w.primary_key else None,
        merge_key=w.merge_key,
        write_disposition={"disposition": "merge", "strategy": w.strategy},  # type: ignore
    )
    def bench_rows() -> Iterator[List[Dict[str, Any]]]:
        page: List[Dict[str, Any]] = []
        for keys, rev in segments:
            for i in keys:
                page.append(make_row(w, i, rev))
                if len(page) == PAGE_ROWS:
                    yield page
                    page = []
        if page:
            yield page

    return bench_rows


def expected(w: Workload) -> Dict[str, int]:
    """What the table holds after the second run (see the module docstring for the data)."""
    dest, updated, new = range(w.dest_rows), w.updated_keys(), w.new_keys()
    parents: List[range]  # the root rows left, as ranges of row numbers (with repetitions)
    out: Dict[str, int] = {}
    if w.strategy == "scd2":  # full snapshot: every old version retired, the incoming ones active
        parents = [dest, updated, new]
        out.update(rows=w.dest_rows + w.in_rows, rev_sum=w.in_rows, active=w.in_rows)
    elif w.strategy == "cdc":  # full snapshot: keys absent from the incoming rows are deleted
        parents = [updated, new]
        out.update(rows=w.in_rows, rev_sum=w.in_rows)
    elif w.strategy == "insert-only":  # existing keys keep their row
        parents = [dest, new]
        out.update(rows=w.dest_rows + w.new, rev_sum=w.new)
    elif w.case == "merge_key":  # whole partitions of the incoming rows are replaced
        replaced = {w.partition(i) for i in updated}
        kept = sum(1 for i in dest if w.partition(i) not in replaced)
        parents = [range(0)]
        out.update(rows=kept + w.in_rows, rev_sum=w.in_rows)
    else:  # delete-insert and upsert by primary key
        parents = [dest, new]
        out.update(rows=w.dest_rows + w.new, rev_sum=w.in_rows)
    if w.nested:
        out["items"] = sum(children(i) for r in parents for i in r)
        out["subs"] = sum(
            grandchildren(i, j) for r in parents for i in r for j in range(children(i))
        )
    return out


def expected_fill(w: Workload) -> Dict[str, int]:
    out = {"rows": w.dest_rows, "rev_sum": 0}
    if w.strategy == "scd2":
        out["active"] = w.dest_rows
    return out


def make_destination(name: str, url: str, options: Dict[str, Any]) -> Any:
    if name == "ours":
        from dlt_sqlalchemy import sqlalchemy as ours_destination

        return ours_destination(url, **options)
    return dlt.destinations.sqlalchemy(url, **options)


def built_in_strategies() -> Tuple[str, ...]:
    try:
        caps = dlt.destinations.sqlalchemy("sqlite:///:memory:").capabilities()
        return tuple(caps.supported_merge_strategies or BUILT_IN_STRATEGIES_FALLBACK)
    except Exception:
        return BUILT_IN_STRATEGIES_FALLBACK


# --- where a run loads: places, templates and clones ----------------------------------------


def staging(dataset: str) -> str:
    return f"{dataset}_staging"


@dataclass
class Place:
    """A dataset some pipeline loads into, with a working directory of its own."""

    backend: str
    url: str
    dataset: str
    root: Path  # the pipelines dir, and for SQLite / DuckDB the database files, live here
    database: Optional[str] = None  # PostgreSQL: the database (one per place)

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    @property
    def db_dir(self) -> Path:
        return self.root / "db"


class Store:
    """How a backend makes, freezes (as a template), clones and drops places."""

    backend = ""

    def __init__(self, work: Path, prefix: str) -> None:
        self.work = work
        self.prefix = prefix

    def create(self, label: str) -> Place:
        raise NotImplementedError

    def freeze(self, place: Place) -> Place:
        """Turns a loaded place into a template that `restore` copies."""
        return place

    def restore(self, template: Place, label: str, aside: bool = False) -> Place:
        """A fresh copy of `template`; `aside` if it must coexist with a run's copy."""
        raise NotImplementedError

    def drop(self, place: Place) -> None:
        shutil.rmtree(place.root, ignore_errors=True)

    def drop_template(self, template: Place) -> None:
        self.drop(template)

    def cleanup(self) -> None:
        """Drops whatever this script left on a server (names start with the run's prefix)."""

    def cancel(self, place: Place) -> None:
        """Interrupts the statements running on `place` (see `Watchdog`)."""

    # data access for checks and the native reference
    def open(self, place: Place) -> Tuple[sa.Engine, Optional[str]]:
        return sa.create_engine(place.url, poolclass=sa.pool.NullPool), place.dataset

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def columns(self, place: Place, table: str) -> List[str]:
        engine, _ = self.open(place)
        try:
            with engine.connect() as conn:
                return [
                    r[0]
                    for r in conn.execute(
                        sa.text(
                            "SELECT column_name FROM information_schema.columns WHERE"
                            " table_schema = :s AND table_name = :t ORDER BY ordinal_position"
                        ),
                        {"s": place.dataset, "t": table},
                    )
                ]
        finally:
            engine.dispose()

    def copy_staged(self, source: Place, target: Place, columns: List[str]) -> None:
        """Replaces the rows of `target`'s staging table by those of `source`'s."""
        raise NotImplementedError

    def run_timed(self, place: Place, statements: List[str]) -> float:
        """Runs `statements` in one transaction; returns the seconds of statements + COMMIT."""
        engine, _ = self.open(place)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")  # connect outside the timing
                conn.commit()
                started = time.perf_counter()
                for statement in statements:
                    conn.exec_driver_sql(statement)
                conn.commit()
                return time.perf_counter() - started
        finally:
            engine.dispose()


class FileStore(Store):
    """SQLite and DuckDB: a place is a directory; a clone is a copy of its database files."""

    def __init__(self, backend: str, work: Path, prefix: str) -> None:
        super().__init__(work, prefix)
        self.backend = backend
        self.main_file = "bench.db" if backend == "sqlite" else "bench.duckdb"

    def create(self, label: str) -> Place:
        root = self.work / label
        (root / "db").mkdir(parents=True)
        url = f"{self.backend}:///{root / 'db' / self.main_file}"
        return Place(self.backend, url, f"{self.prefix}_{label}", root)

    def restore(self, template: Place, label: str, aside: bool = False) -> Place:
        place = self.create(label)
        place.dataset = template.dataset
        for path in template.db_dir.iterdir():
            shutil.copy2(path, place.db_dir / path.name)
        return place

    def cancel(self, place: Place) -> None:
        # the load's connections sit in dlt's job threads: interrupt every live connection of
        # the embedded driver (the script's own are all closed while a run is timed)
        if self.backend == "sqlite":
            kind: Any = sqlite3.Connection
        else:
            import duckdb

            kind = duckdb.DuckDBPyConnection
        for obj in gc.get_objects():
            if isinstance(obj, kind):
                with contextlib.suppress(Exception):
                    obj.interrupt()

    def dataset_file(self, place: Place, dataset: str) -> Path:
        return place.db_dir / f"bench__{dataset}.db"

    def open(self, place: Place) -> Tuple[sa.Engine, Optional[str]]:
        if self.backend == "sqlite":
            url = f"sqlite:///{self.dataset_file(place, place.dataset)}"
            return sa.create_engine(url, poolclass=sa.pool.NullPool), None
        return super().open(place)

    def _sqlite(self, place: Place) -> sqlite3.Connection:
        conn = sqlite3.connect(place.db_dir / self.main_file, isolation_level=None)
        for dataset in (place.dataset, staging(place.dataset)):
            conn.execute(
                f"ATTACH DATABASE ? AS {self.quote(dataset)}",
                (str(self.dataset_file(place, dataset)),),
            )
        return conn

    def _duckdb(self, place: Place) -> Any:
        import duckdb

        return duckdb.connect(str(place.db_dir / self.main_file))

    def columns(self, place: Place, table: str) -> List[str]:
        if self.backend == "duckdb":
            return super().columns(place, table)
        conn = self._sqlite(place)
        try:
            info = conn.execute(
                f"PRAGMA {self.quote(place.dataset)}.table_info({self.quote(table)})"
            ).fetchall()
            return [r[1] for r in info]
        finally:
            conn.close()

    def copy_staged(self, source: Place, target: Place, columns: List[str]) -> None:
        cols = ", ".join(self.quote(c) for c in columns)
        staged = f"{self.quote(staging(target.dataset))}.{self.quote(TABLE)}"
        if self.backend == "sqlite":
            conn = self._sqlite(target)
            try:
                source_file = self.dataset_file(source, staging(source.dataset))
                conn.execute("ATTACH DATABASE ? AS source_staging", (str(source_file),))
                conn.execute("BEGIN")
                conn.execute(f"DELETE FROM {staged}")  # noqa: S608
                conn.execute(
                    f"INSERT INTO {staged} ({cols}) SELECT {cols}"  # noqa: S608
                    f" FROM source_staging.{self.quote(TABLE)}"
                )
                conn.execute("COMMIT")
                conn.execute("DETACH DATABASE source_staging")
            finally:
                conn.close()
            return
        conn = self._duckdb(target)
        try:
            conn.execute("ATTACH ? AS source_db (READ_ONLY)", [str(source.db_dir / self.main_file)])
            conn.execute(f"DELETE FROM {staged}")  # noqa: S608
            conn.execute(
                f"INSERT INTO {staged} ({cols}) SELECT {cols} FROM"  # noqa: S608
                f" source_db.{self.quote(staging(source.dataset))}.{self.quote(TABLE)}"
            )
            conn.execute("DETACH source_db")
        finally:
            conn.close()

    def run_timed(self, place: Place, statements: List[str]) -> float:
        conn = self._sqlite(place) if self.backend == "sqlite" else self._duckdb(place)
        try:
            started = time.perf_counter()
            conn.execute("BEGIN")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
            return time.perf_counter() - started
        finally:
            conn.close()


class PostgresStore(Store):
    """A place is a database of its own; a clone is `CREATE DATABASE ... TEMPLATE`."""

    backend = "postgresql"

    def __init__(self, work: Path, prefix: str) -> None:
        super().__init__(work, prefix)
        self.base = sa.make_url(SERVER_URLS["postgresql"])
        self.admin = sa.create_engine(
            self.base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )

    def _exec(self, sql: str, **params: Any) -> List[Any]:
        with self.admin.connect() as conn:
            result = conn.execute(sa.text(sql), params)
            return list(result) if result.returns_rows else []

    def _terminate(self, database: str) -> None:
        self._exec(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :db AND pid <> pg_backend_pid()",
            db=database,
        )

    def _place(self, label: str, dataset: str) -> Place:
        database = f"{self.prefix}_{label}"
        url = self.base.set(database=database).render_as_string(hide_password=False)
        root = self.work / label
        root.mkdir(parents=True)
        return Place(self.backend, url, dataset, root, database)

    def create(self, label: str) -> Place:
        place = self._place(label, f"{self.prefix}_{label}")
        self._exec(f"CREATE DATABASE {self.quote(place.database or '')}")
        return place

    def freeze(self, place: Place) -> Place:
        # statistics as autovacuum would have them by the next run, and the same in every clone
        engine = sa.create_engine(
            place.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        finally:
            engine.dispose()
        self._terminate(place.database or "")
        return place

    def restore(self, template: Place, label: str, aside: bool = False) -> Place:
        place = self._place(label, template.dataset)
        self._terminate(template.database or "")
        self._exec(
            f"CREATE DATABASE {self.quote(place.database or '')}"
            f" TEMPLATE {self.quote(template.database or '')}"
        )
        return place

    def cancel(self, place: Place) -> None:
        self._exec(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :db AND pid <> pg_backend_pid()",
            db=place.database,
        )

    def drop(self, place: Place) -> None:
        if place.database:
            self._exec(f"DROP DATABASE IF EXISTS {self.quote(place.database)} WITH (FORCE)")
        super().drop(place)

    def cleanup(self) -> None:
        for (name,) in self._exec(
            "SELECT datname FROM pg_database WHERE starts_with(datname, :p)", p=self.prefix + "_"
        ):
            self._exec(f"DROP DATABASE IF EXISTS {self.quote(name)} WITH (FORCE)")
        self.admin.dispose()

    def _libpq(self, place: Place) -> str:
        url = sa.make_url(place.url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def copy_staged(self, source: Place, target: Place, columns: List[str]) -> None:
        import psycopg

        cols = ", ".join(self.quote(c) for c in columns)
        src = f"{self.quote(staging(source.dataset))}.{self.quote(TABLE)}"
        dst = f"{self.quote(staging(target.dataset))}.{self.quote(TABLE)}"
        with (
            psycopg.connect(self._libpq(source)) as src_conn,
            psycopg.connect(self._libpq(target)) as dst_conn,
        ):
            dst_conn.execute(f"TRUNCATE {dst}")
            with src_conn.cursor() as out_cur, dst_conn.cursor() as in_cur:
                copy_out = f"COPY (SELECT {cols} FROM {src}) TO STDOUT (FORMAT BINARY)"  # noqa: S608
                with (
                    out_cur.copy(copy_out) as out,
                    in_cur.copy(f"COPY {dst} ({cols}) FROM STDIN (FORMAT BINARY)") as into,
                ):
                    for data in out:
                        into.write(data)
            dst_conn.commit()


class MariaDbStore(Store):
    """A dataset is a database; a template keeps its tables in `<database>_tpl`, and a clone is
    `CREATE TABLE ... LIKE` + `INSERT ... SELECT` of every table (staging tables included)."""

    backend = "mariadb"

    def __init__(self, work: Path, prefix: str) -> None:
        super().__init__(work, prefix)
        self.base = SERVER_URLS["mariadb"]
        self.admin = sa.create_engine(
            self.base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def _tables(self, conn: sa.Connection, database: str) -> List[str]:
        rows = conn.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
                " ORDER BY table_name"
            ),
            {"s": database},
        )
        return [r[0] for r in rows]

    def create(self, label: str) -> Place:
        root = self.work / label
        root.mkdir(parents=True)
        return Place(self.backend, self.base, f"{self.prefix}_{label}", root)

    def freeze(self, place: Place) -> Place:
        q = self.quote
        with self.admin.connect() as conn:
            for database in (place.dataset, staging(place.dataset)):
                tables = self._tables(conn, database)
                template = f"{database}_tpl"
                conn.exec_driver_sql(f"CREATE DATABASE {q(template)}")
                if tables:
                    conn.exec_driver_sql(
                        "RENAME TABLE "
                        + ", ".join(f"{q(database)}.{q(t)} TO {q(template)}.{q(t)}" for t in tables)
                    )
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {q(database)}")
        return place

    def restore(self, template: Place, label: str, aside: bool = False) -> Place:
        q = self.quote
        place = Place(self.backend, self.base, template.dataset, self.work / label)
        place.root.mkdir(parents=True)
        if aside:
            place.dataset = f"{template.dataset}_n"
        with self.admin.connect() as conn:
            for source, target in (
                (template.dataset, place.dataset),
                (staging(template.dataset), staging(place.dataset)),
            ):
                tpl = f"{source}_tpl"
                conn.exec_driver_sql(f"CREATE DATABASE {q(target)}")
                tables = self._tables(conn, tpl)
                for t in tables:
                    conn.exec_driver_sql(f"CREATE TABLE {q(target)}.{q(t)} LIKE {q(tpl)}.{q(t)}")
                    conn.exec_driver_sql(
                        f"INSERT INTO {q(target)}.{q(t)} SELECT * FROM {q(tpl)}.{q(t)}"  # noqa: S608
                    )
                if tables:
                    conn.exec_driver_sql(
                        "ANALYZE TABLE " + ", ".join(f"{q(target)}.{q(t)}" for t in tables)
                    ).fetchall()
        return place

    def drop(self, place: Place) -> None:
        with self.admin.connect() as conn:
            for database in (place.dataset, staging(place.dataset)):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.quote(database)}")
        super().drop(place)

    def drop_template(self, template: Place) -> None:
        with self.admin.connect() as conn:
            for database in (template.dataset, staging(template.dataset)):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.quote(database + '_tpl')}")
        super().drop(template)

    def _kill(self, pattern: str, what: str = "QUERY") -> None:
        """KILLs the statements (or connections) whose SQL names a database matching `pattern`."""
        names = re.compile(rf"(?<![\w$]){pattern}(?![\w$])")
        with self.admin.connect() as conn:
            own = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            rows = conn.exec_driver_sql(
                "SELECT id, info FROM information_schema.processlist WHERE info IS NOT NULL"
            ).fetchall()
            for pid, info in rows:
                if pid != own and names.search(info or ""):
                    with contextlib.suppress(Exception):
                        conn.exec_driver_sql(f"KILL {what} {int(pid)}")

    def cancel(self, place: Place) -> None:
        self._kill(re.escape(place.dataset) + "(?:_staging)?")

    def cleanup(self) -> None:
        # a DROP DATABASE would wait for a statement still running in it
        self._kill(re.escape(self.prefix) + r"_\w+", "CONNECTION")
        with self.admin.connect() as conn:
            names = [r[0] for r in conn.exec_driver_sql("SHOW DATABASES")]
            for name in names:
                if name.startswith(self.prefix + "_"):
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.quote(name)}")
        self.admin.dispose()

    def copy_staged(self, source: Place, target: Place, columns: List[str]) -> None:
        q = self.quote
        cols = ", ".join(q(c) for c in columns)
        dst = f"{q(staging(target.dataset))}.{q(TABLE)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"TRUNCATE TABLE {dst}")
            conn.exec_driver_sql(
                f"INSERT INTO {dst} ({cols}) SELECT {cols}"  # noqa: S608
                f" FROM {q(staging(source.dataset))}.{q(TABLE)}"
            )


def make_store(backend: str, work: Path, prefix: str) -> Store:
    if backend == "postgresql":
        return PostgresStore(work, prefix)
    if backend == "mariadb":
        return MariaDbStore(work, prefix)
    return FileStore(backend, work, prefix)


# --- checks -----------------------------------------------------------------------------------


class MergeCheckFailed(Exception):
    pass


def count_rows(store: Store, place: Place, w: Workload) -> Dict[str, int]:
    """The numbers `expected` predicts, read from `place` through an engine of our own."""
    engine, schema = store.open(place)
    try:
        root = sa.table(TABLE, sa.column("rev"), sa.column(VALID_TO), schema=schema)
        measures: List[Any] = [sa.func.count(), sa.func.coalesce(sa.func.sum(root.c.rev), 0)]
        if w.strategy == "scd2":
            measures.append(sa.func.count(sa.case((root.c[VALID_TO].is_(None), 1))))
        with engine.connect() as conn:
            values = conn.execute(sa.select(*measures).select_from(root)).one()
            out = {"rows": int(values[0]), "rev_sum": int(values[1])}
            if w.strategy == "scd2":
                out["active"] = int(values[2])
            if w.nested:
                for key, name in (("items", ITEMS), ("subs", SUBS)):
                    table = sa.table(name, schema=schema)
                    out[key] = int(
                        conn.execute(sa.select(sa.func.count()).select_from(table)).one()[0]
                    )
        return out
    finally:
        engine.dispose()


def check(store: Store, place: Place, w: Workload, want: Dict[str, int], when: str) -> Dict:
    got = count_rows(store, place, w)
    got = {k: got[k] for k in want if k in got}
    if got != want:
        wrong = ", ".join(
            f"{k} {got.get(k)} (expected {v})" for k, v in want.items() if got.get(k) != v
        )
        raise MergeCheckFailed(f"{when}: {wrong}")
    return got


# --- runs -------------------------------------------------------------------------------------


class Watchdog:
    """Cancels the statements of a run still going after `timeout` seconds, and keeps cancelling
    every second (dlt retries a job that failed transiently) until the run returns."""

    def __init__(self, store: Store, place: Place, timeout: Optional[float]) -> None:
        self.store, self.place, self.timeout = store, place, timeout
        self.fired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        if self.timeout is None or self._done.wait(self.timeout):
            return
        self.fired = True
        while not self._done.is_set():
            with contextlib.suppress(Exception):
                self.store.cancel(self.place)
            self._done.wait(1.0)

    def __enter__(self) -> Watchdog:
        if self.timeout:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def error(self, started: float) -> TimeoutError:
        return TimeoutError(
            f"still running after --timeout {self.timeout:.0f} s: statements cancelled, gave up"
            f" after {time.perf_counter() - started:.0f} s"
        )


@dataclass
class Run:
    study: str  # "matrix" or "scaling"
    backend: str
    strategy: str
    case: str
    destination: str  # "ours", "built-in" or "native"
    dest_rows: int
    in_rows: int
    phase: str  # "warm-up", "first run" (the template) or "timed"
    repeat: int = 0
    seconds: Optional[float] = None  # load() of the second run (native: statements + COMMIT)
    cpu_seconds: Optional[float] = None  # CPU time of this process during load()
    peak_rss_growth_mb: Optional[float] = None
    load_average: Optional[float] = None
    restore_seconds: Optional[float] = None  # untimed: cloning the template for this run
    extract_seconds: Optional[float] = None  # untimed: the second run's extract and normalize,
    normalize_seconds: Optional[float] = None  # done once per template
    fill_seconds: Optional[float] = None  # untimed: the first run's load()
    fill_package: Optional[str] = None  # "normalized here" or "shared from <backend>"
    counts: Optional[Dict[str, int]] = None
    error: Optional[str] = None
    error_detail: Optional[str] = None
    check_failed: bool = False  # load() returned but the merged table is wrong

    def fail(self, ex: BaseException) -> None:
        # our own verdicts say it best; for anything else, the innermost cause
        own = isinstance(ex, (MergeCheckFailed, TimeoutError))
        self.error = f"{type(ex).__name__}: {ex}" if own else short_reason(ex)
        self.error_detail = "".join(traceback.format_exception(ex))
        if isinstance(ex, MergeCheckFailed):
            self.check_failed = True
            print(f"ERROR: {self.label()}: {ex}", file=sys.stderr, flush=True)

    def label(self) -> str:
        return f"{self.backend}/{self.strategy}/{self.case}/{self.destination}/{self.in_rows}"


@dataclass
class Template:
    place: Place
    workload: Workload  # the fill (dest_rows); in_rows of the first variant
    destination: str
    pipelines: Dict[int, Path] = field(default_factory=dict)  # in_rows -> pipelines dir
    timings: Dict[int, Tuple[float, float]] = field(default_factory=dict)  # extract, normalize
    fill_seconds: Optional[float] = None
    fill_package: str = ""


@dataclass
class Donor:
    signature: str
    path: Path
    backend: str


class Bench:
    """Everything one invocation shares: options, stores, donors of normalized first runs."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.prefix = f"mb_{uuid.uuid4().hex[:6]}"
        self.stores: Dict[str, Store] = {}
        self.donors: Dict[Tuple[Any, ...], List[Donor]] = {}
        self.counter = 0
        self.runs: List[Run] = []
        self.na: Dict[Tuple[Any, ...], str] = {}
        self.options: Dict[str, Any] = {}
        if args.keys:
            self.options["create_primary_keys"] = True
        if args.unique_indexes:
            self.options["create_unique_indexes"] = True
        # ours only: the built-in has no such option
        self.ours_options = {"create_merge_indexes": True} if args.merge_indexes else {}
        self.built_in_strategies = built_in_strategies()

    def timeout(self, w: Workload) -> Optional[float]:
        """--timeout; by default 20 s plus 1 s per 10,000 rows of the table and of the merge."""
        if self.args.timeout is None:
            return 20.0 + (w.dest_rows + w.in_rows) / 10_000
        return self.args.timeout if self.args.timeout > 0 else None

    def store(self, backend: str) -> Store:
        if backend not in self.stores:
            self.stores[backend] = make_store(backend, self.work, self.prefix)
        return self.stores[backend]

    def label(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}{self.counter}"

    def drop_donors(self, keep: Callable[[Tuple[Any, ...]], bool]) -> None:
        """Deletes the shared first-run packages whose key `keep` refuses."""
        for key in [k for k in self.donors if not keep(k)]:
            for donor in self.donors.pop(key):
                shutil.rmtree(donor.path, ignore_errors=True)

    def cleanup(self) -> None:
        for store in self.stores.values():
            try:
                store.cleanup()
            except Exception as ex:
                print(f"  warning: cleanup of {store.backend}: {short_reason(ex)}", file=sys.stderr)

    # --- pipelines

    @staticmethod
    def pipeline_name(destination: str, w: Workload) -> str:
        return f"mb_{destination.replace('-', '_')}_{w.strategy.replace('-', '_')}_{w.case}"

    def attach(self, destination: str, w: Workload, place: Place, pipelines_dir: Path) -> Any:
        return dlt.pipeline(
            pipeline_name=self.pipeline_name(destination, w),
            destination=make_destination(
                destination,
                place.url,
                {**self.options, **(self.ours_options if destination == "ours" else {})},
            ),
            dataset_name=place.dataset,
            pipelines_dir=str(pipelines_dir),
        )

    def donor_key(self, destination: str, w: Workload) -> Tuple[Any, ...]:
        partition = w.partition_rows if w.case == "merge_key" else None
        return (destination, w.strategy, w.case, w.dest_rows, partition)

    def signature(self, destination: str, w: Workload, place: Place) -> str:
        """Schema and parquet schemas of a few rows normalized for `place`'s backend."""
        tmp = Path(tempfile.mkdtemp(dir=self.work, prefix="sig_"))
        sample = dataclasses.replace(w, dest_rows=min(w.dest_rows, SAMPLE_ROWS))
        try:
            pipeline = self.attach(destination, w, place, tmp)
            pipeline.extract(
                merge_resource(sample, sample.fill_segments()), loader_file_format="parquet"
            )
            pipeline.normalize()
            return package_signature(tmp / pipeline.pipeline_name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # --- the first run, once per (backend, destination, strategy, case)

    def build_template(
        self, backend: str, destination: str, w: Workload, variants: List[int]
    ) -> Template:
        store = self.store(backend)
        place = store.create(self.label("t"))
        template = Template(place, w, destination)
        try:
            share = not self.args.no_share and self.args.fill_format == "parquet"
            signature, donor = "", None
            if share:
                signature = self.signature(destination, w, place)
                donor = next(
                    (
                        d
                        for d in self.donors.get(self.donor_key(destination, w), [])
                        if d.signature == signature
                    ),
                    None,
                )
            if donor is not None:
                shutil.copytree(donor.path, place.pipelines_dir)
                template.fill_package = f"shared from {donor.backend}"
            pipeline = self.attach(destination, w, place, place.pipelines_dir)
            if donor is None:
                pipeline.extract(
                    merge_resource(w, w.fill_segments()),
                    loader_file_format=self.args.fill_format,
                )
                pipeline.normalize()
                template.fill_package = "normalized here"
                if share:
                    path = self.work / "donors" / place.root.name
                    shutil.copytree(place.pipelines_dir, path)
                    self.donors.setdefault(self.donor_key(destination, w), []).append(
                        Donor(signature, path, backend)
                    )
            started = time.perf_counter()
            info = pipeline.load()
            template.fill_seconds = time.perf_counter() - started
            if info.has_failed_jobs:
                raise RuntimeError(f"first run: load reported failed jobs: {info.asstr()}")
            del pipeline
            gc.collect()
            check(store, place, w, expected_fill(w), "after the first run")
            for in_rows in variants:
                v = dataclasses.replace(w, in_rows=in_rows)
                pipelines = place.root / f"second_{in_rows}"
                shutil.copytree(place.pipelines_dir, pipelines)
                pipeline = self.attach(destination, v, place, pipelines)
                started = time.perf_counter()
                resource = merge_resource(v, v.merge_segments())
                if self.args.format:
                    pipeline.extract(resource, loader_file_format=self.args.format)
                else:
                    pipeline.extract(resource)
                extracted = time.perf_counter()
                pipeline.normalize()
                template.timings[in_rows] = (extracted - started, time.perf_counter() - extracted)
                template.pipelines[in_rows] = pipelines
                del pipeline
            gc.collect()
            template.place = store.freeze(place)
            return template
        except BaseException:
            self.drop_template(template)
            raise

    def drop_template(self, template: Template) -> None:
        try:
            self.store(template.place.backend).drop_template(template.place)
        except Exception as ex:
            print(f"  warning: could not drop a template: {short_reason(ex)}", file=sys.stderr)

    # --- the timed second run

    def timed_run(
        self, study: str, template: Template, w: Workload, repeat: int, native: bool
    ) -> List[Run]:
        """Clones the template, times load(), checks; then the native reference if asked."""
        backend, destination = template.place.backend, template.destination
        store = self.store(backend)
        run = Run(study, backend, w.strategy, w.case, destination, w.dest_rows, w.in_rows, "timed")
        run.repeat = repeat
        run.extract_seconds, run.normalize_seconds = template.timings[w.in_rows]
        run.fill_seconds, run.fill_package = template.fill_seconds, template.fill_package
        if repeat < 0:
            run.phase = "warm-up"
        runs = [run]
        place: Optional[Place] = None
        try:
            started = time.perf_counter()
            place = store.restore(template.place, self.label("r"))
            shutil.copytree(template.pipelines[w.in_rows], place.pipelines_dir)
            # a sanity check of the clone that also reads the table once (untimed)
            check(store, place, w, expected_fill(w), "clone of the first run")
            run.restore_seconds = time.perf_counter() - started
            pipeline = self.attach(destination, w, place, place.pipelines_dir)
            release_free_memory()
            run.load_average = os.getloadavg()[0]
            watchdog = Watchdog(store, place, self.timeout(w))
            started = time.perf_counter()
            try:
                with RssSampler() as rss, watchdog:
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    info = pipeline.load()
                    seconds = time.perf_counter() - started
                    cpu_seconds = time.process_time() - cpu_started
            except Exception as ex:
                if watchdog.fired:
                    raise watchdog.error(started) from ex
                raise
            finally:
                del pipeline
                gc.collect()
            if watchdog.fired:
                raise watchdog.error(started)
            if info.has_failed_jobs:
                raise RuntimeError(f"load reported failed jobs: {info.asstr()}")
            run.counts = check(store, place, w, expected(w), "after the second run")
            run.seconds, run.cpu_seconds = seconds, cpu_seconds
            run.peak_rss_growth_mb = rss.growth_mb
            if native:
                runs.append(self.native_run(study, template, place, w, repeat))
        except Exception as ex:  # one destination failing on one backend must not stop the rest
            run.fail(ex)
        finally:
            if place is not None:
                try:
                    store.drop(place)
                except Exception as ex:
                    print(f"  warning: could not drop a clone: {short_reason(ex)}", file=sys.stderr)
            gc.collect()
        return runs

    def native_run(
        self, study: str, template: Template, ours: Place, w: Workload, repeat: int
    ) -> Run:
        """The backend's own merge statements on a second clone of ours' first run, into which
        the rows ours staged in `ours` are copied (untimed)."""
        backend = template.place.backend
        store = self.store(backend)
        run = Run(study, backend, w.strategy, w.case, "native", w.dest_rows, w.in_rows, "timed")
        run.repeat = repeat
        if repeat < 0:
            run.phase = "warm-up"
        place: Optional[Place] = None
        try:
            started = time.perf_counter()
            place = store.restore(template.place, self.label("n"), aside=True)
            columns = store.columns(place, TABLE)
            if not columns:
                raise RuntimeError(f"no columns found for {TABLE} in {place.dataset}")
            store.copy_staged(ours, place, columns)
            run.restore_seconds = time.perf_counter() - started
            statements = native_statements(store, place, w, columns)
            run.load_average = os.getloadavg()[0]
            cpu_started = time.process_time()
            watchdog = Watchdog(store, place, self.timeout(w))
            started = time.perf_counter()
            try:
                with watchdog:
                    seconds = store.run_timed(place, statements)
            except Exception as ex:
                if watchdog.fired:
                    raise watchdog.error(started) from ex
                raise
            if watchdog.fired:
                raise watchdog.error(started)
            run.seconds = seconds
            run.cpu_seconds = time.process_time() - cpu_started
            run.counts = check(store, place, w, expected(w), "after the native merge")
        except Exception as ex:
            run.seconds = None
            run.fail(ex)
        finally:
            if place is not None:
                try:
                    store.drop(place)
                except Exception as ex:
                    print(f"  warning: could not drop a clone: {short_reason(ex)}", file=sys.stderr)
        return run


def package_signature(pipeline_dir: Path) -> str:
    """What of a normalized package can depend on the backend: schema and parquet schemas."""
    import pyarrow.parquet as pq

    packages = glob.glob(str(pipeline_dir / "load" / "normalized" / "*"))
    if len(packages) != 1:
        raise RuntimeError(f"expected one normalized package, found {len(packages)}")
    package = Path(packages[0])
    schema = json.loads((package / "schema.json").read_text(encoding="utf-8"))
    for volatile in ("version", "version_hash", "previous_hashes", "name"):
        schema.pop(volatile, None)
    files = []
    for path in sorted((package / "new_jobs").iterdir()):
        table, *_, ext = path.name.split(".")
        if ext == "parquet":
            files.append([table, ext, str(pq.read_schema(path).remove_metadata())])
        else:
            files.append([table, ext])
    return json.dumps([schema, sorted(files)], sort_keys=True, default=str)


def native_statements(store: Store, place: Place, w: Workload, columns: List[str]) -> List[str]:
    """The backend's native merge of the staged rows into the table (flat case, key `id`)."""
    q, backend = store.quote, store.backend
    keys = list(w.primary_key or ())
    target = f"{q(place.dataset)}.{q(TABLE)}"
    source = f"{q(staging(place.dataset))}.{q(TABLE)}"
    cols = ", ".join(q(c) for c in columns)
    key_list = ", ".join(q(k) for k in keys)
    update = [c for c in columns if c not in keys]
    select = f"SELECT {cols} FROM {source}"  # noqa: S608
    insert = f"INSERT INTO {target} ({cols}) {select}"
    if w.strategy == "delete-insert":
        staged_keys = f"SELECT DISTINCT {key_list} FROM {source}"  # noqa: S608
        match = " AND ".join(f"d.{q(k)} = k.{q(k)}" for k in keys)
        if backend == "mariadb":
            delete = f"DELETE d FROM {target} AS d JOIN ({staged_keys}) AS k ON {match}"
        elif backend == "sqlite":
            staged = f"SELECT {key_list} FROM {source}"  # noqa: S608
            delete = f"DELETE FROM {target} WHERE ({key_list}) IN ({staged})"  # noqa: S608
        else:
            delete = f"DELETE FROM {target} AS d USING ({staged_keys}) AS k WHERE {match}"  # noqa: S608
        return [delete, insert]
    if w.strategy == "upsert":
        if backend == "mariadb":
            sets = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in update)
            return [f"{insert} ON DUPLICATE KEY UPDATE {sets}"]
        if backend == "duckdb":
            return [f"INSERT OR REPLACE INTO {target} ({cols}) {select}"]
        sets = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in update)
        where = " WHERE true" if backend == "sqlite" else ""  # SQLite's parser needs it
        return [f"{insert}{where} ON CONFLICT ({key_list}) DO UPDATE SET {sets}"]
    if w.strategy == "insert-only":
        if backend == "mariadb":
            return [f"INSERT IGNORE INTO {target} ({cols}) {select}"]
        if backend == "duckdb":
            return [f"INSERT OR IGNORE INTO {target} ({cols}) {select}"]
        where = " WHERE true" if backend == "sqlite" else ""
        return [f"{insert}{where} ON CONFLICT ({key_list}) DO NOTHING"]
    raise ValueError(f"no native reference for {w.strategy}")


# --- running a study --------------------------------------------------------------------------


def status_line(run: Run) -> str:
    if run.error:
        return f"FAILED: {run.error}"
    text = f"{run.seconds:.3f} s, CPU {num(run.cpu_seconds, '.3f')} s"
    if run.destination != "native":
        text += f", peak RSS +{num(run.peak_rss_growth_mb, '.1f')} MB"
    text += f", clone {num(run.restore_seconds, '.1f')} s"
    return text + f", load average {num(run.load_average, '.2f')}"


def print_run(run: Run) -> None:
    tag = "warm-up" if run.phase == "warm-up" else f"#{run.repeat + 1}"
    rows = f"{run.in_rows:,}->{run.dest_rows:,}"
    print(
        f"{run.backend:<10} {run.strategy:<13} {run.case:<9} {run.destination:<8} {rows:>17}"
        f" {tag}: {status_line(run)}",
        flush=True,
    )


def run_combination(
    bench: Bench,
    study: str,
    backend: str,
    strategy: str,
    case: str,
    in_rows_list: List[int],
    broken: Dict[Tuple[str, str], str],
) -> None:
    """Templates for each destination, then the timed repetitions of every in_rows variant."""
    args = bench.args
    w = Workload(strategy, case, args.dest_rows, in_rows_list[0])
    templates: Dict[str, Template] = {}
    destinations: List[str] = []
    for destination in args.destinations:
        key = (study, backend, strategy, case, destination)
        if destination == "built-in" and strategy not in bench.built_in_strategies:
            bench.na[key] = f"the built-in destination does not support {strategy}"
            continue
        if (backend, destination) in broken:
            for in_rows in in_rows_list:
                run = Run(
                    study, backend, strategy, case, destination, w.dest_rows, in_rows, "timed"
                )
                run.error = f"warm-up FAILED: {broken[(backend, destination)]}"
                bench.runs.append(run)
            continue
        first = Run(
            study, backend, strategy, case, destination, w.dest_rows, w.in_rows, "first run"
        )
        started = time.perf_counter()
        try:
            templates[destination] = bench.build_template(backend, destination, w, in_rows_list)
            destinations.append(destination)
            t = templates[destination]
            first.fill_seconds, first.fill_package = t.fill_seconds, t.fill_package
            print(
                f"{backend:<10} {strategy:<13} {case:<9} {destination:<8} first run of"
                f" {w.dest_rows:,} rows ({t.fill_package}): load {t.fill_seconds:.1f} s,"
                f" set-up {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        except Exception as ex:
            first.fail(ex)
            print(
                f"{backend:<10} {strategy:<13} {case:<9} {destination:<8} first run FAILED:"
                f" {first.error}",
                flush=True,
            )
        bench.runs.append(first)
    try:
        native = not args.no_native and case == "flat" and strategy in NATIVE_STRATEGIES
        for in_rows in in_rows_list:
            v = dataclasses.replace(w, in_rows=in_rows)
            done: Set[str] = set()  # failed, or out of --budget
            spent = dict.fromkeys(destinations, 0.0)
            for repeat in range(args.repeat):
                # alternate the order so that drift (caches, server state) hits both sides
                order = destinations if repeat % 2 == 0 else destinations[::-1]
                for destination in order:
                    if destination in done:
                        continue
                    runs = bench.timed_run(
                        study, templates[destination], v, repeat, native and destination == "ours"
                    )
                    for run in runs:
                        bench.runs.append(run)
                        print_run(run)
                    spent[destination] += runs[0].seconds or 0.0
                    if runs[0].error:
                        done.add(destination)
                    elif args.budget and spent[destination] > args.budget:
                        if repeat + 1 < args.repeat:
                            print(
                                f"{'':<10} {'':<13} {'':<9} {destination:<8} --budget of"
                                f" {args.budget:g} s spent: no more repetitions",
                                flush=True,
                            )
                        done.add(destination)
    finally:
        for template in templates.values():
            bench.drop_template(template)


def warm_up(bench: Bench, backend: str, destination: str) -> Optional[str]:
    """One untimed tiny first + second run through the whole machinery (imports, connections,
    cloning). Returns the reason when the destination cannot do even that."""
    strategies = [s for s in bench.args.strategies if s in STRATEGIES]
    if destination == "built-in":
        strategies = [s for s in strategies if s in bench.built_in_strategies]
    if not strategies:
        return None
    w = Workload(strategies[0], "flat", WARMUP_DEST_ROWS, WARMUP_IN_ROWS)
    template: Optional[Template] = None
    try:
        template = bench.build_template(backend, destination, w, [w.in_rows])
        native = (
            not bench.args.no_native and destination == "ours" and w.strategy in NATIVE_STRATEGIES
        )
        runs = bench.timed_run("matrix", template, w, -1, native)
    except Exception as ex:
        run = Run(
            "matrix", backend, w.strategy, "flat", destination, w.dest_rows, w.in_rows, "warm-up"
        )
        run.repeat = -1
        run.fail(ex)
        runs = [run]
    finally:
        if template is not None:
            bench.drop_template(template)
        bench.drop_donors(lambda key: key[3] != WARMUP_DEST_ROWS)
    for run in runs:
        bench.runs.append(run)
        print_run(run)
    return runs[0].error


# --- reporting --------------------------------------------------------------------------------


def summarize(bench: Bench) -> List[Dict[str, Any]]:
    keys = list(
        dict.fromkeys(
            (r.study, r.backend, r.strategy, r.case, r.destination, r.in_rows)
            for r in bench.runs
            if r.phase != "warm-up"
        )
    )
    # in the order the cases ran; within a case by incoming rows, then ours, built-in, native
    first = {k[:4]: n for n, k in reversed(list(enumerate(keys)))}
    order = {"ours": 0, "built-in": 1, "native": 2}
    keys.sort(key=lambda k: (first[k[:4]], k[5], order.get(k[4], 3)))
    out = []
    for key in keys:
        study, backend, strategy, case, destination, in_rows = key
        mine = [
            r
            for r in bench.runs
            if (r.study, r.backend, r.strategy, r.case, r.destination) == key[:5]
            and (r.in_rows == in_rows or r.phase == "first run")
            and r.phase != "warm-up"
        ]
        timed = [r for r in mine if r.phase == "timed" and r.seconds is not None]
        failed = next((r.error for r in mine if r.error), None)
        entry: Dict[str, Any] = {
            "study": study,
            "backend": backend,
            "strategy": strategy,
            "case": case,
            "destination": destination,
            "dest_rows": bench.args.dest_rows,
            "in_rows": in_rows,
            "runs": len(timed),
            "failed": failed,
            "median_s": None,
        }
        if timed and failed is None:
            times = [r.seconds for r in timed if r.seconds is not None]
            cpu = [r.cpu_seconds for r in timed if r.cpu_seconds is not None]
            rss = [r.peak_rss_growth_mb for r in timed if r.peak_rss_growth_mb is not None]
            prep = [
                (r.extract_seconds or 0.0) + (r.normalize_seconds or 0.0)
                for r in timed
                if r.normalize_seconds is not None
            ]
            entry.update(
                median_s=statistics.median(times),
                min_s=min(times),
                max_s=max(times),
                median_cpu_s=statistics.median(cpu) if cpu else None,
                peak_rss_growth_mb=statistics.median(rss) if rss else None,
                extract_normalize_s=prep[0] if prep else None,
                fill_package=timed[0].fill_package,
            )
        if entry["failed"] is None and not timed:
            continue
        out.append(entry)
    return out


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def median_cell(entry: Optional[Dict[str, Any]]) -> Tuple[Optional[float], str]:
    """A destination's median in the comparison: `n/a` when it did not run (unsupported
    strategy, no native reference, not asked for), `FAILED` when it failed."""
    if entry is None:
        return None, "n/a"
    if entry["failed"]:
        return None, "FAILED"
    return entry["median_s"], ""


def comparison(summary: List[Dict[str, Any]], study: str) -> List[Dict[str, Any]]:
    rows = []
    groups = list(
        dict.fromkeys(
            (s["backend"], s["strategy"], s["case"], s["in_rows"])
            for s in summary
            if s["study"] == study
        )
    )
    for backend, strategy, case, in_rows in groups:
        by = {
            s["destination"]: s
            for s in summary
            if (s["study"], s["backend"], s["strategy"], s["case"], s["in_rows"])
            == (study, backend, strategy, case, in_rows)
        }

        ours, ours_note = median_cell(by.get("ours"))
        built_in, built_in_note = median_cell(by.get("built-in"))
        native, native_note = median_cell(by.get("native"))
        rows.append(
            {
                "backend": backend,
                "strategy": strategy,
                "case": case,
                "in_rows": in_rows,
                "ours_s": ours,
                "ours_note": ours_note,
                "built_in_s": built_in,
                "built_in_note": built_in_note,
                "built_in_over_ours": ratio(built_in, ours),
                "native_s": native,
                "native_note": native_note,
                "ours_over_native": ratio(ours, native),
            }
        )
    return rows


def seconds_cell(value: Optional[float], note: str) -> str:
    return note if value is None and note else num(value, ".3f")


def ratio_cell(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def detail_table(summary: List[Dict[str, Any]], study: str) -> str:
    body = []
    for s in summary:
        if s["study"] != study:
            continue
        head = [s["backend"], s["strategy"], s["case"], f"{s['in_rows']:,}", s["destination"]]
        if s["failed"]:
            body.append([*head, f"FAILED: {s['failed']}"])
            continue
        body.append(
            [
                *head,
                num(s["median_s"], ".3f"),
                f"{num(s['min_s'], '.3f')}-{num(s['max_s'], '.3f')}",
                num(s["median_cpu_s"], ".3f"),
                num(s["peak_rss_growth_mb"], ".1f"),
                str(s["runs"]),
                num(s.get("extract_normalize_s"), ".2f"),
            ]
        )
    return render_table(
        [
            "backend",
            "strategy",
            "case",
            "in rows",
            "destination",
            "median s",
            "min-max s",
            "client CPU s",
            "peak RSS +MB",
            "runs",
            "extract+normalize s",
        ],
        body,
        right={3, 5, 6, 7, 8, 9, 10},
    )


def comparison_table(rows: List[Dict[str, Any]]) -> str:
    body = [
        [
            r["backend"],
            r["strategy"],
            r["case"],
            seconds_cell(r["ours_s"], r["ours_note"]),
            seconds_cell(r["built_in_s"], r["built_in_note"]),
            ratio_cell(r["built_in_over_ours"]),
            seconds_cell(r["native_s"], r["native_note"]),
            ratio_cell(r["ours_over_native"]),
        ]
        for r in rows
    ]
    return render_table(
        [
            "backend",
            "strategy",
            "case",
            "ours median s",
            "built-in median s",
            "built-in/ours",
            "native median s",
            "ours/native",
        ],
        body,
        right={3, 4, 5, 6, 7},
    )


def scaling_table(rows: List[Dict[str, Any]], dest_rows: int) -> str:
    body = []
    first: Dict[Tuple[str, str], Optional[float]] = {}
    for r in rows:
        group = (r["backend"], r["strategy"])
        if group not in first:
            first[group] = r["ours_s"]
        per_row = r["ours_s"] / r["in_rows"] * 1e6 if r["ours_s"] is not None else None
        body.append(
            [
                r["backend"],
                r["strategy"],
                f"{r['in_rows']:,}",
                f"{100 * r['in_rows'] / dest_rows:g}%",
                seconds_cell(r["ours_s"], r["ours_note"]),
                ratio_cell(ratio(r["ours_s"], first[group])),
                num(per_row, ",.1f"),
                seconds_cell(r["built_in_s"], r["built_in_note"]),
                ratio_cell(r["built_in_over_ours"]),
                seconds_cell(r["native_s"], r["native_note"]),
                ratio_cell(r["ours_over_native"]),
            ]
        )
    return render_table(
        [
            "backend",
            "strategy",
            "in rows",
            "of dest",
            "ours median s",
            "ours vs smallest",
            "ours us/in row",
            "built-in median s",
            "built-in/ours",
            "native median s",
            "ours/native",
        ],
        body,
        right={2, 3, 4, 5, 6, 7, 8, 9, 10},
    )


def failure_notes(summary: List[Dict[str, Any]]) -> List[str]:
    return [
        f"  {s['backend']}/{s['strategy']}/{s['case']}/{s['destination']}"
        f" ({s['in_rows']:,} rows{', --scaling' if s['study'] == 'scaling' else ''}):"
        f" {s['failed']}"
        for s in summary
        if s["failed"]
    ]


# --- main -------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dest-rows", type=int, default=100_000, help="rows in the table before the merge (100000)"
    )
    parser.add_argument(
        "--in-rows",
        type=int,
        default=10_000,
        help="rows merged in the timed run, half updates, half new keys (10000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed loads per case (3)")
    parser.add_argument(
        "--backends",
        type=lambda v: parse_list(v, BACKENDS, "backend"),
        default=list(BACKENDS),
        help=f"comma-separated, from {','.join(BACKENDS)} (all)",
    )
    parser.add_argument(
        "--strategies",
        type=lambda v: parse_list(v, STRATEGIES, "strategy"),
        default=list(STRATEGIES),
        help=f"comma-separated, from {','.join(STRATEGIES)} (all)",
    )
    parser.add_argument(
        "--cases",
        type=lambda v: parse_list(v, CASES, "case"),
        default=list(CASES),
        help=f"comma-separated, from {','.join(CASES)} (all); empty: only --scaling",
    )
    parser.add_argument(
        "--destinations",
        type=lambda v: parse_list(v, DESTINATIONS, "destination"),
        default=list(DESTINATIONS),
        help="comma-separated, from ours,built-in (both)",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="also time flat delete-insert and upsert with 1%%, 10%% and 100%% of --dest-rows"
        " incoming (a table of its own)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="loader_file_format of the timed second run (default: the destination's default)",
    )
    parser.add_argument(
        "--fill-format",
        choices=("parquet", "typed-jsonl"),
        default="parquet",
        help="loader_file_format of the untimed first run (parquet)",
    )
    parser.add_argument(
        "--keys",
        action="store_true",
        help="create_primary_keys=True for ours and the built-in (PRIMARY KEY on the key columns;"
        " the native reference works on ours' table, so it has it too)",
    )
    parser.add_argument(
        "--unique-indexes",
        action="store_true",
        help="create_unique_indexes=True for ours and the built-in (UNIQUE on `_dlt_id`)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds a timed load (or native merge) may take before its statements are"
        " cancelled and the run is reported FAILED (default: 20 s plus 1 s per 10,000 rows of"
        " --dest-rows and --in-rows of the run, 31 s at the defaults; 0: no limit)",
    )
    parser.add_argument(
        "--merge-indexes",
        action="store_true",
        help="create_merge_indexes=True for ours (indexes on the columns merges look rows up"
        " by; the built-in has no such option; the native reference works on ours' table)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed loads per case and destination after which a case is not"
        " repeated any more (60; 0: always --repeat)",
    )
    parser.add_argument("--no-native", action="store_true", help="skip the native reference")
    parser.add_argument(
        "--no-share",
        action="store_true",
        help="normalize every first run itself instead of sharing it between backends",
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-ups")
    parser.add_argument("--json", metavar="PATH", help="write environment and raw timings here")
    parser.add_argument(
        "--ref",
        metavar="COMMIT",
        help="benchmark dlt_sqlalchemy as committed in COMMIT (e.g. HEAD) instead of the working"
        " tree: its src/ is extracted to a temporary directory that goes first on sys.path",
    )
    args = parser.parse_args(argv)
    if args.dest_rows < 1 or args.repeat < 1 or args.in_rows < 2:
        parser.error("--dest-rows and --repeat must be at least 1, --in-rows at least 2")
    if args.in_rows // 2 > args.dest_rows or (args.scaling and args.dest_rows < 4):
        parser.error("half of --in-rows updates existing rows: it must not exceed --dest-rows")

    # a SIGTERM runs the finally blocks too, which drop the databases made on the servers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    snapshot_dir = Path(tempfile.mkdtemp(prefix="dlt_sqla_bench_src_"))
    try:
        ref_commit = load_step.snapshot_package(args.ref, snapshot_dir) if args.ref else None
        return run_all(args, ref_commit)
    finally:
        shutil.rmtree(snapshot_dir, ignore_errors=True)


def scaling_rows(dest_rows: int) -> List[int]:
    return list(dict.fromkeys(max(2, round(dest_rows * f)) for f in SCALING_FRACTIONS))


def run_all(args: argparse.Namespace, ref_commit: Optional[str]) -> int:
    env = load_step.environment(args.backends, ref_commit)
    print(f"date:     {env['date']}")
    print(f"command:  {env['command']}")
    print(f"machine:  {env['machine']}, Python {env['python']}")
    print(f"package:  dlt-sqlalchemy {env['dlt_sqlalchemy']}, from {env['dlt_sqlalchemy_path']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    for backend, version in env["servers"].items():
        print(f"server:   {backend}: {version}")
    options = ", ".join(
        f"{k}={v}"
        for k, v in (
            ("create_primary_keys", args.keys),
            ("create_unique_indexes", args.unique_indexes),
            ("create_merge_indexes (ours)", args.merge_indexes),
        )
    )
    print(
        f"rows:     {args.in_rows:,} merged into {args.dest_rows:,}, {args.repeat} timed load(s)"
        f" per case; timed run format {args.format or 'default'}, first run {args.fill_format};"
        f" {options}"
    )
    print()

    work = Path(tempfile.mkdtemp(prefix="dlt_sqla_merge_bench_"))
    bench = Bench(args, work)
    broken: Dict[Tuple[str, str], str] = {}
    started = time.perf_counter()
    try:
        if not args.no_warmup:
            for backend in args.backends:
                for destination in args.destinations:
                    reason = warm_up(bench, backend, destination)
                    if reason:
                        broken[(backend, destination)] = reason
        for strategy in args.strategies:
            for case in args.cases:
                reason = not_applicable(strategy, case)
                if reason:
                    for backend in args.backends:
                        for destination in args.destinations:
                            bench.na[("matrix", backend, strategy, case, destination)] = reason
                    continue
                for backend in args.backends:
                    run_combination(
                        bench, "matrix", backend, strategy, case, [args.in_rows], broken
                    )
                # a first run is shared between backends, not between strategies or cases (the
                # flat ones of --scaling come back later)
                bench.drop_donors(
                    lambda key: args.scaling and key[2] == "flat" and key[1] in SCALING_STRATEGIES
                )
        if args.scaling:
            for strategy in [s for s in SCALING_STRATEGIES if s in args.strategies] or list(
                SCALING_STRATEGIES
            ):
                for backend in args.backends:
                    run_combination(
                        bench,
                        "scaling",
                        backend,
                        strategy,
                        "flat",
                        scaling_rows(args.dest_rows),
                        broken,
                    )
    finally:
        bench.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started

    summary = summarize(bench)
    matrix = comparison(summary, "matrix")
    scaling = comparison(summary, "scaling")
    print()
    print(detail_table(summary, "matrix"))
    print()
    print(comparison_table(matrix))
    if args.scaling:
        print(f"\nscaling: flat, incoming rows into {args.dest_rows:,} rows")
        print(detail_table(summary, "scaling"))
        print()
        print(scaling_table(scaling, args.dest_rows))
    na = sorted({reason for reason in bench.na.values()})
    if na:
        print("\nn/a: " + "; ".join(na))
    notes = failure_notes(summary)
    if notes:
        print("\nfailed:\n" + "\n".join(notes))
    print(f"\ntotal wall time {total:.0f} s (including untimed first runs, clones and warm-ups)")
    loads = [r.load_average for r in bench.runs if r.phase == "timed" and r.load_average]
    if loads:
        cores = os.cpu_count() or 1
        busy = max(loads) > cores
        print(
            f"1-minute load average at the start of the timed loads: {min(loads):.2f} to"
            f" {max(loads):.2f} on {cores} cores (this benchmark accounts for about 1)"
            + (": other work was competing for the CPU, timings are noisier" if busy else "")
        )

    for r in bench.runs:
        if r.error_detail and r.destination == "ours" and not r.check_failed:
            print(
                f"\n--- ours failed on {r.label()} ({r.phase}) ---\n{r.error_detail}",
                file=sys.stderr,
            )
    exit_code = 0
    wrong = [r for r in bench.runs if r.check_failed]
    if wrong:
        exit_code = 1
        print("\nERROR: a merge left wrong rows:", file=sys.stderr)
        for r in wrong:
            print(f"  {r.label()}: {r.error}", file=sys.stderr)
    if args.json:
        out = {
            "environment": env,
            "dest_rows": args.dest_rows,
            "in_rows": args.in_rows,
            "repeat": args.repeat,
            "options": {
                "format": args.format,
                "fill_format": args.fill_format,
                "keys": args.keys,
                "unique_indexes": args.unique_indexes,
                "merge_indexes": args.merge_indexes,
                "share": not args.no_share,
            },
            "total_seconds": total,
            "summary": summary,
            "comparison": matrix,
            "scaling": scaling,
            "not_applicable": [{"key": list(k), "reason": v} for k, v in bench.na.items()],
            "runs": [asdict(r) for r in bench.runs],
        }
        Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"raw timings written to {args.json}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
