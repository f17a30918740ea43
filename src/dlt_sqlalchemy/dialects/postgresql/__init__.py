"""PostgreSQL: everything only this database needs (capabilities, type mapper, load paths)."""

from dlt_sqlalchemy.dialects.postgresql.capabilities import PostgresqlCapabilities

__all__ = ["PostgresqlCapabilities"]
