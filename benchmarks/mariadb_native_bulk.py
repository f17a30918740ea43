"""Which bulk path for MariaDB Connector/Python: its native bulk `executemany`
(COM_STMT_BULK_EXECUTE on MariaDB 10.2+) fed from Arrow batches, or LOAD DATA LOCAL fed Arrow's
CSV (the `load_data` path's own conversion)? Both below SQLAlchemy, on the rows of
`load_step.py`, median of 3 each.

    PYTHONPATH=src .venv/bin/python benchmarks/mariadb_native_bulk.py [rows]

The bulk timing leaves out reading the load file (a head start); LOAD DATA's includes writing
the CSV to a temporary file (the path streams it through a FIFO instead). The server must have
`local_infile` ON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mariadb
import pyarrow as pa
from load_step import make_row

from dlt_sqlalchemy.dialects.mysql.paths import _prepare_csv
from dlt_sqlalchemy.load.bulk import csv_chunks

COLUMNS = (
    "id BIGINT, name VARCHAR(64), note TEXT, score DOUBLE, active BOOL, created_at DATETIME(6),"
    " local_at DATETIME(6), day DATE, price DECIMAL(18,4), attrs LONGTEXT"
)


def arrow_rows(count: int) -> pa.Table:
    rows = [make_row(i) for i in range(count)]
    for row in rows:
        row["attrs"] = None if row["attrs"] is None else json.dumps(row["attrs"])
        row["created_at"] = row["created_at"].replace(tzinfo=None)  # stored as naive UTC
    return pa.Table.from_pylist(rows)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    table = arrow_rows(count)
    conn = mariadb.connect(host="127.0.0.1", user="root", database="test", local_infile=True)
    cursor = conn.cursor()

    def fresh() -> None:
        cursor.execute("DROP TABLE IF EXISTS bulk_probe")
        cursor.execute(f"CREATE TABLE bulk_probe ({COLUMNS})")
        conn.commit()

    def native_bulk() -> None:
        marks = ",".join("?" * len(table.column_names))
        statement = "INSERT INTO bulk_probe VALUES (" + marks + ")"  # noqa: S608 (only ?)
        for batch in table.to_batches(16_384):
            values = list(zip(*[column.to_pylist() for column in batch.columns]))
            cursor.executemany(statement, values)

    def load_data() -> None:
        with tempfile.TemporaryDirectory() as folder:
            name = os.path.join(folder, "rows.csv")
            with open(name, "wb") as out:
                for chunk in csv_chunks(iter(table.to_batches(4096)), _prepare_csv, "NULL"):
                    out.write(chunk)
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE bulk_probe CHARACTER SET utf8mb4"
                " FIELDS TERMINATED BY 0x2c OPTIONALLY ENCLOSED BY 0x22 ESCAPED BY ''"
                " LINES TERMINATED BY 0x0a"
            )

    def timed(load: Callable[[], Any]) -> float:
        fresh()
        started = time.perf_counter()
        load()
        conn.commit()
        return time.perf_counter() - started

    for name, load in (("native bulk executemany", native_bulk), ("LOAD DATA LOCAL", load_data)):
        times: List[float] = [timed(load) for _ in range(3)]
        cursor.execute("SELECT COUNT(*) FROM bulk_probe")
        (stored,) = cursor.fetchone()
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"{name}: median {statistics.median(times):.2f} s ({runs}), {stored} rows")
    cursor.execute("DROP TABLE bulk_probe")
    conn.close()


if __name__ == "__main__":
    main()
