"""Times dataset reads: `pipeline.dataset()[table].arrow()`, ours against dlt's built-in.

For every backend the script loads the benchmark table of `load_step.py` once (ours, parquet),
then reads the very same table through a pipeline of each destination on the same database and
dataset: one untimed warm-up read of 1,000 rows, then `--repeat` timed `.arrow()` reads of the
whole table (`time.perf_counter`), each checked for its row count. It prints the medians, the
ratio built-in / ours, the Arrow reader ours used and the peak RSS growth of a read.

    .venv/bin/python benchmarks/read_step.py                     # 1,000,000 rows, 3 reads
    .venv/bin/python benchmarks/read_step.py --rows 100000 --backends sqlite,postgresql
    .venv/bin/python benchmarks/read_step.py --json reads.json

Servers and files as in `load_step.py` (`DLT_SQLA_TEST_POSTGRESQL_URL`,
`DLT_SQLA_TEST_MARIADB_URL`; SQLite and DuckDB files in a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_step import (  # the sibling script, found through the path set above
    BACKENDS,
    TABLE,
    RssSampler,
    Target,
    bench_resource,
    make_destination,
    make_target,
    release_free_memory,
    render_table,
    short_reason,
)

DESTINATIONS = ("ours", "built-in")


def load_once(target: Target, rows: int, work_dir: Path) -> dlt.Pipeline:
    """The benchmark table, loaded by ours (parquet: the fastest load on every backend)."""
    pipeline = dlt.pipeline(
        pipeline_name=f"read_load_{uuid.uuid4().hex[:8]}",
        destination=make_destination("ours", target.url),
        dataset_name=target.dataset,
        pipelines_dir=str(work_dir / "pipelines"),
    )
    pipeline.run(bench_resource(rows), loader_file_format="parquet")
    count, _ = target.count_and_sum()
    if count != rows:
        raise RuntimeError(f"loaded {count} rows, expected {rows}")
    return pipeline


def reader_pipeline(destination: str, target: Target, work_dir: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"read_{destination.replace('-', '_')}_{uuid.uuid4().hex[:8]}",
        destination=make_destination(destination, target.url),
        dataset_name=target.dataset,
        pipelines_dir=str(work_dir / "pipelines"),
    )


def used_reader() -> List[str]:
    """Records which Arrow reader ours used (for the table)."""
    from dlt_sqlalchemy.reads.cursor import DeferredCursor

    used: List[str] = []
    original = DeferredCursor._open

    def recording(self: Any, reader: Any, target: Any) -> Any:
        opened = original(self, reader, target)
        if opened is not None:
            used.append(reader.name)
        return opened

    DeferredCursor._open = recording  # type: ignore[method-assign]
    return used


def time_reads(relation: Any, rows: int, repeat: int) -> Dict[str, Any]:
    warm = relation.limit(1_000).arrow()
    if warm is None or warm.num_rows != min(1_000, rows):
        raise RuntimeError("the warm-up read returned the wrong number of rows")
    seconds: List[float] = []
    peaks: List[float] = []
    for _ in range(repeat):
        release_free_memory()
        with RssSampler() as rss:
            start = time.perf_counter()
            table = relation.arrow()
            seconds.append(time.perf_counter() - start)
        if table is None or table.num_rows != rows:
            raise RuntimeError(f"read {0 if table is None else table.num_rows} rows of {rows}")
        del table
        if rss.growth_mb is not None:
            peaks.append(rss.growth_mb)
    return {
        "seconds": seconds,
        "median": statistics.median(seconds),
        "peak_rss_mb": max(peaks) if peaks else None,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to read (1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed reads per case (3)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma separated")
    parser.add_argument("--json", metavar="PATH", help="write every timing here")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    recorded = used_reader()
    results: List[Dict[str, Any]] = []
    work_dir = Path(tempfile.mkdtemp(prefix="dlt_sqla_read_bench_"))
    try:
        for backend in backends:
            run_id = uuid.uuid4().hex[:8]
            target = make_target(backend, work_dir, run_id)
            try:
                loaded = load_once(target, args.rows, work_dir)
            except Exception as ex:
                print(f"{backend}: load FAILED: {short_reason(ex)}", flush=True)
                continue
            schema = loaded.default_schema
            try:
                for destination in DESTINATIONS:
                    recorded.clear()
                    pipeline = reader_pipeline(destination, target, work_dir)
                    relation = pipeline.dataset(schema=schema)[TABLE]
                    try:
                        timing = time_reads(relation, args.rows, args.repeat)
                        timing["reader"] = recorded[-1] if recorded else "-"
                    except Exception as ex:
                        timing = {"error": short_reason(ex)}
                    results.append({"backend": backend, "destination": destination, **timing})
                    shown = timing.get("median")
                    print(
                        f"{backend} {destination}: "
                        + (f"{shown:.2f} s" if shown is not None else f"FAILED {timing['error']}"),
                        flush=True,
                    )
            finally:
                target.drop()
                shutil.rmtree(target.run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    print()
    print(f"`.arrow()` of {args.rows:,} rows, median of {args.repeat} reads")
    print()
    header = [
        "backend",
        "ours",
        "built-in",
        "built-in / ours",
        "ours' reader",
        "peak RSS ours",
        "peak RSS built-in",
    ]
    rows: List[List[str]] = []
    for backend in backends:
        by = {r["destination"]: r for r in results if r["backend"] == backend}
        ours, builtin = by.get("ours", {}), by.get("built-in", {})
        o, b = ours.get("median"), builtin.get("median")
        rows.append(
            [
                backend,
                f"{o:.2f} s" if o is not None else "failed",
                f"{b:.2f} s" if b is not None else "failed",
                f"{b / o:.1f}x" if o and b else "-",
                str(ours.get("reader", "-")),
                _mb(ours.get("peak_rss_mb")),
                _mb(builtin.get("peak_rss_mb")),
            ]
        )
    print(render_table(header, rows, {1, 2, 3, 5, 6}))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": args.rows, "runs": results}, indent=2))
    return 0


def _mb(value: Optional[float]) -> str:
    return f"{value:.0f} MB" if value is not None else "-"


if __name__ == "__main__":
    sys.exit(main())
