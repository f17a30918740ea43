"""Load files as column-major batches: what every row-based load path consumes.

A reader never holds a whole file: typed-jsonl is read line by line (each line is one JSON array
of rows), parquet row group by row group. Values are decoded column by column, and only for the
columns whose dlt type needs it; the batch lists values per column, in the table's column order.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from dlt.common.json import custom_pua_decode, custom_pua_decode_nested, json
from dlt.common.storages import FileStorage

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

    with pq.ParquetFile(path) as parquet:
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
