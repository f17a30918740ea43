"""Arrow batches as a driver returns them, made into the Arrow types dlt's reader gives today.

dlt's default reader (`DBApiCursorImpl.iter_arrow`) turns Python rows into Arrow with
`row_tuples_to_arrow`, typing each column by its dlt schema (`get_py_arrow_datatype`): int16 for
a 16-bit bigint, `decimal128(38, 9)` for a decimal, `timestamp[us, tz=UTC]` for an aware
timestamp, JSON as text. A native reader gets other types (PostgreSQL numerics as text, SQLite
dates as text, naive UTC timestamps on SQLite and MySQL), so every column is cast to that same
target with Arrow's kernels. A column the kernels cannot cast (SQLite `TIME` text, say) goes the
way it goes today, value by value through the loading type's result processor and dlt's own
converter, so the values stay exactly today's; that costs Python objects for one column of one
batch, never for the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, Mapping, Optional, Sequence

from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

if TYPE_CHECKING:
    import pyarrow as pa

TProcessor = Callable[[Any], Any]

_BUILD_ERRORS = (ValueError, TypeError, OverflowError, NotImplementedError)
"""What Arrow raises for values it cannot build or cast (its errors derive from these)."""

TZ = "UTC"
"""The zone dlt's reader gives aware timestamps (`iter_arrow(..., tz="UTC")`)."""


class ArrowTarget:
    """The Arrow schema today's reader gives a result typed by `columns`, and how to reach it."""

    def __init__(
        self,
        columns: TTableSchemaColumns,
        caps: DestinationCapabilitiesContext,
        processors: Sequence[Optional[TProcessor]],
    ) -> None:
        import pyarrow as pa
        from dlt.common.libs.pyarrow import get_py_arrow_datatype

        self.columns: List[TColumnSchema] = list(columns.values())
        self.names = list(columns.keys())
        self.caps = caps
        self.processors = list(processors)
        self.schema = pa.schema(
            [
                pa.field(
                    name,
                    get_py_arrow_datatype(column, caps, TZ),
                    nullable=column.get("nullable", True),
                )
                for name, column in columns.items()
            ]
        )

    def conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`batch` (columns in result order) with the target's names, types and nullability."""
        import pyarrow as pa

        if batch.num_columns != len(self.names):
            raise ValueError(
                f"the query returned {batch.num_columns} columns where its schema has"
                f" {len(self.names)}: {', '.join(self.names)}"
            )
        arrays = [
            self.conform_array(i, batch.column(i), field.type)
            for i, field in enumerate(self.schema)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def conform_array(self, index: int, array: pa.Array, target: pa.DataType) -> pa.Array:
        import pyarrow as pa

        if isinstance(array.type, pa.ExtensionType):
            array = array.storage  # PostgreSQL's numeric and JSON come as extension types
        if array.type == target:
            return array
        try:
            return _cast(array, target)
        except _BUILD_ERRORS:
            return self.from_python(index, array.to_pylist())

    def from_python(self, index: int, values: List[Any]) -> pa.Array:
        """A column of Python values as today's reader converts it (processor, then dlt)."""
        from dlt.common.libs.pyarrow import convert_array_to_arrow

        process = self.processors[index]
        if process is not None:
            values = [None if v is None else process(v) for v in values]
        return convert_array_to_arrow(
            values, self.caps, self.columns[index], TZ, True, self.schema.field(index).type
        )

    def python_column(self, index: int, values: Sequence[Any]) -> pa.Array:
        """A column of driver values (a DB-API batch) straight into the target type where
        Arrow takes the values as they are, else by inference and a cast, else as today."""
        import pyarrow as pa

        target = self.schema.field(index).type
        try:
            return pa.array(values, type=target)
        except _BUILD_ERRORS:
            pass
        try:
            return self.conform_array(index, pa.array(values), target)
        except _BUILD_ERRORS:
            return self.from_python(index, list(values))


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    """`array` cast to `target` by Arrow's kernels, text parsed where the storage is text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if _is_binary(array.type) and not _is_binary(target):
        # a driver without converters (mysqlclient here) gives every value as its text bytes
        array = array.cast(pa.string())
    source = array.type
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        if pa.types.is_timestamp(target):
            # SQLite and MySQL keep timestamps as text without zone, in UTC if the column is aware
            return pc.cast(array, pa.timestamp("us")).cast(target)
        if pa.types.is_time(target):
            # no kernel parses a time of day: as the time of 1970-01-01, whose epoch value it is
            stamps = pc.binary_join_element_wise("1970-01-01 ", array, "").cast(pa.timestamp("us"))
            return stamps.cast(pa.int64()).cast(pa.time64("us")).cast(target)
    if pa.types.is_boolean(target) and pa.types.is_integer(source):
        return pc.not_equal(array, 0)
    return array.cast(target)


def _is_binary(data_type: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_binary(data_type)
        or pa.types.is_large_binary(data_type)
        or pa.types.is_fixed_size_binary(data_type)
    )


def table_of(batches: Sequence[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches(list(batches), schema=schema)


def rechunked(batches: Any, schema: pa.Schema, chunk_size: Optional[int]) -> Any:
    """Tables of exactly `chunk_size` rows (the last one shorter), as today's reader yields
    them; with no `chunk_size`, one table of everything (empty, with the schema, if no rows)."""
    import pyarrow as pa

    if not chunk_size:
        yield pa.Table.from_batches(list(batches), schema=schema)
        return
    pending: List[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(chunk_size - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == chunk_size:
                yield pa.Table.from_batches(pending, schema=schema).combine_chunks()
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending, schema=schema).combine_chunks()


def all_typed(columns: Optional[Mapping[str, TColumnSchema]]) -> bool:
    """True when every result column has a dlt type: only then is today's output known in
    advance (untyped columns are inferred from the Python values, which a native read skips)."""
    return bool(columns) and all(c.get("data_type") for c in columns.values())  # type: ignore[union-attr]
