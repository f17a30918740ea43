"""The database under test: makes pipelines into fresh datasets and cleans them up."""

from __future__ import annotations

import os
import uuid
from typing import Any, Dict, List, Optional, Sequence

import dlt
import sqlalchemy as sa

from dlt_sqlalchemy.factory import sqlalchemy as sqlalchemy_destination


class ConformanceTarget:
    """One database URL (or Engine) plus a scratch directory for pipeline working dirs."""

    def __init__(
        self,
        credentials: Any,
        workdir: str,
        engine_kwargs: Optional[Dict[str, Any]] = None,
        **destination_kwargs: Any,
    ) -> None:
        self.credentials = credentials
        self.workdir = workdir
        self.engine_kwargs = engine_kwargs
        self.destination_kwargs = destination_kwargs
        self._pipelines: List[dlt.Pipeline] = []

    def destination(self, **kwargs: Any) -> Any:
        options = {**self.destination_kwargs, **kwargs}
        if self.engine_kwargs:
            options.setdefault("engine_kwargs", self.engine_kwargs)
        return sqlalchemy_destination(self.credentials, **options)

    def pipeline(
        self, pipeline_name: Optional[str] = None, dataset_name: Optional[str] = None, **kwargs: Any
    ) -> dlt.Pipeline:
        """A pipeline into a fresh dataset (unless `dataset_name` reuses one)."""
        suffix = uuid.uuid4().hex[:8]
        pipeline: dlt.Pipeline = dlt.pipeline(
            pipeline_name=pipeline_name or f"kit_{suffix}",
            destination=kwargs.pop("destination", None) or self.destination(),
            dataset_name=dataset_name or f"kit_{suffix}",
            pipelines_dir=os.path.join(self.workdir, "pipelines"),
            **kwargs,
        )
        self._pipelines.append(pipeline)
        return pipeline

    def read(self, pipeline: dlt.Pipeline, table: str, order_by: Sequence[str]) -> List[Any]:
        """Rows of `table` through the destination's own typed table (result processors apply)."""
        with pipeline.destination_client() as client:
            sa_table = client.sa_table(table)  # type: ignore[attr-defined]
            quoted = client.sql_client.quoted  # type: ignore[attr-defined]
            query = sa.select(sa_table).order_by(*(sa_table.c[quoted(c)] for c in order_by))
            rows = client.sql_client.execute_sql(query)  # type: ignore[attr-defined]
            names = [column.name for column in sa_table.columns]
        return [dict(zip(names, row)) for row in rows or []]

    def cleanup(self) -> None:
        """Drops every dataset (and staging dataset) the checks made."""
        for pipeline in self._pipelines:
            if not pipeline.default_schema_name:
                continue
            try:
                with pipeline.destination_client() as client:
                    client.drop_storage()
            except Exception:  # a check that failed may have left nothing to drop
                pass
        self._pipelines.clear()
