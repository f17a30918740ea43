"""dlt-sqlalchemy: a dlt destination for any database with a SQLAlchemy dialect.

import dlt
from dlt_sqlalchemy import sqlalchemy

pipeline = dlt.pipeline("chess", destination=sqlalchemy("postgresql://loader@db/dwh"))
"""

from dlt_sqlalchemy.configuration import SqlalchemyClientConfiguration, SqlalchemyCredentials
from dlt_sqlalchemy.dialects import (
    DialectCapabilities,
    get_dialect_capabilities,
    register_dialect_capabilities,
)
from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper
from dlt_sqlalchemy.factory import sqlalchemy

__all__ = [
    "DialectCapabilities",
    "SqlalchemyClientConfiguration",
    "SqlalchemyCredentials",
    "SqlalchemyTypeMapper",
    "get_dialect_capabilities",
    "register_dialect_capabilities",
    "sqlalchemy",
]
