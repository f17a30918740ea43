"""What the bulk load paths share: which tables they may take, CSV text from Arrow, failed rows.

A bulk path hands values to the database without SQLAlchemy's bind processors, so it takes a
table only when every column type is one whose processing it reproduces: the dialect's own types
and this package's `UtcDateTime` / `ExactDecimal`. A user `TypeDecorator` (the spec's
`JSONString`, say) processes values in Python, so its table loads by `executemany`, which runs it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import queue
import re
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generator,
    Iterator,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)

import sqlalchemy as sa

from dlt_sqlalchemy.load.path import BatchFailed, LoadRequest
from dlt_sqlalchemy.load.readers import READERS, TColumns, read_arrow

if TYPE_CHECKING:
    import pyarrow as pa

TPrepare = Callable[["pa.RecordBatch"], "pa.RecordBatch"]

PYARROW_HINT = "pip install pyarrow (or dlt-sqlalchemy[parquet])"


def has_module(name: str) -> bool:
    """True if `name` can be imported, without importing it (drivers are loaded lazily)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def has_pyarrow() -> bool:
    return has_module("pyarrow")


def plain_types(
    table: sa.Table,
    dialect: sa.engine.interfaces.Dialect,
    known_decorators: Tuple[Type[Any], ...] = (),
) -> bool:
    """True if no column of `table` needs Python-side processing a bulk path would skip."""
    for column in table.columns:
        impl = column.type.dialect_impl(dialect)
        if isinstance(impl, sa.types.TypeDecorator) and not isinstance(impl, known_decorators):
            return False
        if isinstance(impl, sa.types.UserDefinedType) and not isinstance(impl, known_decorators):
            return False
    return True


def driver_connection(connection: sa.Connection) -> Any:
    """The driver's own connection object under SQLAlchemy's pool proxy."""
    return connection.connection.driver_connection


def arrow_batches(
    request: LoadRequest, batch_rows: Optional[int] = None
) -> Iterator[pa.RecordBatch]:
    """The file's rows as Arrow batches, each counted in the request's progress once taken."""
    batches = read_arrow(
        request.file_path, request.file_format, request.columns, batch_rows or request.batch_rows
    )
    if request.progress is None:
        return batches
    return request.progress.counted(batches, _arrow_rows)


def _arrow_rows(batch: pa.RecordBatch) -> int:
    return int(batch.num_rows)


class RowCounter:
    """Counts the rows of batches as they stream past."""

    def __init__(self) -> None:
        self.rows = 0

    def count(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows += batch.num_rows
            yield batch


def csv_chunks(
    batches: Iterator[pa.RecordBatch], prepare: TPrepare, null_string: str = ""
) -> Iterator[bytes]:
    """Each batch as CSV text (no header), written by Arrow's C++ CSV writer.

    Every string is quoted (`""` is the empty string) and NULL is `null_string` unquoted, so
    NULL and the empty string stay apart; quotes inside values are doubled; tabs, newlines and
    backslashes are plain characters inside the quotes.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(
        include_header=False, quoting_style="needed", null_string=null_string, batch_size=4096
    )
    for batch in batches:
        if batch.num_rows == 0:
            continue
        sink = pa.BufferOutputStream()
        pacsv.write_csv(prepare(batch), sink, options)
        yield sink.getvalue().to_pybytes()


def replace_columns(batch: pa.RecordBatch, arrays: Sequence[pa.Array]) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(list(arrays), names=batch.schema.names)


def hex_text(array: pa.Array, prefix: bytes = b"") -> pa.Array:
    """Binary values as hexadecimal text after `prefix`, vectorized with numpy (no kernel in
    Arrow does it): PostgreSQL's bytea input `\\x...`, MySQL's `UNHEX()` input."""
    import pyarrow as pa

    if not pa.types.is_binary(array.type):
        array = array.cast(pa.binary())
    if not has_module("numpy"):  # pyarrow runs without numpy: one C call per value then
        text = prefix.decode("ascii")
        return pa.array([None if v is None else text + v.hex() for v in array.to_pylist()])
    import numpy as np

    if array.offset:
        array = pa.concat_arrays([array])  # buffers starting at the first value
    count = len(array)
    validity, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=count + 1).astype(np.int64)
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if data_buffer is not None
        else np.empty(0, dtype=np.uint8)
    )
    width = len(prefix)
    new_offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(width + 2 * np.diff(offsets), out=new_offsets[1:])
    out = np.empty(int(new_offsets[-1]), dtype=np.uint8)
    digits = np.ones(len(out), dtype=bool)
    if width:
        positions = (new_offsets[:-1, None] + np.arange(width)).ravel()
        out[positions] = np.tile(np.frombuffer(prefix, dtype=np.uint8), count)
        digits[positions] = False
    out[digits] = _HEX_DIGITS[data].ravel()
    return pa.Array.from_buffers(
        pa.large_string(),
        count,
        [validity, pa.py_buffer(new_offsets), pa.py_buffer(out)],
        null_count=array.null_count,
    )


def _hex_digits() -> Any:
    import numpy as np

    return np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(
        256, 2
    )


class _LazyHex:
    table: Any = None

    def __getitem__(self, index: Any) -> Any:
        if self.table is None:
            self.table = _hex_digits()
        return self.table[index]


_HEX_DIGITS = _LazyHex()


TTextRewrite = Callable[["pa.DataType", "pa.Array"], "pa.Array"]


def sql_literals(
    array: pa.Array,
    true: str = "1",
    false: str = "0",
    rewrite: Optional[TTextRewrite] = None,
) -> pa.Array:
    """A column as SQL literals, for the paths that send rows as statement text (MySQL's
    `insert_values`, Firebird's `execute_block`): integers bare, booleans as `true` / `false`,
    binary as `X'..'`, NULL for missing values, everything else quoted text with quotes doubled
    (aware timestamps as UTC wall time, decimals in positional notation). Numbers other than
    integers are quoted too: the server converts '1.5' exactly, and a value like 'inf' is
    refused as a value instead of breaking the statement. `rewrite(type, text)` adjusts a
    column's text before it is quoted, knowing the column's own type (MySQL's backslash
    escapes, Firebird's fraction digits)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from dlt_sqlalchemy.load.arrow_values import decimal_text

    kind = array.type
    if pa.types.is_boolean(kind):
        text = pc.if_else(array, true, false)
    elif pa.types.is_integer(kind):
        text = array.cast(pa.string())
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        text = pc.binary_join_element_wise("X'", hex_text(array).cast(pa.string()), "'", "")
    else:
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            array = array.cast(pa.timestamp(kind.unit))
        if pa.types.is_decimal(kind):
            array = decimal_text(array)
        elif not pa.types.is_string(kind):
            array = array.cast(pa.string())
        if rewrite is not None:
            array = rewrite(kind, array)
        array = pc.replace_substring(array, "'", "''")
        text = pc.binary_join_element_wise("'", array, "'", "")
    return text.fill_null("NULL")


def python_rows_at(request: LoadRequest, index: int) -> Optional[TColumns]:
    """The row at `index` (0-based, in file order) as a one-row batch of Python values.

    Bulk paths stream a whole file in one statement; when the database refuses a value and
    tells the row but not the column, this re-reads the file up to that row so the job can
    find the column the same way it does for `executemany` batches.
    """
    if index < 0:
        return None
    seen = 0
    for batch in READERS[request.file_format](
        request.file_path, request.columns, request.batch_rows
    ):
        size = len(batch[0]) if batch else 0
        if index < seen + size:
            return [[values[index - seen]] for values in batch]
        seen += size
    return None


_COPY_LINE = re.compile(r"\bline (\d+)")


def copy_failed_row(request: LoadRequest, ex: Exception) -> Optional[TColumns]:
    """The row PostgreSQL's COPY context names (`COPY t, line 3, column s: ...`), if any."""
    from dlt_sqlalchemy.driver_fields import pg8000_fields

    context = getattr(getattr(ex, "diag", None), "context", None) or pg8000_fields(ex).get("W")
    match = _COPY_LINE.search(context or "")
    return python_rows_at(request, int(match.group(1)) - 1) if match else None


T = TypeVar("T")


class _Done:
    def __init__(self, error: Optional[BaseException]) -> None:
        self.error = error


@contextlib.contextmanager
def prefetching(items: Iterator[T], depth: int = 2) -> Iterator[Iterator[T]]:
    """`prefetched(items)`, its producer thread stopped and joined when the block ends, even
    when an exception (whose traceback keeps the iterator alive) leaves it early."""
    prefetch = prefetched(items, depth)
    try:
        yield prefetch
    finally:
        prefetch.close()


def prefetched(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """`items`, produced by a background thread up to `depth` ahead of the consumer.

    Reading and converting the next batch (Arrow's kernels, zlib and the CSV writer release the
    GIL) overlaps with the database taking the current one (sqlite3 and the network drivers
    release it too): on two cores that hides most of the conversion time. Errors of the producer
    are raised in the consumer; a consumer that stops early stops the producer.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_Done(None))
        except BaseException as ex:
            put(_Done(ex))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="dlt-sqlalchemy-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            item = slots.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        producer.join()


def byte_slices(
    texts: pa.Array, max_bytes: int, max_rows: Optional[int] = None
) -> Iterator[Tuple[int, int]]:
    """(start, stop) ranges of `texts` (rendered rows) of about `max_bytes` each, joined with
    one separator byte, and at most `max_rows` rows: the statements of the paths that send
    rows as SQL text (MySQL's `insert_values`, Firebird's `execute_block`). One row longer
    than `max_bytes` is a range of its own."""
    import numpy as np
    import pyarrow.compute as pc

    ends = np.cumsum(np.asarray(pc.binary_length(texts)).astype(np.int64) + 1)
    start, total = 0, len(texts)
    limit = max_rows or total
    while start < total:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + max_bytes, side="right"))
        stop = min(max(stop, start + 1), start + limit, total)
        yield start, stop
        start = stop


def execute_text_statements(
    cursor: Any,
    batch: pa.RecordBatch,
    texts: pa.Array,
    statement: Callable[[pa.Array], Any],
    max_bytes: int,
    max_rows: Optional[int] = None,
) -> int:
    """Executes `statement(part)` for each part of `texts` (the rendered rows of `batch`) that
    `byte_slices` cuts; returns the rows. A refused statement raises `BatchFailed` with its
    rows of `batch`, for the job to find the value at fault."""
    rows = 0
    for start, stop in byte_slices(texts, max_bytes, max_rows):
        try:
            cursor.execute(statement(texts.slice(start, stop - start)))
        except Exception as ex:
            failed = batch.slice(start, stop - start)
            raise BatchFailed(ex, [a.to_pylist() for a in failed.columns]) from ex
        rows += stop - start
    return rows
