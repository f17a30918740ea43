"""The checks of the conformance kit, as plain functions over a `ConformanceTarget`.

A check passes by returning, fails by raising, and is not applicable (the destination does not
declare that capability for this dialect) by raising `NotApplicable`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import tempfile
import traceback
from decimal import Decimal
from typing import Any, Callable, Dict, Iterator, List, Literal, Optional, Tuple

import dlt

from dlt_sqlalchemy.testing.target import ConformanceTarget

TOutcome = Literal["passed", "failed", "not applicable"]
TCheck = Callable[[ConformanceTarget], None]

_UTC = datetime.timezone.utc
_CEST = datetime.timezone(datetime.timedelta(hours=2))


class NotApplicable(Exception):
    """The capability is not declared for this dialect, so there is nothing to check."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    check: str
    outcome: TOutcome
    detail: str = ""


# --- types --------------------------------------------------------------------------------------

# sample name -> (column hints with the dlt data type, a value that exercises it)
TYPE_SAMPLES: Dict[str, Tuple[Dict[str, Any], Any]] = {
    "text": ({"data_type": "text"}, "tab\t new line\n 'single' \"double\" back\\slash ü☃😀"),
    "text_precision": ({"data_type": "text", "precision": 32}, "bounded ü☃"),
    "bigint": ({"data_type": "bigint"}, -9223372036854775808),
    "bigint_16": ({"data_type": "bigint", "precision": 16}, -32768),
    "double": ({"data_type": "double"}, 0.1 + 0.2),
    "bool": ({"data_type": "bool"}, True),
    "timestamp": (
        {"data_type": "timestamp"},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=_CEST),
    ),
    "timestamp_naive": (
        {"data_type": "timestamp", "timezone": False},
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456),
    ),
    "date": ({"data_type": "date"}, datetime.date(2024, 2, 29)),
    "time": ({"data_type": "time"}, datetime.time(23, 59, 58, 123456)),
    "decimal": ({"data_type": "decimal"}, lambda caps: fitting_decimal(*caps.decimal_precision)),
    "decimal_10_2": (
        {"data_type": "decimal", "precision": 10, "scale": 2},
        Decimal("12345678.91"),
    ),
    "wei": (
        {"data_type": "wei"},
        lambda caps: fitting_decimal(min(caps.wei_precision[0], 38), caps.wei_precision[1], "+"),
    ),
    "json": ({"data_type": "json"}, {"a": [1, {"b": "ü☃"}], "n": None, "q": 'say "hi"'}),
    "binary": ({"data_type": "binary"}, b"\x00\x01\xff binary\n"),
}


def fitting_decimal(precision: int, scale: int, sign: str = "-") -> Decimal:
    """A decimal using every digit a `DECIMAL(precision, scale)` declares: the widest value the
    dialect says it holds, not more (a dialect declaring 18 digits is right to refuse 38). For
    the default (38, 9): -12345678901234567890123456789.123456789. Built from text: Decimal
    arithmetic would round to 28 digits."""
    digits = "1234567890" * (precision // 10 + 1)
    whole, fraction = digits[: precision - scale] or "0", digits[:scale]
    return Decimal(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}")


def _type_check(sample: str) -> TCheck:
    column, sample_value = TYPE_SAMPLES[sample]
    data_type = column["data_type"]

    def check(target: ConformanceTarget) -> None:
        pipeline = target.pipeline()
        capabilities = pipeline.destination.capabilities()
        value = sample_value(capabilities) if callable(sample_value) else sample_value

        @dlt.resource(name="typed", columns={"v": column, "id": {"data_type": "bigint"}})
        def typed() -> Iterator[Any]:
            yield [{"id": 1, "v": value}, {"id": 2, "v": None}]

        pipeline.run(typed())
        rows = target.read(pipeline, "typed", ["id"])
        assert len(rows) == 2, f"expected 2 rows, read {len(rows)}"
        assert rows[1]["v"] is None, f"NULL came back as {rows[1]['v']!r}"
        precision = capabilities.timestamp_precision
        got = rows[0]["v"]
        assert _same(data_type, value, got, precision), f"wrote {value!r}, read {got!r}"

    check.__doc__ = f"A `{sample}` value and a NULL load and read back equal."
    return check


def _same(data_type: str, expected: Any, got: Any, precision: int) -> bool:
    """Equality as a user would judge it: the same instant, the same number, the same JSON."""
    if data_type == "timestamp":
        got = got if isinstance(got, datetime.datetime) else datetime.datetime.fromisoformat(got)
        if expected.tzinfo is not None:
            got = got if got.tzinfo is not None else got.replace(tzinfo=_UTC)
            delta = abs(got - expected)
        else:
            delta = abs(got.replace(tzinfo=None) - expected)
        return bool(delta < datetime.timedelta(microseconds=10 ** (6 - min(precision, 6))))
    if data_type == "time":
        got = got if isinstance(got, datetime.time) else datetime.time.fromisoformat(str(got))
        tolerance = 10 ** (6 - min(precision, 6))
        return bool(abs(_microseconds(got) - _microseconds(expected)) < tolerance)
    if data_type == "date":
        got = got.date() if isinstance(got, datetime.datetime) else got
        return bool(got == expected)
    if data_type in ("decimal", "wei"):
        return bool(Decimal(str(got)) == expected)
    if data_type == "double":
        return math.isclose(float(got), float(expected), rel_tol=1e-15)
    if data_type == "bool":
        return bool(got) is expected
    if data_type == "json":
        return bool((json.loads(got) if isinstance(got, str) else got) == expected)
    if data_type == "binary":
        return bool(bytes(got) == expected)
    return bool(got == expected)


def _microseconds(t: datetime.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 10**6 + t.microsecond


# --- schema and dispositions --------------------------------------------------------------------


def check_schema_evolution(target: ConformanceTarget) -> None:
    """A column added between two loads is created; earlier rows read NULL in it."""
    pipeline = target.pipeline()
    pipeline.run([{"id": 1, "name": "a"}], table_name="evolving")
    pipeline.run([{"id": 2, "name": "b", "rating": 1500}], table_name="evolving")
    rows = target.read(pipeline, "evolving", ["id"])
    assert [(r["id"], r["name"], r["rating"]) for r in rows] == [(1, "a", None), (2, "b", 1500)]


def check_nested_tables(target: ConformanceTarget) -> None:
    """Nested lists become child tables linked to their parent rows."""
    pipeline = target.pipeline()
    pipeline.run([{"id": 1, "moves": [{"san": "e4"}, {"san": "e5"}]}], table_name="games")
    children = target.read(pipeline, "games__moves", ["_dlt_list_idx"])
    parents = target.read(pipeline, "games", ["id"])
    assert [c["san"] for c in children] == ["e4", "e5"]
    assert {c["_dlt_parent_id"] for c in children} == {parents[0]["_dlt_id"]}


def check_append(target: ConformanceTarget) -> None:
    """Two append runs keep the rows of both."""
    pipeline = target.pipeline()
    pipeline.run([{"id": 1}], table_name="appended")
    pipeline.run([{"id": 2}], table_name="appended")
    assert [r["id"] for r in target.read(pipeline, "appended", ["id"])] == [1, 2]


def _replace_check(strategy: str) -> TCheck:
    def check(target: ConformanceTarget) -> None:
        pipeline = target.pipeline(destination=target.destination(replace_strategy=strategy))
        if strategy not in pipeline.destination.capabilities().supported_replace_strategies:
            raise NotApplicable(f"replace strategy `{strategy}` is not declared")
        for ids in ([1, 2, 3], [7, 8]):
            rows = [{"id": i, "tags": [{"tag": f"t{i}"}]} for i in ids]
            pipeline.run(rows, table_name="replaced", write_disposition="replace")
        assert [r["id"] for r in target.read(pipeline, "replaced", ["id"])] == [7, 8]
        tags = [r["tag"] for r in target.read(pipeline, "replaced__tags", ["tag"])]
        assert tags == ["t7", "t8"]

    check.__doc__ = f"`replace` with `{strategy}` leaves exactly the last run's rows."
    return check


def _merge_check(strategy: str) -> TCheck:
    def check(target: ConformanceTarget) -> None:
        pipeline = target.pipeline()
        if strategy not in (pipeline.destination.capabilities().supported_merge_strategies or []):
            raise NotApplicable(f"merge strategy `{strategy}` is not declared")
        hints: Dict[str, Any] = {
            "write_disposition": {"disposition": "merge", "strategy": strategy}
        }
        if strategy != "scd2":
            hints["primary_key"] = "id"

        @dlt.resource(name="merged", **hints)
        def merged(rows: List[Dict[str, Any]]) -> Iterator[Any]:
            yield rows

        pipeline.run(merged([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]))
        pipeline.run(merged([{"id": 1, "v": "c"}, {"id": 2, "v": "b"}, {"id": 3, "v": "d"}]))
        rows = target.read(pipeline, "merged", ["id"])
        if strategy == "scd2":
            current = sorted(r["v"] for r in rows if r["_dlt_valid_to"] is None)
            assert current == ["b", "c", "d"], current
            return
        got = [(r["id"], r["v"]) for r in rows]
        # insert-only adds new keys and never touches existing rows; the others update them
        first = "a" if strategy == "insert-only" else "c"
        assert got == [(1, first), (2, "b"), (3, "d")], got
        if strategy == "cdc":
            # a snapshot without key 2 deletes it
            pipeline.run(merged([{"id": 1, "v": "c"}, {"id": 3, "v": "e"}]))
            got = [(r["id"], r["v"]) for r in target.read(pipeline, "merged", ["id"])]
            assert got == [(1, "c"), (3, "e")], got

    check.__doc__ = (
        f"`merge` with `{strategy}` inserts new keys and treats existing ones as defined."
    )
    return check


def check_state_sync(target: ConformanceTarget) -> None:
    """A pipeline with a wiped working dir restores its state and schema from the destination."""
    name = f"kit_state_{datetime.datetime.now().strftime('%H%M%S%f')}"

    @dlt.resource(name="stateful")
    def stateful() -> Iterator[Any]:
        state = dlt.current.resource_state()
        state["runs"] = state.get("runs", 0) + 1
        yield {"run": state["runs"]}

    pipeline = target.pipeline(pipeline_name=name)
    pipeline.run(stateful())
    pipeline.run(stateful())
    dataset = pipeline.dataset_name
    pipeline.drop()
    restored = target.pipeline(pipeline_name=name, dataset_name=dataset)
    restored.sync_destination()
    source_state = restored.state["sources"][str(restored.default_schema_name)]
    runs = source_state["resources"]["stateful"]["runs"]
    assert runs == 2, f"restored state counts {runs} runs, expected 2"


CHECKS: Dict[str, TCheck] = {
    **{f"types.{sample}": _type_check(sample) for sample in TYPE_SAMPLES},
    "schema_evolution": check_schema_evolution,
    "nested_tables": check_nested_tables,
    "append": check_append,
    **{
        f"replace.{s}": _replace_check(s)
        for s in ("truncate-and-insert", "insert-from-staging", "staging-optimized")
    },
    **{
        f"merge.{s}": _merge_check(s)
        for s in ("delete-insert", "scd2", "upsert", "insert-only", "cdc")
    },
    "state_sync": check_state_sync,
}
"""Every check by name, in the order the kit runs them."""


def run_check(name: str, target: ConformanceTarget) -> CheckResult:
    """Runs one check and reports its outcome instead of raising."""
    try:
        CHECKS[name](target)
    except NotApplicable as ex:
        return CheckResult(name, "not applicable", str(ex))
    except Exception as ex:
        last = traceback.format_exception_only(type(ex), ex)[-1].strip()
        return CheckResult(name, "failed", last)
    finally:
        target.cleanup()
    return CheckResult(name, "passed")


def run_conformance(
    credentials: Any, workdir: Optional[str] = None, **destination_kwargs: Any
) -> List[CheckResult]:
    """Runs every check against `credentials` (a URL or Engine) and returns the outcomes."""
    with tempfile.TemporaryDirectory() as scratch:
        target = ConformanceTarget(credentials, workdir or scratch, **destination_kwargs)
        return [run_check(name, target) for name in CHECKS]
