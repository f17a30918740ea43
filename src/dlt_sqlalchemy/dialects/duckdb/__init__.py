"""DuckDB: everything only this database needs (capabilities, type mapper, load paths)."""

from dlt_sqlalchemy.dialects.duckdb.capabilities import DuckdbCapabilities

__all__ = ["DuckdbCapabilities"]
