"""typed-jsonl lines to Arrow record batches without a Python object per value.

dlt's typed-jsonl writer puts a few thousand rows on a line, as one compact JSON array of row
objects. Parsing such a line with orjson builds a dict and a Python object for every value, and
turning those into Arrow costs as much again: that was most of a typed-jsonl load. Here Arrow's
own JSON reader (C++) parses the rows straight into columns; the values of `json` columns, which
Arrow's reader cannot keep as text, are cut out of the line as byte ranges.

The batches are the ones `arrow_values.JsonlPlan` builds from orjson's objects, value for value: a
line this decoder cannot vouch for goes through that plan instead (`_SlowPath`), so the plan is
also the specification (`tests/test_jsonl_decoding.py` holds the two against each other).

Arrow's reader takes one object per line, so the line `[{..},{..}]` becomes `{..}\\n{..}`:

- with numpy, a vectorised scan (`_Structure`) finds the quotes and brackets of the line, which
  gives the depth of every bracket outside strings, the rows' boundaries (the commas at depth 1
  become newlines) and the ranges of the `json` members;
- without numpy (pyarrow does not need it), every `},{` becomes `}\\n{`. One inside a string or a
  nested value is replaced too, but then Arrow fails (a raw newline inside a string is invalid
  JSON, and so is a newline for the comma between two nested values) and the line takes the slow
  path. Tables with `json` columns need the scan.

Either way Arrow's row count must be the number of rows found.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from dlt_sqlalchemy.load.arrow_values import JsonlPlan

READ_BUFFER_BYTES = 4 * 1024 * 1024
"""Lines are read through a buffer this large: `gzip`'s own 8 KB reads cost as much CPU again
as the inflating itself."""

_JSON_WHITESPACE = b" \t\r\n"
_ROW_SEPARATOR = b"},{"
_ROW_SEPARATOR_NDJSON = b"}\n{"

_QUOTE, _BACKSLASH, _COLON, _COMMA = 0x22, 0x5C, 0x3A, 0x2C
_OPEN_CURLY, _CLOSE_CURLY, _CLOSE_SQUARE = 0x7B, 0x7D, 0x5D
_CASE_BIT = 0x20  # `[` | 0x20 == `{` and `]` | 0x20 == `}`: one comparison finds both

# a scalar `json` value (number, true, false, null) is looked for within this many bytes
_SCALAR_WINDOW = 32
# first and last bytes of numbers, true, false and null
_SCALAR_FIRST_BYTES = b"-0123456789tfn"
_SCALAR_LAST_BYTES = b"0123456789el"


class _SlowPath(Exception):
    """This line is decoded by the orjson plan: the fast decoder cannot vouch for its result."""


def iter_lines(f: IO[bytes]) -> Iterator[bytes]:
    """The lines of an open load file (gzipped or not, as `FileStorage.open_zipsafe_ro` opens
    it), read through a large buffer."""
    yield from io.BufferedReader(f, buffer_size=READ_BUFFER_BYTES)  # type: ignore[type-var]


class JsonlDecoder:
    """Decodes the lines of one typed-jsonl file for a table's columns (worked out once)."""

    def __init__(self, columns: Sequence[Dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.json as pajson

        from dlt_sqlalchemy.load.arrow_values import JsonlPlan

        self.plan: JsonlPlan = JsonlPlan(columns)
        self.schema: pa.Schema = self.plan.schema
        self._parse_options = pajson.ParseOptions(
            explicit_schema=pa.schema(list(self.plan.struct_type)),
            unexpected_field_behavior="ignore",
        )
        self._numpy: Any = None
        try:
            import numpy

            self._numpy = numpy
        except ImportError:  # pyarrow does not need numpy: then `},{` is replaced blindly
            pass
        self._json_keys: Dict[int, bytes] = {}
        self.fast = True
        for i, column in enumerate(self.plan.columns):
            if column.get("data_type") != "json":
                continue
            key = column["name"].encode("utf-8")
            # a name JSON could spell in more than one way (escapes) is not looked for as bytes
            if not key or any(b < 0x20 or b >= 0x7F or b in b'"\\' for b in key):
                self.fast = False
            self._json_keys[i] = key
        if self._json_keys and self._numpy is None:
            self.fast = False  # `json` values are found by the scan

    def decode(self, line: bytes) -> Optional[pa.RecordBatch]:
        """The batch of one line of the file; None for a blank line or an empty array."""
        if self.fast:
            try:
                return self._decode_fast(line)
            except _SlowPath:
                pass
        return self._decode_slow(line)

    def _decode_slow(self, line: bytes) -> Optional[pa.RecordBatch]:
        import orjson

        if not line.strip():
            return None
        rows = orjson.loads(line)
        return self.plan.batch(rows) if rows else None

    def _decode_fast(self, line: bytes) -> Optional[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.json as pajson

        from dlt_sqlalchemy.load.arrow_values import NotTagged, decoded, untagged_json_texts

        # no strip(): a copy of a line of a few MB costs page faults, not just the copying
        if not line or line.isspace():
            return None
        start, end = 0, len(line)
        while line[start] in _JSON_WHITESPACE:
            start += 1
        while line[end - 1] in _JSON_WHITESPACE:
            end -= 1
        if line[start] != ord("[") or line[end - 1] != ord("]") or end - start < 2:
            raise _SlowPath
        if end - start == 2:
            return None  # []
        # Arrow's JSON reader takes invalid UTF-8 into strings as it is; orjson refuses the line
        try:
            pa.Array.from_buffers(
                pa.binary(),
                1,
                [None, pa.array([start, end], pa.int32()).buffers()[1], pa.py_buffer(line)],
            ).cast(pa.string())
        except pa.ArrowInvalid:
            raise _SlowPath from None
        structure: Optional[_Structure] = None
        if self._numpy is not None:
            np = self._numpy
            structure = _Structure(np.frombuffer(line, np.uint8, end - start, start))
            rows, ndjson = structure.rows, structure.ndjson()
        else:
            text = line[start:end]
            if b"NaN" in text or b"Infinity" in text:
                raise _SlowPath  # Arrow's reader takes them, orjson refuses them
            rows = text.count(_ROW_SEPARATOR) + 1
            ndjson = pa.py_buffer(text.replace(_ROW_SEPARATOR, _ROW_SEPARATOR_NDJSON))[1:-1]
        try:
            table = pajson.read_json(
                pa.BufferReader(ndjson),
                read_options=pajson.ReadOptions(use_threads=False, block_size=ndjson.size + 1),
                parse_options=self._parse_options,
            )
        except pa.ArrowException:
            raise _SlowPath from None
        if table.num_rows != rows:
            raise _SlowPath
        plan = self.plan
        arrays: List[pa.Array] = []
        for i, (column, target) in enumerate(zip(plan.columns, plan.targets)):
            try:
                if i in self._json_keys:
                    assert structure is not None
                    texts = structure.member_texts(self._json_keys[i])
                    arrays.append(untagged_json_texts(texts))
                else:
                    field = table.column(plan.struct_index[i]).combine_chunks()
                    arrays.append(decoded(field, column, target))
            except (NotTagged, pa.ArrowException):
                raise _SlowPath from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class _Structure:
    """Where the strings, the brackets and the rows of one line `[{..},{..}]` are.

    One pass over the line finds its quotes and brackets; quotes escaped by an odd run of
    backslashes are dropped, brackets between an opening and a closing quote too. What is left
    gives the nesting depth after every bracket: the line's array is depth 1, the row objects
    depth 2. Arrow's parser checks every row afterwards; what it cannot check (the text between
    the rows) is checked here, so a line that is not compact JSON raises `_SlowPath`.
    """

    def __init__(self, data: np.ndarray) -> None:
        import numpy as np

        self.data = data
        # the quotes and brackets; few arrays of the line's size (each new one costs page faults)
        folded = data | _CASE_BIT
        marked = folded == _OPEN_CURLY
        found = np.equal(folded, _CLOSE_CURLY, out=folded.view(np.bool_))
        marked |= found
        marked |= np.equal(data, _QUOTE, out=found)
        # and the first letters of NaN and Infinity: Arrow's reader takes them, orjson refuses
        marked |= np.equal(data, ord("N"), out=found)
        marked |= np.equal(data, ord("I"), out=found)
        marks = np.flatnonzero(marked)
        kinds = np.take(data, marks)  # np.take: faster than indexing with an array
        is_quote = kinds == _QUOTE
        is_letter = (kinds == ord("N")) | (kinds == ord("I"))
        quotes = marks[is_quote]
        # a quote preceded by an odd run of backslashes is part of a string's text
        maybe_escaped = np.flatnonzero(np.take(data, quotes - 1) == _BACKSLASH)
        if maybe_escaped.size:
            ends = quotes[maybe_escaped] - 1
            run = np.zeros(ends.size, np.int64)
            live = np.arange(ends.size)
            while live.size:
                live = live[data[ends[live] - run[live]] == _BACKSLASH]
                run[live] += 1
            quotes = np.delete(quotes, maybe_escaped[run % 2 == 1])
        if quotes.size % 2:
            raise _SlowPath
        self.quotes = quotes  # the quotes that open and close strings, in pairs
        letters = marks[is_letter]
        if letters.size and np.any(np.searchsorted(quotes, letters) % 2 == 0):
            raise _SlowPath
        is_bracket = ~(is_quote | is_letter)
        brackets = marks[is_bracket]
        outside = np.searchsorted(quotes, brackets) % 2 == 0
        self.brackets = brackets[outside]
        self.opening = (kinds[is_bracket][outside] | _CASE_BIT) == _OPEN_CURLY
        self.depth = np.cumsum(self.opening.view(np.int8) * 2 - 1, dtype=np.int64)
        depth = self.depth
        if depth.size < 4 or depth[-1] != 0 or depth[:-1].min() < 1:
            raise _SlowPath
        self.row_starts = self.brackets[self.opening & (depth == 2)]
        row_ends = self.brackets[~self.opening & (depth == 1)]
        self.rows = int(self.row_starts.size)
        # `[` row (`,` row)* `]`, and every row an object
        self.separators = row_ends[:-1] + 1
        if (
            self.row_starts[0] != 1
            or row_ends[-1] != data.size - 2
            or not np.all(data[self.row_starts] == _OPEN_CURLY)
            or not np.all(data[self.separators] == _COMMA)
            or not np.array_equal(self.separators + 1, self.row_starts[1:])
        ):
            raise _SlowPath

    def ndjson(self) -> pa.Buffer:
        """The rows, one per line: the commas between them become newlines."""
        import pyarrow as pa

        lines = self.data.copy()
        lines[self.separators] = ord("\n")
        return pa.py_buffer(lines)[1:-1]

    def member_texts(self, key: bytes) -> pa.Array:
        """Per row, the JSON text of the row's member `key` (null where the row has none or
        it is JSON null), as `orjson.dumps(orjson.loads(value))` writes it: what the orjson
        plan gives.

        Compact JSON as orjson writes it is its own canonical form, and so is what dlt's
        simplejson writer produces, but for numbers in exponent notation. The values are taken
        as they are unless they hold something that could be written another way (see
        `_maybe_not_canonical`): then they all go through orjson, which costs as much as the
        rest of the line.
        """
        import numpy as np
        import pyarrow as pa

        starts, values_start, values_end = self._members(key)
        found = values_start.size
        row_of = np.searchsorted(self.row_starts, starts, side="right") - 1
        if found > 1 and not np.all(np.diff(row_of) > 0):
            raise _SlowPath  # a key twice in a row: orjson keeps the last
        if not found:
            return pa.nulls(self.rows, pa.string())
        # the values and the gaps between them, alternately: Arrow's take copies the values
        bounds = np.empty(2 * found, np.int64)
        bounds[0::2], bounds[1::2] = values_start, values_end
        line = pa.py_buffer(self.data)
        ranges = pa.Array.from_buffers(
            pa.large_binary(), 2 * found - 1, [None, pa.py_buffer(bounds), line]
        )
        # the values each with the byte after it (`,` or `}`), one after the other
        bounds_with_ends = bounds.copy()  # `ranges` shares `bounds`' memory
        bounds_with_ends[1::2] += 1
        with_ends = pa.Array.from_buffers(
            pa.large_binary(), 2 * found - 1, [None, pa.py_buffer(bounds_with_ends), line]
        ).take(pa.array(np.arange(0, 2 * found, 2)))
        ends = np.cumsum(values_end - values_start + 1) - 1
        joined = np.frombuffer(with_ends.buffers()[2], np.uint8, count=int(ends[-1]) + 1)
        index = np.full(self.rows, -1, np.int64)
        rewritten = _rewritten(joined, ends) if _maybe_not_canonical(joined) else None
        if rewritten is not None:
            index[row_of] = np.arange(found)
            texts = pa.array(rewritten, pa.binary())
        else:
            index[row_of] = np.arange(0, 2 * found, 2)
            is_null = (values_end - values_start == len(b"null")) & (
                self.data[values_start] == ord("n")
            )
            index[row_of[is_null]] = -1  # JSON null: None to orjson
            texts = ranges
        return texts.take(pa.array(index, mask=index < 0)).cast(pa.string())

    def _members(self, key: bytes) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where the row-level members named `key` start and where their values start and end
        (exclusive), in line order."""
        import numpy as np

        data = self.data
        opening, closing = self.quotes[0::2], self.quotes[1::2]
        size = len(key)
        candidates = np.flatnonzero((closing - opening - 1 == size) & (data[opening + 1] == key[0]))
        if candidates.size and size > 1:
            window = data[opening[candidates, None] + 1 + np.arange(size)]
            candidates = candidates[np.all(window == np.frombuffer(key, np.uint8), axis=1)]
        starts, ends = opening[candidates], closing[candidates]
        # the depth at a string is the depth after the last bracket before it
        row_level = self.depth[np.searchsorted(self.brackets, starts) - 1] == 2
        starts, ends = starts[row_level], ends[row_level]
        after = data[ends + 1]
        is_key = after == _COLON
        # a row-level string that is not a key is a value, followed by `,` or `}`
        if not np.all(is_key | (after == _COMMA) | (after == _CLOSE_CURLY)):
            raise _SlowPath
        starts, values_start = starts[is_key], ends[is_key] + 2
        first = data[values_start]
        values_end = np.empty_like(values_start)
        nested = (first | _CASE_BIT) == _OPEN_CURLY
        if nested.any():
            # the first bracket after the value's own that closes back to the row's depth
            closes_to_row = np.flatnonzero(~self.opening & (self.depth == 2))
            own = np.searchsorted(self.brackets, values_start[nested])
            values_end[nested] = (
                self.brackets[closes_to_row[np.searchsorted(closes_to_row, own)]] + 1
            )
        strings = first == _QUOTE
        if strings.any():
            values_end[strings] = (
                self.quotes[np.searchsorted(self.quotes, values_start[strings], side="right")] + 1
            )
        scalars = ~(nested | strings)
        if scalars.any():
            values_end[scalars] = self._scalar_ends(values_start[scalars])
        if not np.all((data[values_end] == _COMMA) | (data[values_end] == _CLOSE_CURLY)):
            raise _SlowPath
        return starts, values_start, values_end

    def _scalar_ends(self, starts: np.ndarray) -> np.ndarray:
        """Where numbers, true, false and null end: at the `,` or `}` after them."""
        import numpy as np

        data = self.data
        if not np.all(np.isin(data[starts], np.frombuffer(_SCALAR_FIRST_BYTES, np.uint8))):
            raise _SlowPath  # whitespace before the value
        window = data[np.minimum(starts[:, None] + np.arange(_SCALAR_WINDOW), data.size - 1)]
        stop = (window == _COMMA) | (window == _CLOSE_CURLY)
        if not np.all(stop.any(axis=1)):
            raise _SlowPath  # a number longer than the window: rare enough for the slow path
        ends: np.ndarray = starts + stop.argmax(axis=1)
        if not np.all(np.isin(data[ends - 1], np.frombuffer(_SCALAR_LAST_BYTES, np.uint8))):
            raise _SlowPath  # whitespace after the value
        return ends


def _rewritten(joined: np.ndarray, ends: np.ndarray) -> Optional[List[Optional[bytes]]]:
    """`orjson.dumps(orjson.loads(value))` of each value in `joined` (values one after the
    other, each followed by one byte, at `ends`), None for JSON null; or None when every value
    already is that text."""
    import orjson

    separated = joined.copy()
    separated[ends] = _COMMA
    document = b"[" + separated[:-1].tobytes() + b"]"
    try:
        values = orjson.loads(document)
    except orjson.JSONDecodeError:
        raise _SlowPath from None
    if len(values) != ends.size:
        raise _SlowPath
    if orjson.dumps(values) == document:
        return None
    dumps = orjson.dumps
    return [None if v is None else dumps(v) for v in values]


def _maybe_not_canonical(text: np.ndarray) -> bool:
    """Whether JSON text may hold something orjson writes differently once parsed: numbers in
    exponent notation (`1e-05`), `\\u` and `\\/` escapes, integers of 19 digits or more
    (beyond 64 bits orjson writes floats), fractions with trailing zeros (`1.50`) and `-0`.
    Matches inside strings are harmless: they only cost a check."""
    import numpy as np

    digit = (text - ord("0")) < 10  # uint8: anything below "0" wraps around to a large value
    after = text[1:]
    if np.any(digit[:-1] & ((after | _CASE_BIT) == ord("e"))):
        return True
    if np.any((text[:-1] == _BACKSLASH) & ((after == ord("u")) | (after == ord("/")))):
        return True
    edges = np.diff(digit.view(np.int8), prepend=0, append=0)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not starts.size:
        return False
    lengths = ends - starts
    if lengths.max() >= 19:
        return True
    before = text[np.maximum(starts - 1, 0)]
    ends_zero = text[ends - 1] == ord("0")
    fraction_zeros = (before == ord(".")) & ends_zero & (lengths > 1)
    fraction_follows = (ends < text.size) & (text[np.minimum(ends, text.size - 1)] == ord("."))
    minus_zero = (before == ord("-")) & ends_zero & (lengths == 1) & ~fraction_follows
    return bool(np.any(fraction_zeros | minus_zero))
