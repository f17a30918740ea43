"""A sqlglot dialect for Firebird, which sqlglot does not have: dataset reads are transpiled.

Firebird speaks ANSI SQL closely enough for what `pipeline.dataset()` generates (double-quoted
identifiers, standard joins and aggregates) except for row limits: it has no `LIMIT` and takes
the SQL:2008 `OFFSET ... ROWS FETCH FIRST n ROWS ONLY` instead (since 3.0). Subclassing
sqlglot's `Dialect` registers the class by its lower-cased name, `firebird`.
"""

from __future__ import annotations

from sqlglot import generator
from sqlglot.dialects.dialect import Dialect

SQLGLOT_NAME = "firebird"


class Firebird(Dialect):
    class Generator(generator.Generator):
        LIMIT_FETCH = "FETCH"
