"""Times what users time: `pipeline.run()` = extract + normalize + load, ours against the built-in.

`load_step.py` times the load step alone, for a file format chosen for both destinations. Users
run pipelines with each destination's own default format (ours: parquet where pyarrow is
installed; dlt's built-in `dlt.destinations.sqlalchemy`: typed-jsonl), so this script compares

- `ours (default)`: our destination, no `loader_file_format` given (what a user gets);
- `built-in (default)`: dlt's built-in destination, no `loader_file_format` given;
- with `--formats`, both destinations with each format named explicitly as well;

on the same rows (`load_step.py`'s 10-column table), in one run. Each repetition is a fresh
pipeline and dataset: `extract`, `normalize` and `load` timed apart with `time.perf_counter`
(their sum is the `run()` column; calling the steps one by one is what `run()` does), the peak
RSS growth of the load step sampled every 10 ms, and the loaded rows counted and summed
afterwards. Then `raw_reference.py`'s raw bulk operation of each backend on the same rows, in
the same process, as the floor the load step can approach. Medians are printed.

    .venv/bin/python benchmarks/pipeline_run.py --rows 1000000 --repeat 3
    .venv/bin/python benchmarks/pipeline_run.py --rows 100000 --backends sqlite,postgresql
    .venv/bin/python benchmarks/pipeline_run.py --formats typed-jsonl,parquet --json run.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_step
import raw_reference

DEFAULT = "default"  # no loader_file_format: the destination's preferred one


def default_format(destination: str) -> str:
    """The file format a destination prefers here (ours: parquet where pyarrow is installed)."""
    factory = load_step.make_destination(destination, "sqlite:///:memory:")
    return str(factory.capabilities().preferred_loader_file_format)


def cases(formats: List[str], destinations: List[str]) -> List[Tuple[str, str]]:
    """(destination, format) pairs: each destination's default first, then the explicit
    formats that are not already its default (the same run twice would only add time)."""
    defaults = {d: default_format(d) for d in destinations}
    explicit = [(d, f) for f in formats for d in destinations if f != defaults[d]]
    return [(d, DEFAULT) for d in destinations] + explicit


def one_case(
    backend: str, destination: str, fmt: str, rows: int, repeat: int, work: Path
) -> List[load_step.Run]:
    # untimed: lazy imports (pyarrow, drivers) and first connections are not billed to run 1
    load_step.one_run(
        backend,
        None if fmt == DEFAULT else fmt,
        destination,
        load_step.WARMUP_ROWS,
        -1,
        work,  # type: ignore[arg-type]
    )
    runs = []
    for i in range(repeat):
        # `one_run` passes the format to extract(); None there means the destination's default
        run = load_step.one_run(
            backend,
            None if fmt == DEFAULT else fmt,
            destination,
            rows,
            i,
            work,  # type: ignore[arg-type]
        )
        run.format = f"default ({default_format(destination)})" if fmt == DEFAULT else fmt
        status = run.error or (
            f"extract {run.extract_seconds:.2f} s, normalize {run.normalize_seconds:.2f} s,"
            f" load {run.seconds:.2f} s (path {run.load_path or '-'}),"
            f" peak RSS +{run.peak_rss_growth_mb or 0:.0f} MB"
        )
        print(f"{backend:<10} {destination:<8} {fmt:<11} #{i + 1}: {status}", flush=True)
        runs.append(run)
    return runs


def median(values: List[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summary_row(runs: List[load_step.Run]) -> Dict[str, Any]:
    ok = [r for r in runs if r.error is None]
    totals = [(r.extract_seconds or 0) + (r.normalize_seconds or 0) + (r.seconds or 0) for r in ok]
    return {
        "backend": runs[0].backend,
        "destination": runs[0].destination,
        "format": runs[0].format,
        "runs": len(ok),
        "failed": next((r.error for r in runs if r.error), None),
        "extract_s": median([r.extract_seconds for r in ok]),
        "normalize_s": median([r.normalize_seconds for r in ok]),
        "load_s": median([r.seconds for r in ok]),
        "run_s": median(list(totals)),
        "peak_rss_mb": median([r.peak_rss_growth_mb for r in ok]),
        "load_path": next((r.load_path for r in ok if r.load_path), None),
    }


def raw_floor(backend: str, rows: int, repeat: int, work: Path) -> Dict[str, float]:
    parquet = raw_reference.make_parquet(rows, work)
    if backend in ("postgresql", "mariadb"):
        run = getattr(raw_reference, backend)
        results = run(load_step.SERVER_URLS[backend], parquet, repeat, work)
    else:
        results = getattr(raw_reference, backend)(parquet, repeat, work)
    return {name: statistics.median(times) for name, times in results.items()}


def fmt_s(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f} s"


def print_table(rows: List[Dict[str, Any]], raws: Dict[str, Dict[str, float]]) -> None:
    header = (
        "| backend | destination | format | extract | normalize | load | run() | peak RSS"
        " | run() built-in default / this |"
    )
    print("\n" + header + "\n|" + "---|" * 9)
    for row in rows:
        builtin = next(
            (
                r["run_s"]
                for r in rows
                if r["backend"] == row["backend"]
                and r["destination"] == "built-in"
                and r["format"].startswith(DEFAULT)
            ),
            None,
        )
        ratio = f"{builtin / row['run_s']:.2f}x" if builtin and row["run_s"] else "-"
        if row["failed"] and not row["runs"]:
            cells = ["FAILED: " + row["failed"][:60]] + [""] * 5
        else:
            rss = "-" if row["peak_rss_mb"] is None else f"+{row['peak_rss_mb']:.0f} MB"
            cells = [
                fmt_s(row["extract_s"]),
                fmt_s(row["normalize_s"]),
                fmt_s(row["load_s"]),
                fmt_s(row["run_s"]),
                rss,
                ratio,
            ]
        print(
            f"| {row['backend']} | {row['destination']} | {row['format']} | "
            + " | ".join(cells)
            + " |"
        )
    print("\nraw reference (statement + COMMIT on rows prepared in memory, median):")
    for backend, results in raws.items():
        for name, seconds in results.items():
            print(f"  {backend:<10} {name:<36} {seconds:.2f} s")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per run (1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (3)")
    parser.add_argument("--backends", default=",".join(load_step.BACKENDS))
    parser.add_argument(
        "--formats", default="", help="also name these formats explicitly (typed-jsonl,parquet)"
    )
    parser.add_argument("--destinations", default="ours,built-in")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw reference")
    parser.add_argument("--json", metavar="PATH", help="write the summary and every run here")
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    destinations = args.destinations.split(",")
    work = Path(tempfile.mkdtemp(prefix="dlt_sqla_run_"))
    rows: List[Dict[str, Any]] = []
    every_run: List[Dict[str, Any]] = []
    raws: Dict[str, Dict[str, float]] = {}
    try:
        print(f"rows: {args.rows:,}, {args.repeat} runs per case, cpus {os.cpu_count()}")
        for backend in args.backends.split(","):
            for destination, fmt in cases(formats, destinations):
                runs = one_case(backend, destination, fmt, args.rows, args.repeat, work)
                rows.append(summary_row(runs))
                every_run.extend(asdict(r) for r in runs)
            if not args.no_raw:
                raws[backend] = raw_floor(backend, args.rows, args.repeat, work)
        print_table(rows, raws)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        if args.json:
            Path(args.json).write_text(
                json.dumps({"summary": rows, "raw": raws, "runs": every_run}, indent=1)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
