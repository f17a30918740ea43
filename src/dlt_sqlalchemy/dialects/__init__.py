"""Registry of per-dialect capabilities, looked up by the URL's backend name.

Lookup order: the backend name (`mysql` in `mysql+pymysql://`), then the dialect's own name,
then a generic `DialectCapabilities` that works on any SQL database.
Built-in dialects are registered lazily by module path, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Dict, Optional, Tuple, Type, Union

from dlt_sqlalchemy.dialects.base import DialectCapabilities, StorageColumn, TErrorClass

_REGISTRY: Dict[str, Union[Type[DialectCapabilities], Tuple[str, str]]] = {
    "sqlite": ("dlt_sqlalchemy.dialects.sqlite", "SqliteCapabilities"),
    "mysql": ("dlt_sqlalchemy.dialects.mysql", "MysqlCapabilities"),
    "mariadb": ("dlt_sqlalchemy.dialects.mysql", "MysqlCapabilities"),
    "postgresql": ("dlt_sqlalchemy.dialects.postgresql", "PostgresqlCapabilities"),
    "duckdb": ("dlt_sqlalchemy.dialects.duckdb", "DuckdbCapabilities"),
    "mssql": ("dlt_sqlalchemy.dialects.mssql", "MssqlCapabilities"),
    "oracle": ("dlt_sqlalchemy.dialects.oracle", "OracleCapabilities"),
    "trino": ("dlt_sqlalchemy.dialects.trino", "TrinoCapabilities"),
}


def register_dialect_capabilities(backend_name: str, cls: Type[DialectCapabilities]) -> None:
    """Registers `cls` for URLs whose backend (the part before `+` in the scheme) is `backend_name`.

    The last registration for a name wins, so users can replace a built-in dialect.
    """
    if not isinstance(cls, type) or not issubclass(cls, DialectCapabilities):
        raise TypeError(
            f"register_dialect_capabilities expects a DialectCapabilities subclass, got {cls!r}"
        )
    _REGISTRY[backend_name] = cls


def get_dialect_capabilities(
    backend_name: str, dialect_name: Optional[str] = None
) -> DialectCapabilities:
    """Returns the capabilities registered for `backend_name` (or `dialect_name`), else generic."""
    for name in (backend_name, dialect_name):
        if name and name in _REGISTRY:
            return _resolve(name)(backend_name)
    return DialectCapabilities(backend_name)


def registered_backends() -> Tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def _resolve(name: str) -> Type[DialectCapabilities]:
    entry = _REGISTRY[name]
    if isinstance(entry, tuple):
        module, attr = entry
        entry = getattr(importlib.import_module(module), attr)
        _REGISTRY[name] = entry
    return entry


__all__ = [
    "DialectCapabilities",
    "StorageColumn",
    "TErrorClass",
    "get_dialect_capabilities",
    "register_dialect_capabilities",
    "registered_backends",
]
