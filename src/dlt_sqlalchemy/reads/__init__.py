"""Dataset reads as Arrow: native readers per dialect, typed as dlt's reader types them."""

from dlt_sqlalchemy.reads.readers import (
    AdbcPostgresqlReader,
    ArrowReader,
    DbApiArrowReader,
    DuckdbArrowReader,
)

__all__ = ["AdbcPostgresqlReader", "ArrowReader", "DbApiArrowReader", "DuckdbArrowReader"]
