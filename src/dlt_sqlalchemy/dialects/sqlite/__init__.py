"""SQLite: everything only this database needs (capabilities, type mapper, load paths)."""

from dlt_sqlalchemy.dialects.sqlite.capabilities import SqliteCapabilities

__all__ = ["SqliteCapabilities"]
