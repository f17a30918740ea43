"""Load files as batches: column-major Python values for `executemany`, Arrow for bulk paths.

A reader never holds a whole file: typed-jsonl is read line by line (each line is one JSON array
of rows), parquet row group by row group.

Python batches (`READERS`) list values per column, in the table's column order, decoded only for
the columns whose dlt type needs it: SQLAlchemy's bind processors take them from there.

Arrow batches (`read_arrow`) are what the bulk paths (COPY, LOAD DATA, Arrow ingestion, ready
tuples) consume. Their values are converted by Arrow's C++ kernels, a column at a time: a
typed-jsonl line is parsed by Arrow's JSON reader (`jsonl_arrow`; lines it refuses by orjson and
one struct conversion, `JsonlPlan`), dlt's PUA-tagged strings lose their tag and are cast
(timestamps with their offsets, dates, times), parquet columns are cast to the same types.
Python touches single values only where Arrow has no kernel (base64 binary) or the data is
unusual (a decimal in exponent notation, JSON holding dlt's typed markers, a value Arrow cannot
parse, which then goes through dlt's own decoders as in the Python batches).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
)

from dlt.common.json import json
from dlt.common.storages import FileStorage

from dlt_sqlalchemy.load.arrow_values import TDecoder, arrow_type_of, decimal_text, jsonl_decoder

if TYPE_CHECKING:
    import pyarrow as pa

TColumns = List[List[Any]]
TReader = Callable[[str, Sequence[Dict[str, Any]], int], Iterator[TColumns]]


def read_typed_jsonl(
    path: str, columns: Sequence[Dict[str, Any]], batch_rows: int
) -> Iterator[TColumns]:
    """Batches of `batch_rows` rows, across the writer's lines; `json` values as Python objects."""
    names = [c["name"] for c in columns]
    decoders = [jsonl_decoder(c.get("data_type")) for c in columns]
    pending: List[Dict[str, Any]] = []
    with FileStorage.open_zipsafe_ro(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            pending.extend(json.loadb(line))
            while len(pending) >= batch_rows:
                yield _columns_of(pending[:batch_rows], names, decoders)
                del pending[:batch_rows]
    if pending:
        yield _columns_of(pending, names, decoders)


def read_parquet(
    path: str, columns: Sequence[Dict[str, Any]], batch_rows: int
) -> Iterator[TColumns]:
    """Batches of at most `batch_rows` rows; `json` values as JSON text, as dlt wrote them."""
    import pyarrow.parquet as pq
    from dlt.common.libs.pyarrow import pyarrow  # noqa: F401 - dlt's clear error without pyarrow

    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        present = set(parquet.schema_arrow.names)
        wanted = [c["name"] for c in columns if c["name"] in present]
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            size = batch.num_rows
            yield [
                batch.column(c["name"]).to_pylist() if c["name"] in present else [None] * size
                for c in columns
            ]


READERS: Dict[str, TReader] = {"typed-jsonl": read_typed_jsonl, "parquet": read_parquet}
"""Reader per loader file format."""

JSON_IS_TEXT = {"typed-jsonl": False, "parquet": True}
"""Whether the reader of a format hands `json` columns over as JSON text."""


def _columns_of(
    rows: Sequence[Dict[str, Any]], names: Sequence[str], decoders: Sequence[TDecoder]
) -> TColumns:
    columns: TColumns = []
    for name, decoder in zip(names, decoders):
        values = [row.get(name) for row in rows]
        columns.append(values if decoder is None else list(map(decoder, values)))
    return columns


# --- Arrow batches ------------------------------------------------------------------------------


def read_arrow(
    path: str, file_format: str, columns: Sequence[Dict[str, Any]], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Record batches of the file with one field per column of `columns`, in their order."""
    if file_format == "parquet":
        return read_parquet_arrow(path, columns, batch_rows)
    if file_format == "typed-jsonl":
        cores = os.cpu_count() or 1
        if _decode_in_subprocess(path):
            return read_typed_jsonl_arrow_in_subprocess(path, columns, min(2, cores))
        return read_typed_jsonl_arrow(path, columns, min(DECODE_THREADS, cores))
    raise ValueError(f"there is no Arrow reader for {file_format} files")


def read_typed_jsonl_arrow(
    path: str, columns: Sequence[Dict[str, Any]], threads: int = 1
) -> Iterator[pa.RecordBatch]:
    """One record batch per line of the file: dlt's writer puts a few thousand rows on a line,
    few enough to keep memory flat, enough for the per-call overhead to vanish.

    With `threads` > 1 the lines are decoded by that many threads, at most one line ahead each
    (Arrow's JSON reader, numpy and Arrow's kernels release the GIL); the batches come in file
    order.
    """
    from dlt_sqlalchemy.load.jsonl_arrow import JsonlDecoder, iter_lines

    decoder = JsonlDecoder(columns)
    with FileStorage.open_zipsafe_ro(path, "rb") as f:
        if threads <= 1:
            for line in iter_lines(f):
                batch = decoder.decode(line)
                if batch is not None:
                    yield batch
            return
        with ThreadPoolExecutor(threads, thread_name_prefix="dlt-sqlalchemy-jsonl") as pool:
            pending: Deque[Future[Optional[pa.RecordBatch]]] = deque()
            try:
                for line in iter_lines(f):
                    pending.append(pool.submit(decoder.decode, line))
                    while len(pending) > threads or (pending and pending[0].done()):
                        batch = pending.popleft().result()
                        if batch is not None:
                            yield batch
                while pending:
                    batch = pending.popleft().result()
                    if batch is not None:
                        yield batch
            finally:
                for future in pending:  # the reader stopped early or a line failed
                    future.cancel()


DECODE_THREADS = 2
"""Threads that decode a typed-jsonl file in the load job's process (at most one per core)."""

DECODE_IN_SUBPROCESS_BYTES = 0
"""Gzipped typed-jsonl files at least this large on disk (uncompressed files: seven times this)
are decoded by subprocesses instead of threads when the machine has more than one core; 0 (the
default) never does. It pays only where decoding holds the GIL: lines the fast decoder of
`jsonl_arrow` refuses go through orjson. Starting the processes costs a second or two, each
inflates the whole file and sends its batches through a pipe: about 40 % more CPU than threads
for the benchmark table."""

_UNCOMPRESSED_RATIO = 7


def _decode_in_subprocess(path: str) -> bool:
    if not DECODE_IN_SUBPROCESS_BYTES or (os.cpu_count() or 1) < 2 or not sys.executable:
        return False
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
    except OSError:
        return False
    return size >= DECODE_IN_SUBPROCESS_BYTES * (1 if gzipped else _UNCOMPRESSED_RATIO)


def read_typed_jsonl_arrow_in_subprocess(
    path: str, columns: Sequence[Dict[str, Any]], decoders: int = 2
) -> Iterator[pa.RecordBatch]:
    """`read_typed_jsonl_arrow` run by `decoders` processes (`python -m
    dlt_sqlalchemy.load._decoder`), each taking every n-th line and streaming its batches back
    as Arrow IPC through a pipe; read in turn, they give the same batches in the file's order.

    Plain subprocesses, not multiprocessing: spawning would import the user's main module again
    (re-running a pipeline script that lacks a main guard), and forking a threaded loader is
    unsafe. If a subprocess cannot start, the file is decoded in this process.
    """
    import pyarrow as pa

    columns_json = json.dumps([dict(c) for c in columns])
    with contextlib.ExitStack() as stack:
        processes: List[Any] = []
        errors: List[Any] = []
        try:
            for offset in range(decoders):
                # stderr to a file: a chatty decoder can never block on a full pipe
                errors.append(stack.enter_context(tempfile.TemporaryFile()))
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "dlt_sqlalchemy.load._decoder",
                            path,
                            columns_json,
                            str(decoders),
                            str(offset),
                        ],
                        stdout=subprocess.PIPE,
                        stderr=errors[-1],
                        stdin=subprocess.DEVNULL,
                    )
                )
        except OSError:
            for process in processes:
                process.kill()
                process.wait()
            yield from read_typed_jsonl_arrow(path, columns)
            return
        finished = False
        try:
            streams = [pa.ipc.open_stream(p.stdout) for p in processes]
            turn = 0
            while True:
                try:
                    batch = streams[turn].read_next_batch()
                except StopIteration:
                    break  # the decoder of the next line has no more lines: neither have the rest
                if batch.num_rows:
                    yield batch
                turn = (turn + 1) % decoders
            for stream in streams:  # read up to each end-of-stream, so no decoder dies writing it
                for _ in stream:
                    pass
            finished = True
        except pa.ArrowInvalid:
            pass  # a stream broke off: its decoder failed, its stderr says why
        finally:
            codes = []
            for process in processes:
                if not finished:
                    process.kill()
                process.stdout.close()
                codes.append(process.wait())
        if not finished or any(codes):
            messages = []
            for file in errors:
                file.seek(0)
                messages += file.read().decode("utf-8", "replace").strip().splitlines()[-1:]
            raise RuntimeError(
                f"decoding {path} in subprocesses failed ({codes}):"
                f" {messages[-1] if messages else 'no message'}"
            )


def read_parquet_arrow(
    path: str, columns: Sequence[Dict[str, Any]], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Row group by row group; a column the file lacks is NULL, the others cast where needed."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from dlt.common.libs.pyarrow import pyarrow  # noqa: F401 - dlt's clear error without pyarrow

    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        present = set(parquet.schema_arrow.names)
        wanted = [c["name"] for c in columns if c["name"] in present]
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            arrays = [
                _from_parquet(batch.column(c["name"]), c)
                if c["name"] in present
                else pa.nulls(batch.num_rows, arrow_type_of(c))
                for c in columns
            ]
            yield pa.RecordBatch.from_arrays(arrays, names=[c["name"] for c in columns])


def parquet_column(path: str, column: Dict[str, Any]) -> Iterator[pa.Array]:
    """One column of a parquet file, converted as `read_parquet_arrow` does, batch by batch:
    for finding the column of a value that failed a load."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        if column["name"] not in parquet.schema_arrow.names:
            return
        for batch in parquet.iter_batches(columns=[column["name"]]):
            yield _from_parquet(batch.column(0), column)


def _from_parquet(array: pa.Array, column: Dict[str, Any]) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    data_type = column.get("data_type")
    if data_type in ("decimal", "wei"):
        if pa.types.is_decimal(array.type):
            return array
        return decimal_text(array.cast(pa.string()))
    target = arrow_type_of(column)
    timestamp = data_type == "timestamp" and pa.types.is_timestamp(array.type)
    if timestamp and target.tz is not None and array.type.tz is None:
        array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))  # naive means UTC to dlt
    if array.type == target:
        return array
    if data_type in ("timestamp", "time"):
        # nanoseconds to the microseconds databases keep: truncated, not refused
        return array.cast(target, safe=False)
    return array.cast(target)
