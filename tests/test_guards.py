"""Guards of follow-up statements: their text form survives dlt's file handling unchanged."""

from __future__ import annotations

from typing import List

import pytest

from dlt_sqlalchemy.followup import guards

NASTY = ["t;1", "a*/b", "c}{d", 'q"u\\o', "ümlaut", "x/*y"]


@pytest.mark.parametrize("name", NASTY)
def test_guards_round_trip_whatever_the_names(name: str) -> None:
    """A guard is one line with no `;` (dlt splits files on it) and no early end of comment,
    whatever the table names hold, and decodes to what was encoded."""
    for guard in (
        guards.TablesExist(((name, name), (None, "plain"))),
        guards.IndexMissing((name, name), name),
    ):
        line = guards.encode("DROP TABLE x", guard)
        assert ";" not in line and "\n" not in line
        assert line.count("*/") == 1
        assert guards.decode(line) == (guard, "DROP TABLE x")


def test_plain_lines_have_no_guard() -> None:
    assert guards.decode("  DELETE FROM t  ") == (None, "DELETE FROM t")
    # a user comment is not a guard
    assert guards.decode("/* note */ DELETE FROM t") == (None, "/* note */ DELETE FROM t")


class _Caps:
    """Answers the two questions guards ask, from fixed sets."""

    def __init__(self, tables: List[str], indexes: List[str]) -> None:
        self.tables, self.indexes = tables, indexes
        self.listed: List[str] = []

    def list_tables(self, connection: object, schema: str) -> List[str]:
        self.listed.append(schema)
        return self.tables

    def has_index(self, connection: object, schema: object, table: str, name: str) -> bool:
        return name in self.indexes


def test_statements_to_run_judges_each_guard_once() -> None:
    staged = guards.TablesExist((("s", "a"), ("s", "b")))
    index = guards.IndexMissing(("d", "a"), "ix")
    lines = [(None, "DROP old"), (staged, "RENAME 1"), (staged, "RENAME 2"), (index, "CREATE ix")]
    caps = _Caps(["a", "b"], [])
    assert guards.statements_to_run(lines, None, caps) == [  # type: ignore[arg-type]
        "DROP old",
        "RENAME 1",
        "RENAME 2",
        "CREATE ix",
    ]
    assert caps.listed == ["s"]
    gone = _Caps([], ["ix"])
    assert guards.statements_to_run(lines, None, gone) == ["DROP old"]  # type: ignore[arg-type]
    with pytest.raises(guards.GuardConflict, match=r"`s\.b`.*half-way"):
        guards.statements_to_run(lines, None, _Caps(["a"], []))  # type: ignore[arg-type]
