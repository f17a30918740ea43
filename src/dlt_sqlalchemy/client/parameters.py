"""Positional query parameters, as dlt's SQL clients take them, bound through SQLAlchemy.

dlt's code and its users pass positional values with the placeholder that the driver's
`paramstyle` names (`sql_client.dbapi.paramstyle`): `%s` for `format` / `pyformat` drivers, `?`
for `qmark` ones (sqlite3, DuckDB). `sa.text()` knows only named binds, so each placeholder
outside string literals and quoted identifiers becomes `:arg<n>`, and the values go through
SQLAlchemy's bind processing like every other statement of ours.

Values passed by name take SQLAlchemy's `:name`, or `%(name)s` as `pyformat` drivers spell it.

`%s` is taken on every driver (dlt's own SQL is written with it); `?` only where the driver's
style is `qmark` or `numeric`, since elsewhere it may be an operator (PostgreSQL's JSONB `?`).
In a query with `%s` placeholders, `%%` is a literal `%` anywhere, string literals included (the
`format` convention: the driver formats the whole text); SQLAlchemy doubles it again for the
drivers that need it. A query whose placeholders do not match the values in number is not
rewritten: it goes to the driver as written, which refuses it with its own DB-API error, and
that error is translated like any other.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

QMARK_STYLES = frozenset({"qmark", "numeric"})
_QUOTES = "'\"`"
_PYFORMAT_NAME = re.compile(r"%\((\w+)\)s")


def _tokens(query: str, question_marks: bool) -> Iterator[Tuple[str, str]]:
    """`query` as ("sql", text) runs and its placeholders outside quotes: ("%s", ""),
    ("?", ""), ("name", <name>) for `%(name)s`. `%%` stays in the text, as written."""
    start = i = 0
    n = len(query)
    while i < n:
        char = query[i]
        if char in _QUOTES:
            i = _closing_quote(query, i)
            continue
        token: Optional[Tuple[str, str]] = None
        end = i + 1
        if char == "%" and query.startswith("%%", i):
            i += 2
            continue
        if char == "%" and query.startswith("%s", i):
            token, end = ("%s", ""), i + 2
        elif char == "%" and (named := _PYFORMAT_NAME.match(query, i)):
            token, end = ("name", named.group(1)), named.end()
        elif char == "?" and question_marks:
            token = ("?", "")
        if token is None:
            i += 1
            continue
        yield "sql", query[start:i]
        yield token
        start = i = end
    yield "sql", query[start:]


def split_placeholders(query: str, question_marks: bool) -> Optional[List[str]]:
    """`query` cut at its positional placeholders (n placeholders give n + 1 pieces), or None
    when it has none. With a `%s` among them, `%%` is undone in every piece."""
    pieces = [""]
    kinds = set()
    for kind, text in _tokens(query, question_marks):
        if kind == "sql":
            pieces[-1] += text
        elif kind in ("%s", "?"):
            kinds.add(kind)
            pieces.append("")
        else:  # a `%(name)s` among positional values is text, as DB-API's format style has it
            pieces[-1] += f"%({text})s"
    if not kinds:
        return None
    return [piece.replace("%%", "%") for piece in pieces] if "%s" in kinds else pieces


def _closing_quote(query: str, start: int) -> int:
    """The index after the quoted span opened at `start` (a doubled quote stays inside)."""
    quote = query[start]
    i = start + 1
    while i < len(query):
        if query[i] == quote:
            if i + 1 < len(query) and query[i + 1] == quote:
                i += 2
                continue
            return i + 1
        if query[i] == "\\" and quote != "`":
            i += 2  # MySQL-style backslash escapes; harmless elsewhere
            continue
        i += 1
    return len(query)


def to_named(
    query: str, args: Sequence[Any], paramstyle: Optional[str]
) -> Optional[Tuple[str, Dict[str, Any]]]:
    """`query` with its positional placeholders named `:arg0`, `:arg1`... and the values by
    name; None when the placeholders do not match `args` in number."""
    pieces = split_placeholders(query, question_marks=paramstyle in QMARK_STYLES)
    if pieces is None or len(pieces) - 1 != len(args):
        return None
    names = [f"arg{i}" for i in range(len(args))]
    text = pieces[0] + "".join(f":{name}{piece}" for name, piece in zip(names, pieces[1:]))
    return text, dict(zip(names, args))


def pyformat_to_named(query: str) -> Optional[str]:
    """`query` with its `%(name)s` placeholders (the `pyformat` style, for values passed by
    name) as SQLAlchemy's `:name` and `%%` undone; None when it has no such placeholder."""
    out: List[str] = []
    found = False
    for kind, text in _tokens(query, question_marks=False):
        if kind == "name":
            out.append(f":{text}")
            found = True
        else:
            out.append(text if kind == "sql" else "%s")
    return "".join(out).replace("%%", "%") if found else None


# what `sqlalchemy.text()` reads as a bind parameter (its own pattern)
_TEXT_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def without_binds(query: str) -> str:
    """`query`, to run without parameters, with every `:name` that `sqlalchemy.text()` would
    take for a bind parameter escaped: a quoted identifier `"x :y"` or a literal `'12 :30'`
    stays as written."""
    return _TEXT_BIND.sub(r"\\:\1", query)
