"""What drivers keep in their exceptions, read without importing the driver.

Below every layer: the error translation (`client.errors`) and the bulk paths (`load.bulk`)
both read it, and neither may import the other.
"""

from __future__ import annotations

from typing import Any, Mapping


def pg8000_fields(orig: Any) -> Mapping[str, Any]:
    """PostgreSQL's error fields as pg8000 passes them: a dict keyed by the protocol's field
    letters (`C` SQLSTATE, `W` context, `c` column) in `args[0]`; empty for other errors."""
    if not (type(orig).__module__ or "").startswith("pg8000"):
        return {}
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], dict) else {}
