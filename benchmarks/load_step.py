"""Times dlt's load step: dlt-sqlalchemy ("ours") against dlt's built-in sqlalchemy destination.

Both destinations load the same rows, on the same databases, in one run of this script. For
every backend, file format and destination, each repetition makes a fresh pipeline (its own
name, working directory and dataset), runs `extract` and `normalize` untimed, and then times
`pipeline.load()` alone with `time.perf_counter`. While the load runs, a background thread reads
VmRSS from /proc/self/status every 10 ms; the peak minus the RSS just before the load is the
"peak RSS growth". After the load the script counts the rows in the destination through an
engine of its own and fails the run if any row is missing. Then the dataset is dropped.

Before the timed runs, each backend + format + destination does one untimed warm-up load of a
few rows, so that lazy imports (drivers, dialects, pyarrow) and first connections are not
billed to the first timed run. A destination that fails there, or in a timed run, is reported
as `FAILED: <reason>` and the script carries on.

    .venv/bin/python benchmarks/load_step.py --rows 100000 --repeat 3
    .venv/bin/python benchmarks/load_step.py --backends sqlite,postgresql --formats parquet
    .venv/bin/python benchmarks/load_step.py --json timings.json
    .venv/bin/python benchmarks/load_step.py --drivers all --formats typed-jsonl,parquet

`--drivers` runs the two servers through each named driver (`postgresql+pg8000`,
`mysql+mysqlconnector`, ...; `all` for every one) instead of `--backends`: ours and the built-in
load the same rows through the same driver, and the speed-up is per driver. Rows are counted
through the server's default driver either way.

Servers: `DLT_SQLA_TEST_POSTGRESQL_URL` and `DLT_SQLA_TEST_MARIADB_URL` override the default
URLs (the same ones the test suite uses). SQLite and DuckDB files live in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import decimal
import gc
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

# no network calls from a benchmark: dlt's anonymous telemetry stays off unless asked for
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
import sqlalchemy as sa

# `dlt_sqlalchemy` is imported in `make_destination`, after `--ref` may have put a snapshot of
# the package first on sys.path

TABLE = "bench_rows"
BACKENDS = ("sqlite", "postgresql", "mariadb", "duckdb")
# the driver axis: `backend+driver` of a URL, and the server it loads into
DRIVERS = {
    "postgresql+psycopg": "postgresql",
    "postgresql+psycopg2": "postgresql",
    "postgresql+pg8000": "postgresql",
    "mysql+mysqldb": "mariadb",
    "mysql+pymysql": "mariadb",
    "mysql+mysqlconnector": "mariadb",
    "mariadb+mariadbconnector": "mariadb",
}
FORMATS = ("typed-jsonl", "parquet")
DESTINATIONS = ("ours", "built-in")
SERVER_URLS = {
    "postgresql": os.environ.get(
        "DLT_SQLA_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "DLT_SQLA_TEST_MARIADB_URL", "mysql+mysqldb://root@127.0.0.1:3306/test"
    ),
}
WARMUP_ROWS = 1_000
PAGE_ROWS = 10_000  # rows per item the resource yields
RSS_SAMPLE_SECONDS = 0.01
REPO_ROOT = Path(__file__).resolve().parent.parent

# --- the data ---------------------------------------------------------------------------------

COLUMNS: Dict[str, Dict[str, Any]] = {
    "id": {"data_type": "bigint", "nullable": False},
    "name": {"data_type": "text", "nullable": False},
    "note": {"data_type": "text", "nullable": True},
    "score": {"data_type": "double", "nullable": True},
    "active": {"data_type": "bool", "nullable": False},
    "created_at": {"data_type": "timestamp", "timezone": True, "nullable": False},
    "local_at": {"data_type": "timestamp", "timezone": False, "nullable": False},
    "day": {"data_type": "date", "nullable": False},
    "price": {"data_type": "decimal", "precision": 18, "scale": 4, "nullable": False},
    "attrs": {"data_type": "json", "nullable": True},
}
NOTES = (
    "plain ascii text",
    "tab\tseparated\tvalues",
    'double "quoted" words',
    "single 'quoted' words, it's",
    "back\\slash and a new\nline",
    "café ☕ naïve Zürich 日本語 😀",
    "mixed\t\"both\" 'quotes' — ümlaut ß",
    "",
)
UTC_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
NAIVE_START = dt.datetime(2024, 6, 1, 8, 30)
DAY_START = dt.date(2000, 1, 1)


def make_row(i: int) -> Dict[str, Any]:
    """Row `i`: a pure function of `i`, so every run loads the very same data."""
    gap = i % 17 == 0  # every 17th row has NULLs in the nullable columns
    return {
        "id": 10_000_000_000 + i,
        "name": f"user_{i:07d}",
        "note": None if gap else f"{NOTES[i % len(NOTES)]} #{i}",
        "score": None if gap else (i * 7919 % 100_003) / 7.0 - 5_000.0,
        "active": i % 3 == 0,
        "created_at": UTC_START + dt.timedelta(seconds=i * 37, microseconds=i * 131 % 1_000_000),
        "local_at": NAIVE_START + dt.timedelta(minutes=i),
        "day": DAY_START + dt.timedelta(days=i % 20_000),
        "price": decimal.Decimal(i * 12_345 % 100_000_000).scaleb(-4),
        "attrs": None
        if gap
        else {"i": i, "tags": ["red", "green", "blue"][: i % 4], "ok": i % 2 == 0, "r": i / 8},
    }


def bench_resource(rows: int) -> Any:
    @dlt.resource(name=TABLE, columns=COLUMNS, write_disposition="append")
    def bench_rows() -> Iterator[List[Dict[str, Any]]]:
        for start in range(0, rows, PAGE_ROWS):
            yield [make_row(i) for i in range(start, min(rows, start + PAGE_ROWS))]

    return bench_rows


def expected_id_sum(rows: int) -> int:
    return 10_000_000_000 * rows + rows * (rows - 1) // 2


# --- backends ---------------------------------------------------------------------------------


@dataclass
class Target:
    """Where one run loads: the destination URL and how to check and drop what it wrote."""

    backend: str
    url: str
    dataset: str
    run_dir: Path
    check_url: Optional[str] = None
    """The server's default driver, to count and drop with when `url` names another driver."""

    def count_and_sum(self) -> Tuple[int, int]:
        """COUNT(*) and SUM(id) of the loaded table, read through an engine of our own."""
        if self.backend == "sqlite":
            # one file per dataset next to the main file: <stem>__<dataset>.db
            main = Path(sa.make_url(self.url).database or "")
            url = f"sqlite:///{main.with_name(f'{main.stem}__{self.dataset}{main.suffix}')}"
            schema = None
        else:
            url, schema = self.check_url or self.url, self.dataset
        engine = sa.create_engine(url)
        try:
            table = sa.table(TABLE, sa.column("id"), schema=schema)
            query = sa.select(sa.func.count(), sa.func.sum(table.c.id)).select_from(table)
            with engine.connect() as conn:
                count, total = conn.execute(query).one()
            return int(count), int(total or 0)
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.backend in ("postgresql", "mariadb"):
            engine = sa.create_engine(self.check_url or self.url)
            try:
                with engine.begin() as conn:
                    for name in (self.dataset, f"{self.dataset}_staging"):
                        conn.execute(
                            sa.schema.DropSchema(
                                name, cascade=self.backend == "postgresql", if_exists=True
                            )
                        )
            finally:
                engine.dispose()
        # SQLite and DuckDB files live in the run's directory, removed by the caller


def make_target(backend: str, work_dir: Path, run_id: str) -> Target:
    run_dir = work_dir / f"run_{run_id}"
    run_dir.mkdir(parents=True)
    dataset = f"bench_{run_id}"
    if backend == "sqlite":
        url = f"sqlite:///{run_dir / 'bench.db'}"
    elif backend == "duckdb":
        url = f"duckdb:///{run_dir / 'bench.duckdb'}"
    elif backend in DRIVERS:
        server = DRIVERS[backend]
        check_url = SERVER_URLS[server]
        url = sa.make_url(check_url).set(drivername=backend).render_as_string(hide_password=False)
        return Target(server, url, dataset, run_dir, check_url)
    else:
        url = SERVER_URLS[backend]
    return Target(backend, url, dataset, run_dir)


def make_destination(name: str, url: str) -> Any:
    if name == "ours":
        from dlt_sqlalchemy import sqlalchemy as ours_destination

        return ours_destination(url)
    return dlt.destinations.sqlalchemy(url)


def server_version(backend: str) -> str:
    backend = DRIVERS.get(backend, backend)
    if backend not in SERVER_URLS:
        return ""
    try:
        engine = sa.create_engine(SERVER_URLS[backend])
        try:
            with engine.connect() as conn:
                return str(conn.exec_driver_sql("SELECT version()").scalar())
        finally:
            engine.dispose()
    except Exception as ex:  # reported, not fatal: the runs on it will say FAILED
        return f"unreachable ({short_reason(ex)})"


# --- measuring --------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """Peak RSS above the RSS at start, sampled every 10 ms in a background thread."""

    def __init__(self) -> None:
        self.available = os.path.exists("/proc/self/status")
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_SECONDS):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        if self.available:
            self.baseline = self.peak = rss_bytes()
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.available:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, rss_bytes())

    @property
    def growth_mb(self) -> Optional[float]:
        return (self.peak - self.baseline) / 2**20 if self.available else None


def release_free_memory() -> None:
    """Collects garbage and returns freed heap to the OS, so the RSS baseline is a fair one."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: a less tight baseline
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def short_reason(ex: BaseException) -> str:
    """The innermost cause of an exception, as `Type: first line`, at most 160 characters."""
    root = ex
    seen = {id(root)}
    while True:
        nxt = root.__cause__ or root.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        root = nxt
    lines = [line.strip() for line in str(root).splitlines() if line.strip()]
    text = f"{type(root).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass
class Run:
    backend: str
    format: str
    destination: str
    rows: int
    repeat: int  # 0-based; -1 is the warm-up
    seconds: Optional[float] = None
    cpu_seconds: Optional[float] = None  # CPU time of this process (all threads) during load()
    peak_rss_growth_mb: Optional[float] = None
    load_average: Optional[float] = None  # 1-minute load average when the load started
    load_path: Optional[str] = None  # ours: how the table's file was loaded (job metrics)
    extract_seconds: Optional[float] = None  # untimed steps, measured for the end-to-end view
    normalize_seconds: Optional[float] = None
    error: Optional[str] = None
    error_detail: Optional[str] = None
    rows_missing: bool = False  # load() returned, but the table does not hold every row


class LoadCheckFailed(Exception):
    pass


def load_path_of(info: Any) -> Optional[str]:
    """The load path that ours records in the job metrics (`remote_url` = `load-path:<name>`)."""
    paths = set()
    for package_metrics in info.metrics.values():
        for step in package_metrics:
            for job in step.get("job_metrics", {}).values():
                url = getattr(job, "remote_url", None) or ""
                if job.table_name == TABLE and url.startswith("load-path:"):
                    paths.add(url.split(":", 1)[1])
    return ",".join(sorted(paths)) or None


def one_run(
    backend: str, fmt: str, destination: str, rows: int, repeat: int, work_dir: Path
) -> Run:
    run = Run(backend, fmt, destination, rows, repeat)
    run_id = uuid.uuid4().hex[:10]
    target = make_target(backend, work_dir, run_id)
    pipeline: Any = None
    try:
        pipeline = dlt.pipeline(
            pipeline_name=f"bench_{backend}_{destination.replace('-', '_')}_{run_id}",
            destination=make_destination(destination, target.url),
            dataset_name=target.dataset,
            pipelines_dir=str(target.run_dir / "pipelines"),
        )
        # not part of the load step: extract and normalize into a load package in the chosen
        # file format (measured apart, for the end-to-end `pipeline.run()` view)
        started = time.perf_counter()
        pipeline.extract(bench_resource(rows), loader_file_format=fmt)
        run.extract_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pipeline.normalize()
        run.normalize_seconds = time.perf_counter() - started
        release_free_memory()
        # timed: the load step only
        run.load_average = os.getloadavg()[0]
        with RssSampler() as rss:
            cpu_started = time.process_time()
            started = time.perf_counter()
            info = pipeline.load()
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
        if info.has_failed_jobs:
            raise LoadCheckFailed(f"load reported failed jobs: {info.asstr()}")
        count, id_sum = target.count_and_sum()
        if count != rows or id_sum != expected_id_sum(rows):
            raise LoadCheckFailed(
                f"{TABLE} holds {count} rows (SUM(id) {id_sum}) after load(), expected {rows}"
                f" (SUM(id) {expected_id_sum(rows)})"
            )
        run.load_path = load_path_of(info)
        run.seconds = seconds
        run.cpu_seconds = cpu_seconds
        run.peak_rss_growth_mb = rss.growth_mb
    except Exception as ex:  # one destination failing on one backend must not stop the others
        if isinstance(ex, LoadCheckFailed):
            run.rows_missing = True
            print(f"ERROR: {backend}/{fmt}/{destination}: {ex}", file=sys.stderr, flush=True)
        run.error = short_reason(ex)
        run.error_detail = "".join(traceback.format_exception(ex))
    finally:
        try:
            target.drop()
        except Exception as ex:
            print(
                f"  warning: could not drop {target.dataset}: {short_reason(ex)}", file=sys.stderr
            )
        del pipeline
        gc.collect()
        shutil.rmtree(target.run_dir, ignore_errors=True)
    return run


# --- reporting --------------------------------------------------------------------------------


def median_seconds(runs: List[Run]) -> Optional[float]:
    times = [r.seconds for r in runs if r.seconds is not None]
    return statistics.median(times) if times else None


def summarize(runs: List[Run], keys: List[Tuple[str, str, str]]) -> List[Dict[str, Any]]:
    rows = []
    for backend, fmt, destination in keys:
        mine = [
            r for r in runs if (r.backend, r.format, r.destination) == (backend, fmt, destination)
        ]
        timed = [r for r in mine if r.repeat >= 0]
        failed = next((r.error for r in mine if r.error), None)
        entry: Dict[str, Any] = {
            "backend": backend,
            "format": fmt,
            "destination": destination,
            "load_path": ",".join(sorted({r.load_path for r in timed if r.load_path})) or None,
            "runs": len([r for r in timed if r.seconds is not None]),
            "failed": failed,
        }
        med = median_seconds(timed)
        if med is not None and failed is None:
            n = timed[0].rows
            growth = [r.peak_rss_growth_mb for r in timed if r.peak_rss_growth_mb is not None]
            cpu = [r.cpu_seconds for r in timed if r.cpu_seconds is not None]
            # what `pipeline.run()` would take: extract + normalize + load of each run
            end_to_end = [
                (r.extract_seconds or 0.0) + (r.normalize_seconds or 0.0) + r.seconds
                for r in timed
                if r.seconds is not None and r.normalize_seconds is not None
            ]
            entry.update(
                median_end_to_end_s=statistics.median(end_to_end) if end_to_end else None,
                median_s=med,
                min_s=min(r.seconds for r in timed if r.seconds is not None),
                max_s=max(r.seconds for r in timed if r.seconds is not None),
                rows_per_s=n / med,
                median_cpu_s=statistics.median(cpu) if cpu else None,
                peak_rss_growth_mb=statistics.median(growth) if growth else None,
            )
        rows.append(entry)
    return rows


def speedups(summary: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """built-in median / ours median per backend + format: above 1 means ours is faster."""
    out: List[Dict[str, Any]] = []
    pairs = list(dict.fromkeys((s["backend"], s["format"]) for s in summary))
    for backend, fmt in pairs:
        by_dest = {
            s["destination"]: s for s in summary if (s["backend"], s["format"]) == (backend, fmt)
        }
        ours, builtin = by_dest.get("ours", {}), by_dest.get("built-in", {})
        ratio = None
        if ours.get("median_s") and builtin.get("median_s"):
            ratio = builtin["median_s"] / ours["median_s"]
        failed = [name for name, s in (("ours", ours), ("built-in", builtin)) if s.get("failed")]
        out.append(
            {
                "backend": backend,
                "format": fmt,
                "ours_s": ours.get("median_s"),
                "built_in_s": builtin.get("median_s"),
                "speedup": ratio,
                "note": " and ".join(failed) + " FAILED" if failed else "",
            }
        )
    return out


def render_table(header: List[str], rows: List[List[str]], right: Set[int]) -> str:
    """Aligned text table. A row shorter than the header ends in one cell that spans the rest
    (used for `FAILED: reason`), left-aligned and not counted in the column widths."""
    full = [r for r in rows if len(r) == len(header)]
    widths = [max([len(h)] + [len(r[i]) for r in full]) for i, h in enumerate(header)]

    def fmt_row(cells: List[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            if len(cells) < len(header) and i == len(cells) - 1:
                parts.append(cell)
            elif i in right:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    lines = [fmt_row(header), fmt_row(["-" * w for w in widths])]
    lines += [fmt_row(r) for r in rows]
    return "\n".join(lines)


def num(value: Optional[float], pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def results_tables(summary: List[Dict[str, Any]], ratios: List[Dict[str, Any]]) -> str:
    body = []
    for s in summary:
        label = s["destination"] + (f" ({s['load_path']})" if s["load_path"] else "")
        head = [s["backend"], s["format"], label]
        if s["failed"]:
            body.append([*head, f"FAILED: {s['failed']}"])
        else:
            body.append(
                [
                    *head,
                    num(s["median_s"], ".3f"),
                    f"{num(s['min_s'], '.3f')}-{num(s['max_s'], '.3f')}",
                    num(s["rows_per_s"], ",.0f"),
                    num(s["median_cpu_s"], ".3f"),
                    num(s["peak_rss_growth_mb"], ".1f"),
                    str(s["runs"]),
                    num(s.get("median_end_to_end_s"), ".1f"),
                ]
            )
    main = render_table(
        [
            "backend",
            "format",
            "destination",
            "median s",
            "min-max s",
            "rows/s",
            "client CPU s",
            "peak RSS +MB",
            "runs",
            "run() s",
        ],
        body,
        right={3, 4, 5, 6, 7, 8, 9},
    )
    ratio_rows = [
        [
            r["backend"],
            r["format"],
            num(r["ours_s"], ".3f"),
            num(r["built_in_s"], ".3f"),
            f"{r['speedup']:.2f}x" if r["speedup"] else f"n/a ({r['note'] or 'not run'})",
        ]
        for r in ratios
    ]
    second = render_table(
        ["backend", "format", "ours median s", "built-in median s", "speed-up (built-in/ours)"],
        ratio_rows,
        right={2, 3},
    )
    return f"{main}\n\n{second}"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def snapshot_package(ref: str, into: Path) -> str:
    """Extracts `src/` as committed in `ref` into `into` and puts it first on sys.path, so the
    benchmark measures that commit, not a working tree other people are editing meanwhile."""
    commit = git("rev-parse", "--short", f"{ref}^{{commit}}")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse odd members
            tar.extractall(into, filter="data")
        else:  # our own repository's archive
            tar.extractall(into)
    if "dlt_sqlalchemy" in sys.modules:
        raise RuntimeError("dlt_sqlalchemy was imported before the snapshot was put on sys.path")
    sys.path.insert(0, str(into / "src"))
    return commit


def git_state(ref_commit: Optional[str]) -> str:
    if ref_commit:
        return f"{ref_commit} (snapshot of the commit, --ref)"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # what is measured is the working tree: name uncommitted changes in src/ by a digest
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--", "src"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
        untracked = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "--", "src"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        digest = hashlib.sha1(diff)
        for name in untracked:
            digest.update(name.encode() + b"\0" + (REPO_ROOT / name).read_bytes())
        if not diff and not untracked:
            return head
        return f"{head} + uncommitted changes in src/, digest {digest.hexdigest()[:10]}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment(backends: List[str], ref_commit: Optional[str]) -> Dict[str, Any]:
    import dlt_sqlalchemy

    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "dlt_sqlalchemy": f"{package_version('dlt-sqlalchemy')} (git {git_state(ref_commit)})",
        "dlt_sqlalchemy_path": str(Path(dlt_sqlalchemy.__file__).parent),
        "versions": {
            name: package_version(name)
            for name in (
                "dlt",
                "SQLAlchemy",
                "psycopg",
                "psycopg2-binary",
                "pg8000",
                "mysqlclient",
                "PyMySQL",
                "mysql-connector-python",
                "mariadb",
                "duckdb",
                "duckdb_engine",
                "pyarrow",
            )
        }
        | {"sqlite3 (library)": sqlite3.sqlite_version},
        "servers": {
            server: server_version(server)
            for server in dict.fromkeys(DRIVERS.get(b, b) for b in backends)
            if server in SERVER_URLS
        },
    }


# --- main -------------------------------------------------------------------------------------


def parse_list(value: str, allowed: Tuple[str, ...], what: str) -> List[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)}; use {allowed}")
    return items


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows to load (100000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed loads per case (3)")
    parser.add_argument(
        "--backends",
        type=lambda v: parse_list(v, BACKENDS, "backend"),
        default=list(BACKENDS),
        help=f"comma-separated, from {','.join(BACKENDS)} (all)",
    )
    parser.add_argument(
        "--formats",
        type=lambda v: parse_list(v, FORMATS, "format"),
        default=["typed-jsonl"],
        help=f"comma-separated, from {','.join(FORMATS)} (typed-jsonl)",
    )
    parser.add_argument(
        "--destinations",
        type=lambda v: parse_list(v, DESTINATIONS, "destination"),
        default=list(DESTINATIONS),
        help="comma-separated, from ours,built-in (both)",
    )
    parser.add_argument(
        "--drivers",
        type=lambda v: list(DRIVERS) if v == "all" else parse_list(v, tuple(DRIVERS), "driver"),
        default=[],
        help=f"comma-separated, from {','.join(DRIVERS)}, or `all`: run these drivers of the two"
        " servers instead of --backends",
    )
    parser.add_argument("--json", metavar="PATH", help="write environment and raw timings here")
    parser.add_argument(
        "--ref",
        metavar="COMMIT",
        help="benchmark dlt_sqlalchemy as committed in COMMIT (e.g. HEAD) instead of the working"
        " tree: its src/ is extracted to a temporary directory that goes first on sys.path",
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up load")
    args = parser.parse_args(argv)
    if args.drivers:
        args.backends = args.drivers
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")

    snapshot_dir = Path(tempfile.mkdtemp(prefix="dlt_sqla_bench_src_"))
    try:
        ref_commit = snapshot_package(args.ref, snapshot_dir) if args.ref else None
        return run_all(args, ref_commit)
    finally:
        shutil.rmtree(snapshot_dir, ignore_errors=True)


def run_all(args: argparse.Namespace, ref_commit: Optional[str]) -> int:
    env = environment(args.backends, ref_commit)
    print(f"date:     {env['date']}")
    print(f"command:  {env['command']}")
    print(f"machine:  {env['machine']}, Python {env['python']}")
    print(f"package:  dlt-sqlalchemy {env['dlt_sqlalchemy']}, from {env['dlt_sqlalchemy_path']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    for backend, version in env["servers"].items():
        print(f"server:   {backend}: {version}")
    print(f"rows:     {args.rows:,} x {len(COLUMNS)} columns, {args.repeat} timed load(s) per case")
    print()

    work_dir = Path(tempfile.mkdtemp(prefix="dlt_sqla_bench_"))
    runs: List[Run] = []
    keys: List[Tuple[str, str, str]] = []
    started = time.perf_counter()
    try:
        for backend in args.backends:
            for fmt in args.formats:
                cases = [(backend, fmt, d) for d in args.destinations]
                keys += cases
                broken: Dict[str, str] = {}
                if not args.no_warmup:
                    for _, _, destination in cases:
                        warm = one_run(backend, fmt, destination, WARMUP_ROWS, -1, work_dir)
                        runs.append(warm)
                        if warm.error:
                            broken[destination] = warm.error
                            print(
                                f"{backend:<10} {fmt:<11} {destination:<8} warm-up FAILED:"
                                f" {warm.error}",
                                flush=True,
                            )
                for repeat in range(args.repeat):
                    # alternate the order so that drift (caches, server state) hits both sides
                    order = args.destinations if repeat % 2 == 0 else args.destinations[::-1]
                    for destination in order:
                        if destination in broken:
                            continue
                        run = one_run(backend, fmt, destination, args.rows, repeat, work_dir)
                        runs.append(run)
                        if run.error:
                            broken[destination] = run.error
                            status = f"FAILED: {run.error}"
                        else:
                            status = (
                                f"{run.seconds:.3f} s, CPU {num(run.cpu_seconds, '.3f')} s,"
                                f" peak RSS +{num(run.peak_rss_growth_mb, '.1f')} MB,"
                                f" load average {num(run.load_average, '.2f')}"
                                + (f", load path {run.load_path}" if run.load_path else "")
                            )
                        print(
                            f"{backend:<10} {fmt:<11} {destination:<8} #{repeat + 1}: {status}",
                            flush=True,
                        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    total = time.perf_counter() - started

    summary = summarize(runs, keys)
    ratios = speedups(summary)
    print()
    print(results_tables(summary, ratios))
    print(f"\ntotal wall time {total:.0f} s (including untimed extract/normalize and warm-ups)")
    loads = [r.load_average for r in runs if r.repeat >= 0 and r.load_average is not None]
    if loads:
        cores = os.cpu_count() or 1
        # this benchmark accounts for about 1 (plus a server working for it)
        busy = max(loads) > cores
        print(
            f"1-minute load average at the start of the timed loads: {min(loads):.2f} to"
            f" {max(loads):.2f} on {cores} cores (this benchmark accounts for about 1)"
            + (": other work was competing for the CPU, timings are noisier" if busy else "")
        )

    failures = [r for r in runs if r.error]
    for r in failures:
        if r.destination == "ours":
            print(
                f"\n--- ours failed on {r.backend}/{r.format} ---\n{r.error_detail}",
                file=sys.stderr,
            )
    exit_code = 0
    missing = [r for r in runs if r.rows_missing]
    if missing:
        exit_code = 1
        print("\nERROR: load() returned without loading every row:", file=sys.stderr)
        for r in missing:
            print(f"  {r.backend}/{r.format}/{r.destination}: {r.error}", file=sys.stderr)
    if args.json:
        out = {
            "environment": env,
            "rows": args.rows,
            "repeat": args.repeat,
            "summary": summary,
            "speedups": ratios,
            "runs": [asdict(r) for r in runs],
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"raw timings written to {args.json}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
