"""SQL Server through pyodbc: `executemany` with `fast_executemany`.

pyodbc otherwise sends one round trip per row; with `fast_executemany` it binds a whole batch as
ODBC parameter arrays. The values still go through SQLAlchemy's bind processors, as on the
portable path, so custom column types keep working.
"""

from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa

from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadRequest


class PyodbcFastExecutemanyPath(ExecutemanyPath):
    name = "fast_executemany"

    @staticmethod
    def supports_dialect(dialect: sa.engine.interfaces.Dialect) -> bool:
        return dialect.driver == "pyodbc"

    def unavailable_reason(self, request: LoadRequest) -> Optional[str]:
        if self.supports_dialect(request.connection.dialect):
            return None
        return f"driver `{request.connection.dialect.driver}` is not pyodbc"

    def prepare_cursor(self, cursor: Any) -> None:
        cursor.fast_executemany = True
