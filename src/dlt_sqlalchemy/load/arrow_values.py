"""dlt's typed values as Arrow arrays: the Arrow type of each dlt column, PUA tags removed,
decimals as positional text.

Shared by the file readers (`readers`) and the fast typed-jsonl decoder (`jsonl_arrow`): both
turn rows into the same batches, value for value, and fall back to the same Python decoding.
"""

from __future__ import annotations

import binascii
import decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

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

if TYPE_CHECKING:
    import pyarrow as pa

TDecoder = Optional[Callable[[Any], Any]]


# dlt types that typed-jsonl carries as PUA-tagged strings
PUA_TYPES = frozenset({"timestamp", "date", "time", "decimal", "wei", "binary"})


def jsonl_decoder(data_type: Optional[str]) -> TDecoder:
    if data_type in PUA_TYPES:
        return custom_pua_decode
    if data_type == "json":
        return _json_value
    return None


def _json_value(value: Any) -> Any:
    """A `json` value with dlt's typed markers (dates, decimals) decoded inside it."""
    return None if value is None else custom_pua_decode_nested(value)


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


class NotTagged(Exception):
    """A column of a PUA type holds a value without the expected tag: decode it in Python."""


class JsonlPlan:
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
            read_as = pa.string() if data_type in PUA_TYPES else target
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
                    raise NotTagged
                arrays.append(decoded(struct.field(self.struct_index[i]), column, target))
            except (NotTagged, pa.ArrowException):
                arrays.append(decoded_in_python(rows, column, target))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


_TAGS = {
    "timestamp": (_DATETIME,),
    "date": (_DATE,),
    "time": (_TIME,),
    "decimal": (_DECIMAL, _WEI),
    "wei": (_WEI, _DECIMAL),
    "binary": (_B64BYTES, _HEXBYTES),
}


def decoded(array: pa.Array, column: Dict[str, Any], target: pa.DataType) -> pa.Array:
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
        raise NotTagged
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


def decoded_in_python(
    rows: List[Dict[str, Any]], column: Dict[str, Any], target: pa.DataType
) -> pa.Array:
    """dlt's own decoder value by value, for data Arrow's kernels refused."""
    import pyarrow as pa

    values = [row.get(column["name"]) for row in rows]
    decoder = jsonl_decoder(column.get("data_type"))
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
    return untagged_json_texts(pa.array(texts, pa.binary()).cast(pa.string()))


def untagged_json_texts(array: pa.Array) -> pa.Array:
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
