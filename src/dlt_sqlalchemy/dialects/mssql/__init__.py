"""SQL Server: everything only this database needs (capabilities, type mapper, load paths)."""

from dlt_sqlalchemy.dialects.mssql.capabilities import MssqlCapabilities

__all__ = ["MssqlCapabilities"]
