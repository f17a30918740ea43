"""Destination capabilities: a generic base, then adjusted to the dialect named by the URL.

Nothing here imports a DBAPI driver: the dialect class is enough to know identifier limits,
boolean support and quoting, so pipelines normalize on machines without the driver.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable, Optional

import sqlalchemy as sa
from dlt.common.destination import DestinationCapabilitiesContext

from dlt_sqlalchemy.configuration import SqlalchemyCredentials
from dlt_sqlalchemy.dialects import DialectCapabilities, get_dialect_capabilities
from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper
from dlt_sqlalchemy.engine import load_dialect_class

DEFAULT_BATCH_ROWS = 10_000


def pyarrow_installed() -> bool:
    """Whether parquet can be written and read here (without importing pyarrow, which is slow)."""
    return importlib.util.find_spec("pyarrow") is not None


def base_capabilities() -> DestinationCapabilitiesContext:
    """What holds for every dialect before we know which one it is."""
    caps = DestinationCapabilitiesContext.generic_capabilities(
        preferred_loader_file_format="parquet" if pyarrow_installed() else "typed-jsonl"
    )
    mib = 1024 * 1024
    caps.update(
        {
            # files: parquet and typed-jsonl (the dialect prefers one), SQL models; no staging
            "supported_loader_file_formats": ["typed-jsonl", "parquet", "model"],
            "preferred_staging_file_format": None,
            "supported_staging_file_formats": [],
            "type_mapper": SqlalchemyTypeMapper,
            # identifiers: the strictest common limit until the dialect says more (PostgreSQL's)
            "has_case_sensitive_identifiers": True,
            "max_identifier_length": 63,
            "max_column_identifier_length": 63,
            # numbers that every dialect's DECIMAL holds (DuckDB, MSSQL and Oracle stop at 38)
            "decimal_precision": (38, 9),
            "wei_precision": (38, 0),
            "max_query_length": 32 * mib,
            "is_max_query_length_in_bytes": True,
            "max_text_data_type_length": 1024 * mib,
            "is_max_text_data_type_length_in_bytes": True,
            # one statement per execute: many drivers refuse `;`-joined scripts
            "supports_multiple_statements": False,
            "supports_transactions": True,
            "supports_ddl_transactions": True,
            "max_rows_per_insert": DEFAULT_BATCH_ROWS,
            "max_query_parameters": 65_535,
        }
    )
    caps.supported_merge_strategies = ["delete-insert", "scd2", "upsert", "insert-only", "cdc"]
    caps.supported_replace_strategies = [
        "truncate-and-insert",
        "insert-from-staging",
        "staging-optimized",
    ]
    caps.timestamp_precision = 6
    caps.max_timestamp_precision = 6
    caps.supports_tz_aware_datetime = True
    caps.supports_naive_datetime = True
    caps.supports_truncate_command = True
    return caps


def dialect_for(credentials: SqlalchemyCredentials) -> Optional[sa.engine.interfaces.Dialect]:
    """The live engine's dialect, or a fresh one: a fresh one needs no driver installed."""
    if credentials.engine is not None:
        return credentials.engine.dialect  # type: ignore[no-any-return]
    if not credentials.drivername:
        return None
    dialect_cls = load_dialect_class(credentials.sa_url())
    try:
        return dialect_cls()  # type: ignore[no-any-return]
    except Exception:
        # a few third-party dialects need their driver to instantiate; fall back to defaults
        return None


def apply_dialect(
    caps: DestinationCapabilitiesContext,
    dialect: sa.engine.interfaces.Dialect,
    dialect_caps: DialectCapabilities,
) -> DestinationCapabilitiesContext:
    """Adjusts `caps` to `dialect`, then lets the registered capabilities refine them."""
    caps.max_identifier_length = dialect.max_identifier_length
    caps.max_column_identifier_length = dialect.max_identifier_length
    caps.supports_native_boolean = dialect.supports_native_boolean
    preparer = dialect.identifier_preparer
    if dialect.requires_name_normalize:
        # the database folds unquoted names to upper case; SQLAlchemy treats lower-case names
        # as case-insensitive and leaves them unquoted, so we store them lower-cased
        caps.has_case_sensitive_identifiers = False
        caps.casefold_identifier = str.lower
        caps.escape_identifier = preparer.quote
    else:
        caps.escape_identifier = preparer.quote_identifier
    caps.escape_literal = _literal_renderer(dialect)
    sqlglot_dialect = dialect_caps.sqlglot_dialect or sqlglot_dialect_by_lineage(dialect)
    caps.sqlglot_dialect = sqlglot_dialect  # type: ignore[assignment]
    caps.dialect_capabilities = dialect_caps
    caps.preferred_loader_file_format = dialect_caps.preferred_loader_file_format(
        pyarrow_installed()
    )
    dialect_caps.adjust_capabilities(caps, dialect)
    mapper_class = dialect_caps.type_mapper_class()
    if mapper_class is not None:
        caps.type_mapper = mapper_class
    return caps


# SQLAlchemy's own dialect packages, and the sqlglot dialect that reads their SQL
_SQLGLOT_BY_SA_PACKAGE = {
    "sqlalchemy.dialects.postgresql": "postgres",
    "sqlalchemy.dialects.mysql": "mysql",
    "sqlalchemy.dialects.sqlite": "sqlite",
    "sqlalchemy.dialects.mssql": "tsql",
    "sqlalchemy.dialects.oracle": "oracle",
}


def sqlglot_dialect_by_lineage(dialect: sa.engine.interfaces.Dialect) -> str:
    """For a dialect sqlglot does not know by name: the sqlglot dialect of the SQLAlchemy
    dialect it derives from (third-party dialects of PostgreSQL- or MySQL-compatible databases
    mostly subclass SQLAlchemy's), else sqlglot's generic one (`""`)."""
    for cls in type(dialect).__mro__:
        package = cls.__module__.rpartition(".")[0]
        if package in _SQLGLOT_BY_SA_PACKAGE:
            return _SQLGLOT_BY_SA_PACKAGE[package]
    return ""


def adjust_to_credentials(
    caps: DestinationCapabilitiesContext, credentials: Optional[SqlalchemyCredentials]
) -> DestinationCapabilitiesContext:
    if credentials is None or not isinstance(credentials, SqlalchemyCredentials):
        return caps
    if not credentials.drivername and credentials.driver_name:
        credentials.drivername = credentials.driver_name
    dialect = dialect_for(credentials)
    if dialect is None:
        return caps
    dialect_caps = get_dialect_capabilities(credentials.backend_name, dialect.name)
    return apply_dialect(caps, dialect, dialect_caps)


def _literal_renderer(dialect: sa.engine.interfaces.Dialect) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        literal = sa.literal(value)
        return str(literal.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    return render
