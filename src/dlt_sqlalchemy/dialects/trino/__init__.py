"""Trino: everything only this database needs (capabilities, type mapper)."""

from dlt_sqlalchemy.dialects.trino.capabilities import TrinoCapabilities

__all__ = ["TrinoCapabilities"]
