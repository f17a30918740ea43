"""Load the bundled chess sample into an embedded SQLite file and show what landed.

Run it with `bash scripts/demo` (which installs the package first), or directly:

    python examples/demo.py [--output-dir DIR]

Everything happens offline: the data comes from `examples/data/*.jsonl` (written by
`examples/make_sample.py`) and the destination is a SQLite file in `demo_output/` at the
repository root. The nested `opening_moves` list of every game becomes the child table
`games__opening_moves`. Re-running the demo starts from scratch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# the demo must run offline: switch off dlt's anonymous usage telemetry before dlt starts
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt

from dlt_sqlalchemy import sqlalchemy

EXAMPLES_DIR = Path(__file__).resolve().parent
DATA_DIR = EXAMPLES_DIR / "data"
DEFAULT_OUTPUT_DIR = EXAMPLES_DIR.parent / "demo_output"
DB_STEM = "chess"
DATASET = "chess_data"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


@dlt.source(name="chess")
def chess_sample(data_dir: Path = DATA_DIR) -> Any:
    """Players and games of one month on a (synthetic) online chess site."""

    @dlt.resource(primary_key="username", write_disposition="replace")
    def players() -> Iterator[dict[str, Any]]:
        yield from read_jsonl(data_dir / "players.jsonl")

    @dlt.resource(
        primary_key="game_id",
        write_disposition="replace",
        columns={
            "started_at": {"data_type": "timestamp"},
            "ended_at": {"data_type": "timestamp"},
        },
    )
    def games() -> Iterator[dict[str, Any]]:
        yield from read_jsonl(data_dir / "games.jsonl")

    return players, games


def clean_output(output_dir: Path) -> None:
    """Remove what a previous run left: only the files this demo creates."""
    for path in output_dir.glob(f"{DB_STEM}*.db*"):  # main file, dataset files, -wal/-shm
        path.unlink()
    shutil.rmtree(output_dir / "pipelines", ignore_errors=True)
    output_dir.mkdir(parents=True, exist_ok=True)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print(f"\n{title}")
    for line in [headers, ["-" * w for w in widths], *cells]:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def human_size(n_bytes: int) -> str:
    return f"{n_bytes} B" if n_bytes < 1024 else f"{n_bytes / 1024:.0f} KiB"


def show_files(output_dir: Path) -> None:
    rows = []
    for path in sorted(output_dir.glob(f"{DB_STEM}*.db")):
        role = (
            "main database"
            if path.stem == DB_STEM
            else "dataset " + repr(path.stem.split("__", 1)[1])
        )
        rows.append((path.name, human_size(path.stat().st_size), role))
    print_table(f"SQLite files in {output_dir}", ("file", "size", "holds"), rows)


def show_data(pipeline: dlt.Pipeline) -> None:
    dataset = pipeline.dataset()

    counts = sorted(dataset.row_counts().fetchall())
    print_table(
        "Tables and row counts (pipeline.dataset().row_counts())", ("table", "rows"), counts
    )

    top = (
        dataset.table("players")
        .select("username", "title", "country", "ratings__blitz")
        .order_by("ratings__blitz", "desc")
        .limit(5)
        .fetchall()
    )
    print_table(
        "Top 5 players by blitz rating (pipeline.dataset())",
        ("username", "title", "country", "blitz"),
        top,
    )

    first_moves = dataset.query(
        "SELECT m.san, COUNT(*) AS games,"
        " ROUND(AVG(CASE g.result WHEN '1-0' THEN 1.0 WHEN '0-1' THEN 0.0 ELSE 0.5 END), 2)"
        " AS white_score"
        " FROM games__opening_moves AS m JOIN games AS g ON m._dlt_parent_id = g._dlt_id"
        " WHERE m.ply = 1 GROUP BY m.san ORDER BY games DESC"
    ).fetchall()
    print_table(
        "First moves, read from the child table games__opening_moves joined to games",
        ("first move", "games", "white score"),
        first_moves,
    )

    with pipeline.sql_client() as client:
        games = client.make_qualified_table_name("games")
        # the only interpolated value is the quoted, qualified name of our own table
        openings = client.execute_sql(
            "SELECT opening__eco, opening__name, COUNT(*) AS n"  # noqa: S608
            f" FROM {games} GROUP BY opening__eco, opening__name"
            " ORDER BY n DESC, opening__eco LIMIT 5"
        )
    print_table(
        "Most played openings (raw SQL through pipeline.sql_client())",
        ("eco", "opening", "games"),
        openings or [],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT_DIR,
        help=f"where the SQLite files go (default: {DEFAULT_OUTPUT_DIR})",
    )
    output_dir: Path = parser.parse_args().output_dir.resolve()
    clean_output(output_dir)

    db_path = output_dir / f"{DB_STEM}.db"
    pipeline = dlt.pipeline(
        pipeline_name="chess_demo",
        destination=sqlalchemy(f"sqlite:///{db_path}"),
        dataset_name=DATASET,
        # keep the pipeline's working files next to the database, not in ~/.dlt
        pipelines_dir=str(output_dir / "pipelines"),
    )
    load_info = pipeline.run(chess_sample())
    load_info.raise_on_failed_jobs()

    print(f"Loaded {len(load_info.loads_ids)} load package(s) into sqlite:///{db_path}")
    print(f"  destination: {pipeline.destination.destination_type}")
    print(f"  dlt dataset {DATASET!r} -> {DB_STEM}__{DATASET}.db, ATTACHed to the main file")
    show_files(output_dir)
    show_data(pipeline)
    print(f"\nInspect it yourself: sqlite3 {output_dir / f'{DB_STEM}__{DATASET}.db'} .tables")


if __name__ == "__main__":
    main()
