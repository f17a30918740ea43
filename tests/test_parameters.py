"""Positional placeholders found outside quotes, per paramstyle (no database needed)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import pytest

from dlt_sqlalchemy.client.parameters import (
    pyformat_to_named,
    split_placeholders,
    to_named,
    without_binds,
)

TWO = (1, 2)
NAMED_TWO = {"arg0": 1, "arg1": 2}


@pytest.mark.parametrize(
    "query, paramstyle, args, expected",
    [
        ("a = %s AND b = %s", "format", TWO, ("a = :arg0 AND b = :arg1", NAMED_TWO)),
        ("a = ? AND b = %s", "qmark", TWO, ("a = :arg0 AND b = :arg1", NAMED_TWO)),
        ("a LIKE 'x%%' AND b = %s", "pyformat", (1,), ("a LIKE 'x%' AND b = :arg0", {"arg0": 1})),
        ("a LIKE 'x%%' AND b = ?", "qmark", (1,), ("a LIKE 'x%%' AND b = :arg0", {"arg0": 1})),
        # `?` is a placeholder only for qmark drivers (elsewhere: one placeholder, two values)
        ("a = '%s' || %s AND c = ?", "format", TWO, None),
        ("a = '%s' || %s AND c = ?", "qmark", TWO, ("a = '%s' || :arg0 AND c = :arg1", NAMED_TWO)),
        ('"w?" = %s AND `b?` = %s', "qmark", TWO, ('"w?" = :arg0 AND `b?` = :arg1', NAMED_TWO)),
        ("a = 'it''s ?' AND b = %s", "qmark", (1,), ("a = 'it''s ?' AND b = :arg0", {"arg0": 1})),
        ("a = 'x\\'?' AND b = %s", "qmark", (1,), ("a = 'x\\'?' AND b = :arg0", {"arg0": 1})),
        ("a = %s", "format", TWO, None),
        ("a = 1", "format", (1,), None),
    ],
)
def test_to_named(
    query: str, paramstyle: str, args: Tuple[Any, ...], expected: Optional[Tuple[str, Any]]
) -> None:
    assert to_named(query, args, paramstyle) == expected


def test_percent_literal_is_undone_only_around_placeholders() -> None:
    assert split_placeholders("100%% done", question_marks=False) is None
    assert split_placeholders("100%% = %s", question_marks=False) == ["100% = ", ""]
    assert split_placeholders("'%%' = ?", question_marks=True) == ["'%%' = ", ""]
    assert split_placeholders("x ? y", question_marks=False) is None  # JSONB operator stays


def test_pyformat_names_become_sqlalchemy_binds() -> None:
    assert pyformat_to_named("a = %(date)s AND b LIKE 'x%%'") == "a = :date AND b LIKE 'x%'"
    assert pyformat_to_named("a = '%(date)s' AND b = %(b)s") == "a = '%(date)s' AND b = :b"
    assert pyformat_to_named("a = :date") is None


def test_colons_of_sql_run_without_parameters_are_not_binds() -> None:
    import sqlalchemy as sa

    query = """SELECT "x :y", '12 :30', a::text FROM t"""
    assert without_binds(query) == """SELECT "x \\:y", '12 \\:30', a::text FROM t"""
    assert sa.text(without_binds(query)).compile().params == {}
    assert str(sa.text(without_binds(query))) == query
