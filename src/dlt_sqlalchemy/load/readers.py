"""Load files as batches: column-major Python values for `executemany`, Arrow for bulk paths.

A reader never holds a whole file: typed-jsonl is read line by line (each line is one JSON array
of rows), parquet row group by row group.

Python batches (`READERS`) list values per column, in the table's column order, decoded only for
the columns whose dlt type needs it: SQLAlchemy's bind processors take them from there.

Arrow batches (`read_arrow`) are what the bulk paths (COPY, LOAD DATA, Arrow ingestion, ready
tuples) consume. Their values are converted by Arrow's C++ kernels, a column at a time: a
typed-jsonl line is parsed by Arrow's JSON reader (`jsonl_arrow`; lines it refuses by orjson and
one struct conversion, `_JsonlPlan`), dlt's PUA-tagged strings lose their tag and are cast
(timestamps with their offsets, dates, times), parquet columns are cast to the same types.
Python touches single values only where Arrow has no kernel (base64 binary) or the data is
unusual (a decimal in exponent notation, JSON holding dlt's typed markers, a value Arrow cannot
parse, which then goes through dlt's own decoders as in the Python batches).
"""

from __future__ import annotations

import binascii
import contextlib
import decimal
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

from dlt.common.json import (
    _B64BYTES,
    _DATE,
    _DATETIME,
    _DECIMAL,
    _HEXBYTES,
    _TIME,
    _WEI,
    PUA_CHARACTER_MAX,
    PUA_START,
    custom_pua_decode,
    custom_pua_decode_nested,
    json,
)
from dlt.common.storages import FileStorage

if TYPE_CHECKING:
    import pyarrow as pa

TColumns = List[List[Any]]
TDecoder = Optional[Callable[[Any], Any]]
TReader = Callable[[str, Sequence[Dict[str, Any]], int], Iterator[TColumns]]

# dlt types that typed-jsonl carries as PUA-tagged strings
_PUA_TYPES = frozenset({"timestamp", "date", "time", "decimal", "wei", "binary"})


def read_typed_jsonl(
    path: str, columns: Sequence[Dict[str, Any]], batch_rows: int
) -> Iterator[TColumns]:
    """Batches of `batch_rows` rows, across the writer's lines; `json` values as Python objects."""
    names = [c["name"] for c in columns]
    decoders = [_jsonl_decoder(c.get("data_type")) for c in columns]
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


def _jsonl_decoder(data_type: Optional[str]) -> TDecoder:
    if data_type in _PUA_TYPES:
        return custom_pua_decode
    if data_type == "json":
        return _json_value
    return None


def _json_value(value: Any) -> Any:
    """A `json` value with dlt's typed markers (dates, decimals) decoded inside it."""
    return None if value is None else custom_pua_decode_nested(value)


def _columns_of(
    rows: Sequence[Dict[str, Any]], names: Sequence[str], decoders: Sequence[TDecoder]
) -> TColumns:
    columns: TColumns = []
    for name, decoder in zip(names, decoders):
        values = [row.get(name) for row in rows]
        columns.append(values if decoder is None else list(map(decoder, values)))
    return columns


# --- Arrow batches ------------------------------------------------------------------------------


def arrow_type_of(column: Dict[str, Any]) -> pa.DataType:
    """The Arrow type a bulk path receives for a dlt column.

    `decimal` and `wei` are the exception: text from typed-jsonl (exact at any precision, where
    wei may have 78 digits and Arrow's decimals stop at 76), Arrow decimals from parquet. Every
    bulk path accepts both.
    """
    import pyarrow as pa

    data_type = column.get("data_type")
    if data_type == "bigint":
        return pa.int64()
    if data_type == "double":
        return pa.float64()
    if data_type == "bool":
        return pa.bool_()
    if data_type == "timestamp":
        return pa.timestamp("us", tz="UTC" if column.get("timezone", True) else None)
    if data_type == "date":
        return pa.date32()
    if data_type == "time":
        return pa.time64("us")
    if data_type == "binary":
        return pa.binary()
    return pa.string()  # text, json (JSON text), decimal and wei as text


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
    from dlt_sqlalchemy.jsonl_arrow import JsonlDecoder, iter_lines

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
    dlt_sqlalchemy.paths._decoder`), each taking every n-th line and streaming its batches back
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
                            "dlt_sqlalchemy.paths._decoder",
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


def decimal_text(array: pa.Array) -> pa.Array:
    """Decimals (Arrow decimals or text) as text in positional notation, as `format(d, "f")`
    writes them: Arrow and `str(Decimal)` both switch to `1E-9` for small values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(array.type):
        array = array.cast(pa.string())
    exponent = pc.match_substring(array, "E", ignore_case=True)
    if not pc.any(exponent).as_py():
        return array
    fixed = [
        format(decimal.Decimal(value), "f") if has_exponent else value
        for value, has_exponent in zip(array.to_pylist(), exponent.to_pylist())
    ]
    return pa.array(fixed, pa.string())


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


class _NotTagged(Exception):
    """A column of a PUA type holds a value without the expected tag: decode it in Python."""


class _JsonlPlan:
    """How the rows of a typed-jsonl line become an Arrow batch, worked out once per file."""

    def __init__(self, columns: Sequence[Dict[str, Any]]) -> None:
        import pyarrow as pa

        self.columns = list(columns)
        self.targets = [arrow_type_of(c) for c in self.columns]
        self.schema = pa.schema(
            [pa.field(c["name"], t) for c, t in zip(self.columns, self.targets)]
        )
        # every column but `json` is read by one struct conversion, PUA types as strings
        self.struct_index: Dict[int, int] = {}
        fields: List[pa.Field] = []
        for i, (column, target) in enumerate(zip(self.columns, self.targets)):
            data_type = column.get("data_type")
            if data_type == "json":
                continue
            read_as = pa.string() if data_type in _PUA_TYPES else target
            self.struct_index[i] = len(fields)
            fields.append(pa.field(column["name"], read_as))
        self.struct_type = pa.struct(fields)

    def batch(self, rows: List[Dict[str, Any]]) -> pa.RecordBatch:
        import pyarrow as pa

        try:
            struct: Optional[pa.StructArray] = pa.array(rows, type=self.struct_type)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            struct = None  # some value is not what its column says: go column by column
        arrays = []
        for i, (column, target) in enumerate(zip(self.columns, self.targets)):
            if column.get("data_type") == "json":
                arrays.append(_json_texts(rows, column["name"]))
                continue
            try:
                if struct is None:
                    raise _NotTagged
                arrays.append(_decoded(struct.field(self.struct_index[i]), column, target))
            except (_NotTagged, pa.ArrowException):
                arrays.append(_decoded_in_python(rows, column, target))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


_TAGS = {
    "timestamp": (_DATETIME,),
    "date": (_DATE,),
    "time": (_TIME,),
    "decimal": (_DECIMAL, _WEI),
    "wei": (_WEI, _DECIMAL),
    "binary": (_B64BYTES, _HEXBYTES),
}


def _decoded(array: pa.Array, column: Dict[str, Any], target: pa.DataType) -> pa.Array:
    """The struct field of one column, PUA tags removed and cast to its target type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data_type = column.get("data_type")
    tags = _TAGS.get(str(data_type))
    if tags is None:
        return array
    if array.null_count == len(array):
        return pa.nulls(len(array), target)
    first = pc.utf8_slice_codeunits(array, 0, 1)
    # None among the tags: a NULL is not an untagged value (else a column with NULLs would
    # always be decoded value by value in Python)
    if not pc.all(pc.is_in(first, value_set=pa.array([*tags, None]))).as_py():
        raise _NotTagged
    text = pc.utf8_slice_codeunits(array, 1)
    if data_type in ("decimal", "wei"):
        return decimal_text(text)
    if data_type == "time":
        # Arrow parses times only as part of a timestamp
        moment = pc.binary_join_element_wise("1970-01-01T", text, "")
        return moment.cast(pa.timestamp("us")).cast(target)
    if data_type == "binary":
        return _binary_of(text, first)
    return text.cast(target)


def _binary_of(text: pa.Array, tags: pa.Array) -> pa.Array:
    import pyarrow as pa

    # no Arrow kernel decodes base64: one C call per value, no Python frame
    values = text.to_pylist()
    if all(tag in (None, _B64BYTES) for tag in tags.to_pylist()):
        decoded = [None if v is None else binascii.a2b_base64(v) for v in values]
    else:
        decoded = [
            None if v is None else binascii.a2b_base64(v) if t == _B64BYTES else bytes.fromhex(v)
            for v, t in zip(values, tags.to_pylist())
        ]
    return pa.array(decoded, pa.binary())


def _decoded_in_python(
    rows: List[Dict[str, Any]], column: Dict[str, Any], target: pa.DataType
) -> pa.Array:
    """dlt's own decoder value by value, for data Arrow's kernels refused."""
    import pyarrow as pa

    values = [row.get(column["name"]) for row in rows]
    decoder = _jsonl_decoder(column.get("data_type"))
    if decoder is not None:
        values = list(map(decoder, values))
    if column.get("data_type") in ("decimal", "wei"):
        return decimal_text(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.array(values, target)


# JSON text holding a dlt-tagged string: a quote followed by a PUA tag character
_TAGGED_JSON = '"[' + chr(PUA_START) + "-" + chr(PUA_START + PUA_CHARACTER_MAX) + "]"


def _json_texts(rows: List[Dict[str, Any]], name: str) -> pa.Array:
    """JSON text of a `json` column, exactly as the Python batches' values serialize."""
    import orjson
    import pyarrow as pa

    dumps = orjson.dumps
    texts = [None if (v := row.get(name)) is None else dumps(v) for row in rows]
    return _untagged_json_texts(pa.array(texts, pa.binary()).cast(pa.string()))


def _untagged_json_texts(array: pa.Array) -> pa.Array:
    """JSON texts (as orjson writes them) with dlt's tagged values inside decoded, as the
    Python batches' values serialize."""
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc

    tagged = pc.match_substring_regex(array, _TAGGED_JSON)
    if not pc.any(tagged).as_py():
        return array
    # dates, decimals, bytes inside the document: decode them as the Python batches do
    fixed = [
        json.dumps(custom_pua_decode_nested(orjson.loads(text))) if is_tagged else text
        for text, is_tagged in zip(array.to_pylist(), tagged.to_pylist())
    ]
    return pa.array(fixed, pa.string())
