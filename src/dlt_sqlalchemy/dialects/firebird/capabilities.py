"""Firebird 3 and later, through `sqlalchemy-firebird` (`firebird+firebird://`).

Firebird has no schemas: one database holds one dataset (`has_schemas = False`), its tables
unqualified, staging tables under a prefix. Its limits, measured against Firebird 3.0.11:
identifiers of 31 bytes (63 characters from 4.0), NUMERIC of at most 18 digits (38 from 4.0),
timestamps to 100 microseconds, no TRUNCATE, `ALTER TABLE t ADD c ...` without COLUMN, and
objects created in a transaction are unusable by it until it commits, so DDL commits on its own.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, Sequence

import sqlalchemy as sa
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext

from dlt_sqlalchemy.dialects.base import DialectCapabilities, StorageColumn, TErrorClass
from dlt_sqlalchemy.dialects.firebird import catalog
from dlt_sqlalchemy.dialects.firebird.paths import ExecuteBlockPath
from dlt_sqlalchemy.dialects.firebird.reads import SQLGLOT_NAME
from dlt_sqlalchemy.dialects.firebird.types import FirebirdTypeMapper
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath

LONG_IDENTIFIERS_SINCE = (4,)

# SQLCODE -204: table, view, column or procedure unknown; GDS codes of the same
_UNDEFINED = ("Table unknown", "SQLCODE: -204", "-204", "335544580")
_TERMINAL_GDS = {
    335544321: "arithmetic exception, numeric overflow, or string truncation",
    335544665: "violation of PRIMARY or UNIQUE KEY constraint",
    335544347: "validation error for column (NOT NULL)",
    335544569: "dynamic SQL error",
}
_TRANSIENT_GDS = {
    335544336: "deadlock",
    335544345: "lock conflict on no wait transaction",
    335544878: "concurrent transaction number",
    335544721: "unable to complete network request",
    335544726: "error reading data from the connection",
}


class FirebirdCapabilities(DialectCapabilities):
    has_schemas = False
    truncate_with_delete = True  # no TRUNCATE statement

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.supports_ddl_transactions = False
        caps.supports_truncate_command = False
        caps.timestamp_precision = 4
        caps.max_timestamp_precision = 4
        caps.sqlglot_dialect = SQLGLOT_NAME  # type: ignore[assignment]
        _apply_server_version(caps, dialect.server_version_info)

    def refine_capabilities(
        self, caps: DestinationCapabilitiesContext, connection: sa.Connection
    ) -> None:
        planned = (caps.max_identifier_length, caps.max_column_identifier_length)
        _apply_server_version(caps, connection.dialect.server_version_info)
        # only ever lower: names were already shortened to what was planned
        caps.max_identifier_length = min(caps.max_identifier_length, planned[0] or 63)
        caps.max_column_identifier_length = min(caps.max_column_identifier_length, planned[1] or 63)

    def type_mapper_class(self) -> Optional[type[DataTypeMapper]]:
        return FirebirdTypeMapper

    @property
    def sqlglot_dialect(self) -> str:
        return SQLGLOT_NAME

    def is_undefined_relation(self, e: Exception) -> Optional[bool]:
        text = str(e)
        return True if any(marker in text for marker in _UNDEFINED) else None

    def classify_error(self, e: Exception) -> Optional[TErrorClass]:
        codes = set(getattr(e, "gds_codes", ()) or ())
        if codes & set(_TRANSIENT_GDS):
            return "transient"
        if 335544580 in codes:
            return "undefined_relation"
        if codes & set(_TERMINAL_GDS):
            return "terminal"
        return None

    def list_tables(self, connection: sa.Connection, dataset_name: str) -> List[str]:
        return catalog.table_names(connection)

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        return catalog.storage_columns(connection, table_names)

    def timestamp_literal(
        self, value: datetime.datetime, column: sa.Column[Any]
    ) -> sa.ColumnElement[Any]:
        # Firebird parses at most 4 fractional digits (its 100 microsecond resolution)
        naive = value.replace(tzinfo=None)
        text = f"{naive:%Y-%m-%d %H:%M:%S}.{naive.microsecond // 100:04d}"
        return sa.literal_column(f"TIMESTAMP '{text}'", type_=column.type)

    def load_paths(self) -> Sequence[LoadPath]:
        return (ExecuteBlockPath(), ExecutemanyPath())

    def alter_table_add_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> List[str]:
        qualified, definitions = self.render_added_columns(table, columns)
        return [f"ALTER TABLE {qualified} ADD {definition}" for definition in definitions]


def _apply_server_version(caps: DestinationCapabilitiesContext, version: Any) -> None:
    """Limits of the server's release; before connecting (no version) those of Firebird 3,
    the oldest supported, so that names and numbers planned then fit every release."""
    modern = bool(version) and tuple(version) >= LONG_IDENTIFIERS_SINCE
    # Firebird 3 counts bytes of UTF-8 (31); Firebird 4 counts characters (63)
    caps.max_identifier_length = 63 if modern else 31
    caps.max_column_identifier_length = caps.max_identifier_length
    caps.decimal_precision = (38, 9) if modern else (18, 9)
    caps.wei_precision = (38, 0) if modern else (18, 0)
