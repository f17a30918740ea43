"""Firebird: a database without schemas, through the third-party `sqlalchemy-firebird` dialect."""

from dlt_sqlalchemy.dialects.firebird.capabilities import FirebirdCapabilities

__all__ = ["FirebirdCapabilities"]
