"""Arrow reads on MySQL / MariaDB through mysqlclient: an unbuffered cursor, no converters.

mysqlclient's default cursor stores the whole result as Python objects on `execute`, and its
converters parse every DATETIME and DECIMAL in Python (most of a read's time). This reader runs
the query on an unbuffered cursor (`SSCursor`, rows stream from the server) with the
connection's converters switched off for that one statement, so each value arrives as the bytes
of its text; each batch's columns are then parsed at once by Arrow's kernels (`reads.conform`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator, List

from dlt_sqlalchemy.load.bulk import driver_connection, has_module
from dlt_sqlalchemy.reads.readers import DBAPI_BATCH_ROWS, ArrowReader, ReadClient, gc_paused

if TYPE_CHECKING:
    import pyarrow as pa

    from dlt_sqlalchemy.reads.conform import ArrowTarget


class MysqlclientArrowReader(ArrowReader):
    """mysqlclient (`mysql+mysqldb://`): unbuffered, text values parsed column-wise by Arrow."""

    name = "mysqlclient-text"

    def __init__(self, batch_rows: int = DBAPI_BATCH_ROWS) -> None:
        self.batch_rows = batch_rows

    def is_available(self, client: ReadClient) -> bool:
        return client.native_connection.dialect.driver == "mysqldb" and has_module("pyarrow")

    @contextlib.contextmanager
    def read(
        self, client: ReadClient, sql: str, target: ArrowTarget
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        import MySQLdb.cursors

        connection = client.native_connection
        raw = driver_connection(connection)
        cursor = raw.cursor(MySQLdb.cursors.SSCursor)
        converters = raw.converter
        try:
            raw.converter = {}  # read when the result is made, on execute: for this one only
            try:
                cursor.execute(sql)
            finally:
                raw.converter = converters
            yield self._batches(cursor, target)
        finally:
            cursor.close()  # reads what is left of an unbuffered result
            if not client.in_transaction and not connection.in_transaction():
                raw.commit()  # the SELECT's implicit transaction: a later read sees new rows

    def _batches(self, cursor: Any, target: ArrowTarget) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        while True:
            with gc_paused():
                rows = cursor.fetchmany(self.batch_rows)
                if not rows:
                    return
                columns: List[Any] = list(zip(*rows))
                del rows
            yield pa.RecordBatch.from_arrays(
                [
                    target.conform_array(i, pa.array(values, type=pa.binary()), field.type)
                    for i, (values, field) in enumerate(zip(columns, target.schema))
                ],
                schema=target.schema,
            )
