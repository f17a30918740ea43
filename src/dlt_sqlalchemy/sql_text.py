"""SQL text compiled for running as it is, without parameters.

For drivers of the `format` / `pyformat` paramstyles, SQLAlchemy writes every `%` of a compiled
statement twice (in quoted identifiers and literal strings alike), because it expects the
driver to substitute parameters into the text, which turns `%%` back into `%`. Text that runs
without parameters (a COPY or LOAD DATA through the driver's own API, a follow-up job's
statements, which run as `sqlalchemy.text()` and are escaped again there) must carry each `%`
once, or a column named `pct%` becomes `pct%%` and is not found.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def doubles_percents(dialect: sa.engine.interfaces.Dialect) -> bool:
    """Whether `dialect` writes `%` as `%%` in compiled statements."""
    return bool(getattr(dialect.identifier_preparer, "_double_percents", False))


def unescaped(compiled: str, dialect: sa.engine.interfaces.Dialect) -> str:
    """`compiled` (SQL text from `dialect`'s compiler) with each `%` once."""
    return compiled.replace("%%", "%") if doubles_percents(dialect) else compiled


def compile_text(
    element: sa.ClauseElement, dialect: sa.engine.interfaces.Dialect, literal_binds: bool = False
) -> str:
    """`element` as SQL text to run without parameters."""
    kwargs: Any = {"compile_kwargs": {"literal_binds": True}} if literal_binds else {}
    return unescaped(str(element.compile(dialect=dialect, **kwargs)), dialect)
