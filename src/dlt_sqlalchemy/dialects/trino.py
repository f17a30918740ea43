"""Trino: millisecond timestamps, no constraints."""

from __future__ import annotations

import sqlalchemy as sa
from dlt.common.destination.capabilities import DestinationCapabilitiesContext

from dlt_sqlalchemy.dialects.base import DialectCapabilities


class TrinoCapabilities(DialectCapabilities):
    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        caps.timestamp_precision = 3
        caps.max_timestamp_precision = 3
        caps.supports_ddl_transactions = False
        caps.supports_transactions = False
