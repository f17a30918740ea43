"""typed-jsonl lines become the same Arrow batches through the fast decoder as through orjson.

The reference is the decoder the bulk paths had before (`orjson.loads` of the line, then
`arrow_values.JsonlPlan.batch`), which the fast decoder (`dlt_sqlalchemy.load.jsonl_arrow`) must
match value for value, schema included. Each case also says whether the fast path must take the line
(so a fast path that always gave up could not pass) or must hand it to orjson (where reading it
some other way could go wrong).
"""

from __future__ import annotations

import datetime
import gzip
import json as std_json
import random
from decimal import Decimal
from typing import Any, Dict, List, Optional

import orjson
import pyarrow as pa
import pytest
import simplejson
from dlt.common.json import json as dlt_json
from dlt.common.wei import Wei

from dlt_sqlalchemy.load import arrow_values, readers
from dlt_sqlalchemy.load.jsonl_arrow import JsonlDecoder, _SlowPath

UTC = datetime.timezone.utc
CEST = datetime.timezone(datetime.timedelta(hours=2))

COLUMNS: List[Dict[str, Any]] = [
    {"name": "id", "data_type": "bigint"},
    {"name": "txt", "data_type": "text"},
    {"name": "dbl", "data_type": "double"},
    {"name": "flag", "data_type": "bool"},
    {"name": "ts", "data_type": "timestamp"},
    {"name": "tsn", "data_type": "timestamp", "timezone": False},
    {"name": "d", "data_type": "date"},
    {"name": "t", "data_type": "time"},
    {"name": "dec", "data_type": "decimal", "precision": 38, "scale": 9},
    {"name": "wei", "data_type": "wei"},
    {"name": "bin", "data_type": "binary"},
    {"name": "attrs", "data_type": "json"},
    {"name": "_dlt_id", "data_type": "text"},
]

NASTY_TEXTS = [
    "},{",
    '"},{"attrs":{"x":1}},{"',
    "a},{b",
    "}]},[{",
    "line\nbreak\r\nand\ttab",
    'quote " and \\" and \\\\" and \\\\\\"',
    "back\\slash at the end\\",
    "\\",
    '"',
    "",
    "café ☕ naïve Zürich 日本語 😀 \u2028 \u0001 \x7f",
    "attrs",
    '"attrs":',
    "\uf026not a tag in a text column",
    "null",
    "1e5",
]


def old_batches(lines: List[bytes], columns: List[Dict[str, Any]]) -> List[pa.RecordBatch]:
    """What the orjson plan makes of the lines (blank lines and empty arrays give nothing)."""
    plan = arrow_values.JsonlPlan(columns)
    batches = []
    for line in lines:
        if line.strip() and (rows := orjson.loads(line)):
            batches.append(plan.batch(rows))
    return batches


def new_batches(
    lines: List[bytes], columns: List[Dict[str, Any]], fast: Optional[bool] = True
) -> List[pa.RecordBatch]:
    """The fast decoder's batches; `fast` True/False: every non-blank line must (not) be taken
    by the fast path, None: either."""
    decoder = JsonlDecoder(columns)
    batches = []
    for line in lines:
        if fast is not None and line.strip():
            try:
                decoder._decode_fast(line)
                took_fast = True
            except _SlowPath:
                took_fast = False
            assert took_fast is fast, f"fast path {'refused' if fast else 'took'}: {line[:200]!r}"
        batch = decoder.decode(line)
        if batch is not None:
            batches.append(batch)
    return batches


def assert_same(new: List[pa.RecordBatch], old: List[pa.RecordBatch]) -> None:
    assert len(new) == len(old)
    for got, expected in zip(new, old):
        assert got.schema == expected.schema
        for name in expected.schema.names:
            assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
        assert got.equals(expected)


def check(
    lines: List[bytes], columns: List[Dict[str, Any]] = COLUMNS, fast: Optional[bool] = True
) -> None:
    assert_same(new_batches(lines, columns, fast), old_batches(lines, columns))


def typed_line(rows: List[Dict[str, Any]]) -> bytes:
    """A line as dlt's typed-jsonl writer writes it."""
    return dlt_json.typed_dumpb(rows) + b"\n"


def full_row(i: int) -> Dict[str, Any]:
    return {
        "id": i,
        "txt": NASTY_TEXTS[i % len(NASTY_TEXTS)],
        "dbl": [0.5, -0.0, 1e-7, 1.5e300, -3868.714285714286, 100.0][i % 6],
        "flag": i % 2 == 0,
        "ts": datetime.datetime(2024, 1, 1, 12, 0, i % 60, 123456, tzinfo=[UTC, CEST][i % 2]),
        "tsn": datetime.datetime(1999, 12, 31, 23, 59, 59, i),
        "d": datetime.date(2000, 1, 1) + datetime.timedelta(days=i),
        "t": datetime.time(8, 30, i % 60, 999),
        "dec": [Decimal("1.5"), Decimal("1E-9"), Decimal("-1.5E+3"), Decimal("0.000000001")][i % 4],
        "wei": Wei(10**70 + i),
        "bin": bytes(range(i % 256)) + b"},{\n\x00",
        "attrs": {"i": i, "text": NASTY_TEXTS[(i + 3) % len(NASTY_TEXTS)]},
        "_dlt_id": f"id{i}",
    }


def test_every_type_and_nasty_text() -> None:
    lines = [typed_line([full_row(i) for i in range(j, j + 20)]) for j in range(0, 60, 20)]
    check(lines)


JSON_VALUES: List[Any] = [
    {"a": [{"x": 1}, {"y": 2}], "b": "},{"},
    [{"attrs": 1}, {"attrs": {"attrs": [1, {"k": "},{"}]}}],
    {"attrs": {"a": 1}, "z": [[], {}, [[]]]},
    {"when": datetime.datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "amount": Decimal("12.50")},
    {"day": datetime.date(2020, 2, 29), "blob": b"\x00\xff", "t": datetime.time(1, 2, 3)},
    {"f": [1e-7, 1e20, 1e16, -0.0, 0.1, 123.456, 2.5e-300], "i": [2**63 - 1, -(2**63), 0, -1]},
    {"ünïcödé 😀": "\u2028\U0001f600", "ctl": "\x00\x01\x1f\x7f", "q": '"\\/'},
    "a plain string",
    "\uf026 a string that looks tagged",
    "},{",
    12,
    -1.5,
    True,
    False,
    [],
    {},
    [None, None],
    {"n": None},
]


def test_json_values() -> None:
    columns = [
        {"name": "id", "data_type": "bigint"},
        {"name": "attrs", "data_type": "json"},
        {"name": "other", "data_type": "json"},
    ]
    rows = []
    for i, value in enumerate(JSON_VALUES):
        rows.append({"id": i, "attrs": value, "other": JSON_VALUES[-1 - i]})
        rows.append({"attrs": value, "id": -i})  # the json member first, `other` missing
        rows.append({"id": i, "other": {"attrs": value}})  # `attrs` only nested
    check([typed_line(rows), typed_line(rows[::-1])], columns)


def test_json_null_and_missing_members() -> None:
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "attrs", "data_type": "json"}]
    lines = [
        b'[{"id":1,"attrs":null},{"id":2},{"attrs":null,"id":3},{"id":4,"attrs":{"a":null}}]\n',
        b'[{"id":1},{"id":2}]\n',
        b'[{"attrs":null}]\n',
    ]
    check(lines, columns)


def test_nulls_everywhere_and_missing_columns() -> None:
    rows: List[Dict[str, Any]] = [{c["name"]: None for c in COLUMNS} for _ in range(3)]
    rows += [{}, {"id": 1}, {"txt": "only text"}]
    rows += [{"id": 2, "extra": {"not": ["in", "the", {"table": "},{"}]}, "txt": "x"}]
    check([typed_line(rows)])


def test_blank_lines_and_empty_arrays() -> None:
    rows = [full_row(i) for i in range(3)]
    lines = [b"\n", typed_line(rows), b"   \n", b"[]\n", typed_line(rows[:1]), b"\n"]
    check(lines, fast=None)
    assert len(new_batches(lines, COLUMNS, fast=None)) == 2


def test_value_against_its_column_goes_to_orjson() -> None:
    """Arrow's parser refuses what the struct conversion coerces (1.0 for a bigint, true for a
    double): the line goes to the orjson plan, and the batch is the same."""
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "dbl", "data_type": "double"}]
    check([b'[{"id":1.0}]\n', b'[{"id":1,"dbl":true}]\n', b'[{"id":1e2}]\n'], columns, fast=False)


def test_not_compact_json_goes_to_orjson() -> None:
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "attrs", "data_type": "json"}]
    rows = [{"id": 1, "attrs": {"a": [1, 2]}}, {"id": 2, "attrs": [1]}]
    spaced = std_json.dumps(rows).encode() + b"\n"  # ", " and ": "
    assert b", " in spaced
    check([spaced], columns, fast=False)
    check([b'[{"id":1,"attrs": {"a":1}}]\n', b'[{"id":1,"attrs":1 }]\n'], columns, fast=False)
    check([b'[{"id":1} , {"id":2}]\n', b' [{"id":1}]\n'], columns, fast=None)


def test_duplicate_keys_go_to_orjson() -> None:
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "attrs", "data_type": "json"}]
    check([b'[{"id":1,"attrs":1,"attrs":2}]\n', b'[{"id":1,"id":2}]\n'], columns, fast=False)


def test_json_written_by_simplejson() -> None:
    """dlt's simplejson writer (DLT_USE_JSON=simplejson) spells some numbers and escapes
    otherwise than orjson: the texts are still orjson's. One line per spelling, so that each
    is noticed on its own."""
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "attrs", "data_type": "json"}]
    cases = [
        ({"f": [1e-05, 1.5e-07]}, '{"f":[0.00001,1.5e-7]}'),
        ({"f": 1e16}, '{"f":1e+16}'),
        ({"big": 2**70}, '{"big":1.1805916207174113e+21}'),
        ({"neg": -(2**64)}, '{"neg":-1.8446744073709552e+19}'),
        ({"s": "\x01 é"}, '{"s":"\\u0001 é"}'),
    ]
    for value, expected in cases:
        for ensure_ascii in (False, True):
            line = simplejson.dumps(
                [{"id": 1, "attrs": value}, {"id": 2, "attrs": {"a": 1}}],
                separators=(",", ":"),
                ensure_ascii=ensure_ascii,
            ).encode()
            check([line + b"\n"], columns)
            texts = new_batches([line + b"\n"], columns)[0].column("attrs").to_pylist()
            assert texts == [expected, '{"a":1}']


@pytest.mark.parametrize(
    "text, expected",
    [
        (b"1.50", "1.5"),
        (b"[2.000]", "[2.0]"),
        (b"-0", "0"),
        (b"[1,-0]", "[1,0]"),
        (b"1E2", "100.0"),
        (b"1e2", "100.0"),
        (b'"\\/"', '"/"'),
        (b'"\\u00e9"', '"é"'),
        (b"123456789012345678901", "1.2345678901234568e+20"),
    ],
)
def test_json_spelled_otherwise_than_orjson(text: bytes, expected: str) -> None:
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "attrs", "data_type": "json"}]
    lines = [b'[{"id":1,"attrs":' + text + b'},{"id":2,"attrs":[0.5,-0.5,-0.0,10]}]\n']
    check(lines, columns)
    texts = new_batches(lines, columns)[0].column("attrs").to_pylist()
    assert texts == [expected, "[0.5,-0.5,-0.0,10]"]


def test_invalid_lines_fail_as_before() -> None:
    columns = [{"name": "id", "data_type": "bigint"}, {"name": "attrs", "data_type": "json"}]
    for line in [b'[{"id":1}\n', b'[{"id":1,"attrs":[1e400]}]\n', b'[{"id":"\\ud800"}]\n']:
        with pytest.raises(orjson.JSONDecodeError):
            new_batches([line], columns, fast=False)


def test_json_column_name_needing_escapes_uses_orjson() -> None:
    columns = [{"name": "id", "data_type": "bigint"}, {"name": 'we"ird', "data_type": "json"}]
    decoder = JsonlDecoder(columns)
    assert not decoder.fast
    check([typed_line([{"id": 1, 'we"ird': {"a": 1}}, {"id": 2}])], columns, fast=None)


def test_without_numpy_the_rows_are_split_blindly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numpy `},{` is replaced everywhere; inside a string that breaks the text Arrow
    parses, and the line goes to orjson."""
    columns = [c for c in COLUMNS if c["data_type"] != "json"]
    monkeypatch.setattr(JsonlDecoder, "__init__", _init_without_numpy)
    plain = [dict(full_row(i), txt="plain") for i in range(5)]
    check([typed_line(plain)], columns, fast=True)
    check([typed_line([full_row(i) for i in range(5)])], columns, fast=False)
    assert not JsonlDecoder(COLUMNS).fast  # `json` values need the scan


_original_init = JsonlDecoder.__init__


def _init_without_numpy(self: JsonlDecoder, columns: Any) -> None:
    _original_init(self, columns)
    self._numpy = None
    if self._json_keys:
        self.fast = False


def random_text(rng: random.Random) -> str:
    alphabet = 'ab},{[]":\\\n\t é😀\uf026\u2028 0e-.'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return random_text(rng)
    if kind == 1:
        return rng.randrange(-(10**12), 10**12)
    if kind == 2:
        return rng.choice([0.5, -0.0, 1e-7, 1e22, rng.random() * 10 ** rng.randrange(-8, 20)])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.choice([Decimal("1.10"), datetime.date(2021, 3, 4), b"\x01\x02"])
    if kind == 5:
        return "attrs"
    if kind in (6, 7):
        return {
            rng.choice(["attrs", "a", random_text(rng)]): random_json(rng, depth + 1)
            for _ in range(rng.randrange(0, 4))
        }
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]


@pytest.mark.parametrize("seed", range(5))
def test_random_rows(seed: int) -> None:
    rng = random.Random(seed)
    columns = [
        {"name": "id", "data_type": "bigint"},
        {"name": "txt", "data_type": "text"},
        {"name": "attrs", "data_type": "json"},
        {"name": "meta", "data_type": "json"},
    ]
    lines = []
    for _ in range(5):
        rows = []
        for i in range(200):
            row: Dict[str, Any] = {"id": i, "txt": random_text(rng)}
            for name in ("attrs", "meta", "extra"):
                if rng.random() < 0.8:
                    row[name] = random_json(rng)
            keys = list(row)
            rng.shuffle(keys)
            rows.append({k: row[k] for k in keys})
        lines.append(typed_line(rows))
    check(lines, columns)


@pytest.mark.parametrize("compressed", [True, False])
def test_file_readers_in_process_and_in_subprocesses(tmp_path: Any, compressed: bool) -> None:
    lines = [typed_line([full_row(i) for i in range(j, j + 7)]) for j in range(0, 70, 7)]
    lines.insert(3, b"\n")
    payload = b"".join(lines)
    path = tmp_path / "t.typed-jsonl"
    path.write_bytes(gzip.compress(payload) if compressed else payload)
    expected = old_batches(lines, COLUMNS)
    assert_same(list(readers.read_typed_jsonl_arrow(str(path), COLUMNS)), expected)
    assert_same(list(readers.read_typed_jsonl_arrow(str(path), COLUMNS, 3)), expected)
    assert_same(list(readers.read_arrow(str(path), "typed-jsonl", COLUMNS, 1000)), expected)
    in_subprocesses = list(readers.read_typed_jsonl_arrow_in_subprocess(str(path), COLUMNS, 2))
    assert_same([b for b in in_subprocesses if b.num_rows], expected)


def test_tagged_columns_with_nulls_are_cast_by_arrow() -> None:
    """A NULL is no untagged value: a column with NULLs is still untagged and cast by Arrow's
    kernels, and gives what dlt's decoders give value by value."""
    rows = [full_row(i) for i in range(12)]
    for i in range(0, 12, 3):
        rows[i] = {name: None for name in rows[i]}
    data = orjson.loads(typed_line(rows))
    plan = arrow_values.JsonlPlan(COLUMNS)
    struct = pa.array(data, type=plan.struct_type)
    for i, (column, target) in enumerate(zip(plan.columns, plan.targets)):
        if column["data_type"] not in arrow_values.PUA_TYPES:
            continue
        field = struct.field(plan.struct_index[i])
        assert field.null_count == 4
        by_arrow = arrow_values.decoded(field, column, target)  # raised NotTagged before
        in_python = arrow_values.decoded_in_python(data, column, target)
        assert by_arrow.equals(in_python), column["name"]


def test_threads_stop_early_and_pass_errors_on(tmp_path: Any) -> None:
    lines = [typed_line([full_row(i) for i in range(j, j + 5)]) for j in range(0, 100, 5)]
    path = tmp_path / "t.typed-jsonl"
    path.write_bytes(b"".join(lines))
    reader = readers.read_typed_jsonl_arrow(str(path), COLUMNS, 2)
    assert next(reader).num_rows == 5
    reader.close()  # the pool's threads end with it
    lines[7] = b'[{"id":1,"txt":"cut off here\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(orjson.JSONDecodeError):
        list(readers.read_typed_jsonl_arrow(str(path), COLUMNS, 2))


@pytest.mark.parametrize("numpy_installed", [True, False])
def test_what_orjson_refuses_fails_as_before(
    monkeypatch: pytest.MonkeyPatch, numpy_installed: bool
) -> None:
    """Arrow's reader takes NaN, Infinity and invalid UTF-8 into its columns; orjson refuses
    them, so the line goes to orjson and fails as it did."""
    if not numpy_installed:
        monkeypatch.setattr(JsonlDecoder, "__init__", _init_without_numpy)
    columns = [{"name": "dbl", "data_type": "double"}, {"name": "txt", "data_type": "text"}]
    for line in [
        b'[{"dbl":NaN}]\n',
        b'[{"dbl":-Infinity,"txt":"x"}]\n',
        b'[{"dbl":1.5,"txt":"\xff"}]\n',
        b'[{"txt":"ok"},{"txt":"caf\xc3"}]\n',
    ]:
        with pytest.raises(orjson.JSONDecodeError):
            new_batches([line], columns, fast=False)
    # the same letters inside strings are only text (without numpy: a check that cannot tell)
    fast = True if numpy_installed else None
    check([b'[{"dbl":1.5,"txt":"NaN Infinity \xc3\xa9"}]\n'], columns, fast=fast)
