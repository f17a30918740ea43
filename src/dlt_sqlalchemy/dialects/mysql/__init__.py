"""MySQL and MariaDB: everything only they need (capabilities, type mapper, load paths)."""

from dlt_sqlalchemy.dialects.mysql.capabilities import MysqlCapabilities

__all__ = ["MysqlCapabilities"]
