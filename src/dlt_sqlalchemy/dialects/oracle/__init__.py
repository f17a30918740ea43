"""Oracle: everything only this database needs (capabilities, type mapper)."""

from dlt_sqlalchemy.dialects.oracle.capabilities import OracleCapabilities

__all__ = ["OracleCapabilities"]
