"""The extension point: per-dialect capabilities, looked up by the URL's backend name.

`base` holds the hooks (`DialectCapabilities`), `type_mapper` the generic type mapper and
`shared_types` the types several databases reuse. Each built-in database is a package of its own
(`postgresql/`, `mysql/`, ...: capabilities, type mapper, load paths) that imports this core and
is imported by nothing but the registry below, by name, on first use: importing this package
stays cheap and loads no driver. Adding a database is one folder and one registry line.

Lookup order: the backend name (`mysql` in `mysql+pymysql://`), then the dialect's own name,
then a generic `DialectCapabilities` that works on any SQL database.
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
    "firebird": ("dlt_sqlalchemy.dialects.firebird", "FirebirdCapabilities"),
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
