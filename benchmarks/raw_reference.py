"""Raw references for the load step: the fastest each database takes data ready in memory.

For the data of `load_step.py` (same rows, same table, created by this package), each backend's
raw bulk operation is timed on input prepared beforehand, untimed:

- PostgreSQL: `COPY ... FROM STDIN (FORMAT csv)` of CSV text held in memory (psycopg 3), and
  ADBC ingestion of an Arrow table held in memory (`adbc-driver-postgresql`);
- MariaDB/MySQL: `LOAD DATA LOCAL INFILE` of a CSV file written beforehand (mysqlclient);
- SQLite: `executemany` of ready tuples held in memory (the standard library's sqlite3), and
  ADBC ingestion of the Arrow table those tuples came from (`adbc-driver-sqlite`);
- DuckDB: `INSERT INTO ... SELECT` from an Arrow table registered in memory.

Timed: the statement plus COMMIT. Between repetitions the table is emptied (untimed). The ready
input is what this package's bulk paths produce from the parquet load file, so the difference
between a path and its reference is reading and converting the file, plus any overhead of
streaming it.

    .venv/bin/python benchmarks/raw_reference.py --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_step

from dlt_sqlalchemy import sqlalchemy as ours_destination
from dlt_sqlalchemy.load.bulk import csv_chunks
from dlt_sqlalchemy.load.readers import read_arrow

BACKENDS = ("postgresql", "mariadb", "sqlite", "duckdb")


def make_parquet(rows: int, work: Path) -> str:
    """The benchmark rows as a parquet load file, written by dlt's normalize (untimed)."""
    pipeline = dlt.pipeline(
        pipeline_name=f"raw_ref_{uuid.uuid4().hex[:8]}",
        destination=ours_destination(f"sqlite:///{work / 'unused.db'}"),
        dataset_name="unused",
        pipelines_dir=str(work / "pipelines"),
    )
    pipeline.extract(load_step.bench_resource(rows), loader_file_format="parquet")
    pipeline.normalize()
    pattern = str(work / "pipelines" / pipeline.pipeline_name / "load" / "normalized" / "*")
    files = glob.glob(os.path.join(pattern, "new_jobs", f"{load_step.TABLE}.*.parquet"))
    assert len(files) == 1, files
    return files[0]


def create_table(backend: str, url: str, dataset: str, work: Path) -> Any:
    """The benchmark table as this package creates it; returns (pipeline, sa.Table, columns)."""
    pipeline = dlt.pipeline(
        pipeline_name=f"raw_ref_{backend}_{uuid.uuid4().hex[:8]}",
        destination=ours_destination(url),
        dataset_name=dataset,
        pipelines_dir=str(work / "pipelines"),
    )
    pipeline.run(load_step.bench_resource(1))
    with pipeline.destination_client() as client:
        table = client.sa_table(load_step.TABLE)
        columns = table.info["dlt_columns"]
    return pipeline, table, columns


def timed(repeat: int, run: Callable[[], None], reset: Callable[[], None]) -> List[float]:
    times = []
    for _ in range(repeat):
        reset()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    reset()
    return times


def postgresql(url: str, parquet: str, repeat: int, work: Path) -> Dict[str, List[float]]:
    import psycopg

    from dlt_sqlalchemy.dialects.postgresql.paths import CopyFromStdin, _prepare_csv

    dataset = f"raw_{uuid.uuid4().hex[:8]}"
    _, table, columns = create_table("postgresql", url, dataset, work)
    chunks = list(csv_chunks(read_arrow(parquet, "parquet", columns, 65_536), _prepare_csv))
    copy_sql = str(CopyFromStdin(table).compile(dialect=sa.create_engine(url).dialect))
    libpq_url = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    quoted = f'"{dataset}"."{load_step.TABLE}"'
    results: Dict[str, List[float]] = {}
    with psycopg.connect(libpq_url) as conn:

        def reset() -> None:
            conn.execute(f"TRUNCATE {quoted}")
            conn.commit()

        def copy() -> None:
            with conn.cursor() as cursor, cursor.copy(copy_sql) as stream:
                for chunk in chunks:
                    stream.write(chunk)
            conn.commit()

        results["COPY FROM STDIN (csv in memory)"] = timed(repeat, copy, reset)
        try:
            import adbc_driver_postgresql.dbapi as adbc
            import pyarrow as pa

            from dlt_sqlalchemy.dialects.postgresql.paths import _adbc_types, _cast_for_adbc

            types = _adbc_types(table, sa.create_engine(url).dialect)
            assert types is not None
            batches = [
                pa.RecordBatch.from_arrays(
                    [_cast_for_adbc(a, t) for a, t in zip(b.columns, types)],
                    names=[c.name for c in table.columns],
                )
                for b in read_arrow(parquet, "parquet", columns, 65_536)
            ]
            arrow_table = pa.Table.from_batches(batches)
            with adbc.connect(libpq_url) as adbc_conn:

                def ingest() -> None:
                    with adbc_conn.cursor() as cursor:
                        cursor.adbc_ingest(
                            load_step.TABLE, arrow_table, mode="append", db_schema_name=dataset
                        )
                    adbc_conn.commit()

                results["ADBC ingest (arrow in memory)"] = timed(repeat, ingest, reset)
        except ImportError:
            pass
        conn.execute(f'DROP SCHEMA "{dataset}" CASCADE')
        conn.commit()
    return results


def mariadb(url: str, parquet: str, repeat: int, work: Path) -> Dict[str, List[float]]:
    import MySQLdb

    from dlt_sqlalchemy.dialects.mysql.paths import LoadDataLocalInfile, _prepare_csv

    dataset = f"raw_{uuid.uuid4().hex[:8]}"
    _, table, columns = create_table("mariadb", url, dataset, work)
    csv_file = work / "rows.csv"
    with open(csv_file, "wb") as f:
        for chunk in csv_chunks(
            read_arrow(parquet, "parquet", columns, 65_536), _prepare_csv, "NULL"
        ):
            f.write(chunk)
    sql = str(
        LoadDataLocalInfile(table, str(csv_file), []).compile(dialect=sa.create_engine(url).dialect)
    )
    parsed = sa.make_url(url)
    conn = MySQLdb.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        charset="utf8mb4",
        local_infile=1,
    )
    cursor = conn.cursor()
    quoted = f"`{dataset}`.`{load_step.TABLE}`"

    def reset() -> None:
        cursor.execute(f"TRUNCATE TABLE {quoted}")
        conn.commit()

    def load() -> None:
        cursor.execute(sql)
        conn.commit()

    try:
        return {"LOAD DATA LOCAL INFILE (csv file)": timed(repeat, load, reset)}
    finally:
        cursor.execute(f"DROP DATABASE `{dataset}`")
        conn.close()


def sqlite(parquet: str, repeat: int, work: Path) -> Dict[str, List[float]]:
    import sqlite3

    import pyarrow as pa

    from dlt_sqlalchemy.dialects.sqlite.paths import (
        _ADBC_ARRAYS,
        _ARRAYS_BY_DATA_TYPE,
        _BY_DATA_TYPE,
    )
    from dlt_sqlalchemy.load.inserts import compile_positional_insert

    url = f"sqlite:///{work / 'raw.db'}"
    dataset = "raw"
    _, table, columns = create_table("sqlite", url, dataset, work)
    rows: List[Any] = []
    arrow_batches: List[Any] = []
    for batch in read_arrow(parquet, "parquet", columns, 65_536):
        converted = [_BY_DATA_TYPE[c["data_type"]](a) for c, a in zip(columns, batch.columns)]
        rows.extend(zip(*converted))
        arrays = [
            _ADBC_ARRAYS.get(c["data_type"], _ARRAYS_BY_DATA_TYPE[c["data_type"]])(a)
            for c, a in zip(columns, batch.columns)
        ]
        arrow_batches.append(pa.RecordBatch.from_arrays(arrays, names=[c["name"] for c in columns]))
    arrow_table = pa.Table.from_batches(arrow_batches)
    conn = sqlite3.connect(str(work / "raw__raw.db"))
    insert = compile_positional_insert(
        table.to_metadata(sa.MetaData(), schema=None), sa.create_engine(url).dialect
    )

    def reset() -> None:
        conn.execute(f'DELETE FROM "{load_step.TABLE}"')  # noqa: S608
        conn.commit()

    def load() -> None:
        conn.executemany(insert, rows)
        conn.commit()

    def ingest() -> None:
        import adbc_driver_sqlite.dbapi as adbc

        with adbc.connect(str(work / "raw__raw.db")) as adbc_conn:
            with adbc_conn.cursor() as cursor:
                cursor.adbc_ingest(load_step.TABLE, arrow_table, mode="append")
            adbc_conn.commit()

    try:
        results = {"executemany of ready tuples": timed(repeat, load, reset)}
        results["ADBC ingest (arrow in memory)"] = timed(repeat, ingest, reset)
        return results
    finally:
        conn.close()


def duckdb(parquet: str, repeat: int, work: Path) -> Dict[str, List[float]]:
    import duckdb as duck
    import pyarrow as pa

    url = f"duckdb:///{work / 'bench.duckdb'}"
    dataset = "ref_data"  # not the catalog's name (the file's stem)
    pipeline, table, columns = create_table("duckdb", url, dataset, work)
    arrow_table = pa.Table.from_batches(list(read_arrow(parquet, "parquet", columns, 65_536)))
    del pipeline
    conn = duck.connect(str(work / "bench.duckdb"))
    conn.register("ready", arrow_table)
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    quoted = f'"{dataset}"."{load_step.TABLE}"'

    def reset() -> None:
        conn.execute(f"DELETE FROM {quoted}")  # noqa: S608

    def load() -> None:
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {quoted} ({names}) SELECT {names} FROM ready")  # noqa: S608
        conn.execute("COMMIT")

    try:
        return {"INSERT SELECT from arrow in memory": timed(repeat, load, reset)}
    finally:
        conn.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dlt_sqla_raw_"))
    try:
        parquet = make_parquet(args.rows, work)
        print(f"rows: {args.rows:,}, {args.repeat} timed runs each (statement + COMMIT)")
        for backend in args.backends.split(","):
            if backend == "postgresql":
                results = postgresql(
                    load_step.SERVER_URLS["postgresql"], parquet, args.repeat, work
                )
            elif backend == "mariadb":
                results = mariadb(load_step.SERVER_URLS["mariadb"], parquet, args.repeat, work)
            elif backend == "sqlite":
                results = sqlite(parquet, args.repeat, work)
            else:
                results = duckdb(parquet, args.repeat, work)
            for name, times in results.items():
                runs = ", ".join(f"{t:.3f}" for t in times)
                print(
                    f"{backend:<10} {name:<36} median {statistics.median(times):7.3f} s"
                    f"  ({runs})  load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
