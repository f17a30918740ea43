"""The job client: turns the dlt schema into tables, loads files, keeps dlt's bookkeeping.

Tables are SQLAlchemy `Table` objects built from the dlt schema with the dialect's type mapper, so
DDL, inserts and reads of `_dlt_loads` / `_dlt_version` / `_dlt_pipeline_state` all go through
SQLAlchemy constructs with bound parameters and quoted identifiers.
"""

from __future__ import annotations

import base64
import zlib
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.destination.client import (
    FollowupJobRequest,
    LoadJob,
    PreparedTableSchema,
    StateInfo,
    StorageSchemaInfo,
)
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.schema import Schema, TColumnSchema, TTableSchemaColumns
from dlt.common.schema.typing import C_DLT_LOAD_ID, TColumnType, TTableSchema
from dlt.common.schema.utils import (
    get_root_table,
    is_complete_column,
    loads_table,
    normalize_table_identifiers,
    pipeline_state_table,
    version_table,
)
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.common.time import ensure_datetime_in_tz
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.job_client_impl import SqlJobClientWithStagingDataset

from dlt_sqlalchemy.capabilities import dialect_for
from dlt_sqlalchemy.client.sql_client import SqlalchemySqlClient
from dlt_sqlalchemy.configuration import SqlalchemyClientConfiguration
from dlt_sqlalchemy.dialects import DialectCapabilities, get_dialect_capabilities
from dlt_sqlalchemy.exceptions import IdentifierTooLong
from dlt_sqlalchemy.followup.merge.job import SqlalchemyMergeJob
from dlt_sqlalchemy.followup.replace import StagingReplaceJob, StagingSwapJob
from dlt_sqlalchemy.followup.statements_job import SqlStatementsJob
from dlt_sqlalchemy.load.job import LoadFileJob
from dlt_sqlalchemy.load.readers import READERS


class SqlalchemyJobClient(SqlJobClientWithStagingDataset):
    """Job client for any SQLAlchemy dialect; per-dialect behaviour lives in `dialects/`."""

    config: SqlalchemyClientConfiguration
    sql_client: SqlalchemySqlClient  # type: ignore[assignment]

    def __init__(
        self,
        schema: Schema,
        config: SqlalchemyClientConfiguration,
        caps: DestinationCapabilitiesContext,
    ) -> None:
        credentials = config.credentials
        dialect_caps: DialectCapabilities = caps.dialect_capabilities or (
            get_dialect_capabilities(credentials.backend_name)
        )
        sql_client = SqlalchemySqlClient(
            config.normalize_dataset_name(schema),
            config.normalize_staging_dataset_name(schema),
            credentials,
            caps,
            dialect_caps=dialect_caps,
            staging_table_prefix=config.staging_table_prefix,
            use_schemas=config.use_schemas,
        )
        super().__init__(schema, config, sql_client)
        self.config = config
        self.dialect_caps = dialect_caps
        dialect = dialect_for(credentials)
        assert dialect is not None, "credentials are resolved, so the dialect is known"
        self.dialect = dialect
        mapper = caps.get_type_mapper(dialect)
        self.type_mapper = mapper
        self._tables: Dict[Tuple[str, str, Tuple[str, ...]], sa.Table] = {}

    # --- tables -------------------------------------------------------------------------------

    def sa_table(
        self,
        table_name: str,
        columns: Optional[Sequence[TColumnSchema]] = None,
        dataset_name: Optional[str] = None,
    ) -> sa.Table:
        """The table `table_name` of the current dataset (or `dataset_name`) as SQLAlchemy sees it.

        `columns` defaults to the complete columns of the schema table.
        """
        table_schema = self._table_schema(table_name)
        if columns is None:
            columns = [c for c in table_schema["columns"].values() if is_complete_column(c)]
        dataset = dataset_name or self.sql_client.dataset_name
        key = (dataset, table_name, tuple(str(c["name"]) for c in columns))
        table = self._tables.get(key)
        if table is None:
            table = self._build_table(table_schema, columns, dataset)
            self._tables[key] = table
        return table

    def _table_schema(self, table_name: str) -> PreparedTableSchema:
        if table_name in self.schema.tables:
            return self.prepare_load_table(table_name)
        # dlt asks for state and versions before the schema holds its own tables (pipeline sync)
        builders: Dict[str, Callable[[], TTableSchema]] = {
            self.schema.version_table_name: version_table,
            self.schema.loads_table_name: loads_table,
            self.schema.state_table_name: pipeline_state_table,
        }
        table = normalize_table_identifiers(builders[table_name](), self.schema.naming)
        table["name"] = table_name
        return table  # type: ignore[return-value]

    def _build_table(
        self, table_schema: PreparedTableSchema, columns: Sequence[TColumnSchema], dataset: str
    ) -> sa.Table:
        quoted = self.sql_client.quoted
        sa_columns = [
            sa.Column(
                quoted(str(c["name"])),
                self._sa_type(c, table_schema),
                nullable=c.get("nullable", True),
                unique=bool(self.config.create_unique_indexes and c.get("unique")),
                autoincrement=False,
            )
            for c in columns
        ]
        constraints: List[sa.schema.SchemaItem] = []
        primary_key = [quoted(str(c["name"])) for c in columns if c.get("primary_key")]
        if self.config.create_primary_keys and primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*primary_key))
        physical_dataset, physical_table = self.sql_client.physical_name(
            str(table_schema["name"]), dataset
        )
        table = sa.Table(
            quoted(physical_table),
            sa.MetaData(),
            *sa_columns,
            *constraints,
            schema=self.sql_client.schema_arg(physical_dataset),
        )
        table.info["dialect"] = self.dialect
        adapted = self.dialect_caps.adapt_table(table, table_schema)
        # `adapt_table` may return a new Table (reordered, say): the bookkeeping goes on the result
        adapted.info["dialect"] = self.dialect
        fold = self.capabilities.casefold_identifier
        by_name = {fold(str(c["name"])): c for c in columns}
        adapted.info["dlt_columns"] = [by_name[str(c.name)] for c in adapted.columns]
        return adapted

    def verify_schema(
        self,
        only_tables: Optional[Iterable[str]] = None,
        new_jobs: Optional[Iterable[ParsedLoadJobFileName]] = None,
    ) -> List[PreparedTableSchema]:
        # dlt's base declares these parameters without Optional, yet defaults them to None
        loaded_tables = super().verify_schema(only_tables, new_jobs)  # type: ignore[arg-type]
        self._verify_identifiers(loaded_tables)
        return loaded_tables

    def _verify_identifiers(self, tables: Sequence[PreparedTableSchema]) -> None:
        """Refuses names the server would reject or truncate, before any DDL runs.

        dlt's naming convention shortens names at normalize time, to the limit known before
        connecting; the server may allow less (Oracle before 12.2) or count bytes (PostgreSQL).
        """
        caps, fits, fold = (
            self.capabilities,
            self.dialect_caps.identifier_fits,
            (self.capabilities.casefold_identifier),
        )
        unit = self.dialect_caps.identifier_unit
        datasets = (self.sql_client.home_dataset_name, self.sql_client.staging_dataset_name)
        # without schemas a dataset's name is a value in `_dlt_sqla_dataset`, not an identifier
        for dataset in datasets if self.sql_client.datasets_in_schemas else ():
            if dataset and not fits(fold(dataset), caps.max_identifier_length):
                raise IdentifierTooLong(
                    "dataset", fold(dataset), caps.max_identifier_length, fold(dataset), unit
                )
        for table in tables:
            table_name = fold(str(table["name"]))
            if not fits(table_name, caps.max_identifier_length):
                raise IdentifierTooLong(
                    "table", table_name, caps.max_identifier_length, table_name, unit
                )
            for column in table["columns"]:
                column_name = fold(str(column))
                if not fits(column_name, caps.max_column_identifier_length):
                    raise IdentifierTooLong(
                        "column", column_name, caps.max_column_identifier_length, table_name, unit
                    )

    def _sa_type(self, column: TColumnSchema, table: PreparedTableSchema) -> Any:
        return self.type_mapper.to_destination_type(column, table)

    def _get_table_update_sql(
        self, table_name: str, new_columns: Sequence[TColumnSchema], generate_alter: bool
    ) -> List[str]:
        if not generate_alter:
            table = self.sa_table(table_name, new_columns)
            indexes = self._merge_indexes(table_name, table) if self._wants_merge_indexes() else []
            # another loader may create the same table between our look and our CREATE (two
            # pipelines into one new dataset, two nodes of a cluster): that is not an error
            exists_ok = self.dialect_caps.creates_if_not_exists
            dlt_tables = (
                self.schema.version_table_name,
                self.schema.loads_table_name,
                self.schema.state_table_name,
            )
            table = self.dialect_caps.table_to_create(
                self.sql_client, table, self._table_schema(table_name), table_name in dlt_tables
            )
            create: List[Any] = [sa.schema.CreateTable(table, if_not_exists=exists_ok)]
            return create + [sa.schema.CreateIndex(index) for index in indexes]
        table = self.sa_table(table_name)
        quoted = self.sql_client.quoted
        added = [table.c[quoted(str(c["name"]))] for c in new_columns]
        return self.dialect_caps.alter_table_add_columns(table, added)

    def _wants_merge_indexes(self) -> bool:
        # staging tables are emptied and refilled by every load: indexes there only slow it
        return self.config.create_merge_indexes and not self.in_staging_dataset_mode

    def _merge_indexes(self, table_name: str, table: sa.Table) -> List[sa.Index]:
        """The indexes `create_merge_indexes` asks for on a new table of a merge chain."""
        schema = self.prepare_load_table(table_name)
        if schema.get("write_disposition") != "merge" or not self.dialect_caps.supports_indexes:
            return []
        columns = schema["columns"]
        strategy = schema.get("x-merge-strategy", "delete-insert")
        wanted: List[List[str]] = []
        primary_key = [n for n, c in columns.items() if c.get("primary_key")]
        # the upsert strategies make a UNIQUE index on the primary key themselves
        if primary_key and not self.config.create_primary_keys and strategy == "delete-insert":
            wanted.append(primary_key)
        merge_key = [n for n, c in columns.items() if c.get("merge_key")]
        if merge_key:
            wanted.append(merge_key)
        # nested rows are found through their root row (or their parent, without a root key)
        root_key = [[n] for n, c in columns.items() if c.get("root_key")]
        wanted.extend(root_key or [[n] for n, c in columns.items() if c.get("parent_key")])
        if strategy == "scd2":
            # scd2 finds the active version of a row by its hash, a nested row by its row key
            wanted.extend([n] for n, c in columns.items() if c.get("x-row-version"))
            if schema.get("parent"):
                wanted.extend([n] for n, c in columns.items() if c.get("row_key"))
        quoted = self.sql_client.quoted
        limit = self.capabilities.max_identifier_length
        indexes: List[sa.Index] = []
        for names in dict.fromkeys(tuple(n) for n in wanted):
            present = [table.c[quoted(n)] for n in names if quoted(n) in table.c]
            if len(present) != len(names):
                continue  # a column that is not complete yet: the table gets it later
            name = NamingConvention.shorten_identifier(
                f"{table.name}__{'__'.join(names)}_idx", f"{table.name}{names}", limit
            )
            # MySQL indexes TEXT only up to a length (a dlt id is 14 characters)
            lengths = {c.name: 255 for c in present if isinstance(c.type, sa.Text)}
            indexes.append(sa.Index(quoted(name), *present, mysql_length=lengths or None))
        return indexes

    def get_storage_tables(
        self, table_names: Iterable[str]
    ) -> Iterable[Tuple[str, TTableSchemaColumns]]:
        names = list(table_names)
        if not names:
            return
        fold = self.capabilities.casefold_identifier
        located = {name: self.sql_client.physical_name(name) for name in names}
        dataset = fold(self.sql_client.introspection_schema(next(iter(located.values()))[0]))
        physical = {name: fold(table) for name, (_, table) in located.items()}
        try:
            stored = self.sql_client.run(
                lambda conn: self.dialect_caps.read_storage_columns(
                    conn, dataset, list(physical.values())
                )
            )
        except DatabaseUndefinedRelation:
            stored = {}
        for name in names:
            columns: TTableSchemaColumns = {}
            for column in stored.get(physical[name], []):
                columns[column.name] = {
                    "name": column.name,
                    "nullable": column.nullable,
                    **self._from_db_type(column.db_type, column.precision, column.scale),
                }
            yield name, columns

    def _from_db_type(
        self, db_type: str, precision: Optional[int], scale: Optional[int]
    ) -> TColumnType:
        return self.type_mapper.from_destination_type(db_type, precision, scale)

    # --- jobs ---------------------------------------------------------------------------------

    def create_load_job(
        self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        """Data files load by our load paths, `.sql` files by our statement job, `.model` files
        by dlt's own job."""
        file_format = ParsedLoadJobFileName.parse(file_path).file_format
        if file_format in READERS:
            return LoadFileJob(file_path)
        if file_format == "sql":
            return SqlStatementsJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)

    def _create_merge_followup_jobs(
        self, table_chain: Sequence[PreparedTableSchema]
    ) -> List[FollowupJobRequest]:
        # our own SQL per strategy (dlt's generic one ORs keys, leaves helper tables, formats
        # timestamps as strings): see `followup/merge/`
        return [SqlalchemyMergeJob.from_job_client(table_chain, self)]

    def _create_replace_followup_jobs(
        self, table_chain: Sequence[PreparedTableSchema]
    ) -> List[FollowupJobRequest]:
        strategy = table_chain[0].get("x-replace-strategy")
        if strategy == "staging-optimized":
            swap = StagingSwapJob.from_job_client(table_chain, self)
            if swap is not None:
                return [swap]
        if strategy in ("insert-from-staging", "staging-optimized"):
            return [StagingReplaceJob.from_job_client(table_chain, self)]
        return []

    def initialize_storage(self, truncate_tables: Optional[Iterable[str]] = None) -> None:
        """Also makes staging tables again that a `staging-optimized` swap moved into place.

        dlt creates staging tables only when the staging schema version changes; after a swap
        the table is gone although the version is the same, so the truncate before the next
        staging load would fail on it.
        """
        names = list(truncate_tables or [])
        if names and self.in_staging_dataset_mode:
            swapped = [name for name in names if self._is_swapped_on_replace(name)]
            if swapped and self.is_storage_initialized():
                self._create_missing_tables(swapped)
        super().initialize_storage(names or None)  # type: ignore[arg-type]

    def _is_swapped_on_replace(self, table_name: str) -> bool:
        if table_name not in self.schema.tables:
            return False
        root = get_root_table(self.schema.tables, table_name)
        table = self.prepare_load_table(str(root["name"]))
        return (
            table.get("write_disposition") == "replace"
            and table.get("x-replace-strategy") == "staging-optimized"
        )

    def _create_missing_tables(self, table_names: Sequence[str]) -> None:
        missing = [name for name, columns in self.get_storage_tables(table_names) if not columns]
        if not missing:
            return
        with self.maybe_ddl_transaction():
            for name in missing:
                columns = list(self.prepare_load_table(name)["columns"].values())
                for statement in self._get_table_update_sql(name, columns, False):
                    self.sql_client.execute_sql(statement)

    # --- dlt bookkeeping: loads, schema versions, state ---------------------------------------

    def _column(self, table: sa.Table, name: str) -> sa.Column[Any]:
        normalized = self.schema.naming.normalize_identifier(name)
        return table.c[self.sql_client.quoted(normalized)]

    def _first_row(self, query: sa.Select[Any]) -> Optional[Sequence[Any]]:
        """The first row of `query`, or None when there is none or its table does not exist yet
        (a new dataset has no bookkeeping tables)."""
        try:
            rows = self.sql_client.execute_sql(query)
        except DatabaseUndefinedRelation:
            return None
        return rows[0] if rows else None

    def complete_load(self, load_id: str) -> None:
        loads = self.sa_table(self.schema.loads_table_name)
        values = {
            "load_id": load_id,
            "schema_name": self.schema.name,
            "status": 0,
            "inserted_at": datetime.now(timezone.utc),
            "schema_version_hash": self.schema.version_hash,
        }
        self.sql_client.execute_sql(
            sa.insert(loads).values({self._column(loads, k): v for k, v in values.items()})
        )

    def _commit_schema_update(self, schema: Schema, schema_str: str) -> None:
        versions = self.sa_table(self.schema.version_table_name)
        values = {
            "version": schema.version,
            "engine_version": schema.ENGINE_VERSION,
            "inserted_at": datetime.now(timezone.utc),
            "schema_name": schema.name,
            "version_hash": schema.stored_version_hash,
            "schema": schema_str,
        }
        self.sql_client.execute_sql(
            sa.insert(versions).values({self._column(versions, k): v for k, v in values.items()})
        )

    def _delete_schema_in_storage(self, schema: Schema) -> None:
        versions = self.sa_table(self.schema.version_table_name)
        self.sql_client.execute_sql(
            sa.delete(versions).where(self._column(versions, "schema_name") == schema.name)
        )

    def _select_schema_info(
        self, condition: Optional[sa.ColumnElement[bool]]
    ) -> Optional[StorageSchemaInfo]:
        versions = self.sa_table(self.schema.version_table_name)
        c = lambda name: self._column(versions, name)  # noqa: E731
        query = sa.select(
            c("version_hash"),
            c("schema_name"),
            c("version"),
            c("engine_version"),
            c("inserted_at"),
            c("schema"),
        )
        if condition is not None:
            query = query.where(condition)
        row = self._first_row(query.order_by(c("inserted_at").desc()).limit(1))
        if row is None:
            return None
        version_hash, schema_name, version, engine_version, inserted_at, schema_str = row
        return StorageSchemaInfo(
            version_hash,
            schema_name,
            version,
            engine_version,
            ensure_datetime_in_tz(inserted_at, timezone.utc),
            _maybe_decompress(schema_str),
        )

    def get_stored_schema(self, schema_name: Optional[str] = None) -> Optional[StorageSchemaInfo]:  # type: ignore[override]
        versions = self.sa_table(self.schema.version_table_name)
        condition = self._column(versions, "schema_name") == schema_name if schema_name else None
        return self._select_schema_info(condition)

    def get_stored_schema_by_hash(self, version_hash: str) -> Optional[StorageSchemaInfo]:  # type: ignore[override]
        versions = self.sa_table(self.schema.version_table_name)
        return self._select_schema_info(self._column(versions, "version_hash") == version_hash)

    def get_stored_state(self, pipeline_name: str) -> Optional[StateInfo]:  # type: ignore[override]
        state = self.sa_table(self.schema.state_table_name)
        loads = self.sa_table(self.schema.loads_table_name)
        s = lambda name: self._column(state, name)  # noqa: E731
        load_id = self._column(loads, "load_id")
        query = (
            sa.select(
                s("version"),
                s("engine_version"),
                s("pipeline_name"),
                s("state"),
                s("created_at"),
                s(C_DLT_LOAD_ID),
            )
            .select_from(state.join(loads, load_id == s(C_DLT_LOAD_ID)))
            .where(s("pipeline_name") == pipeline_name)
            .where(self._column(loads, "status") == 0)
            .order_by(load_id.desc())
            .limit(1)
        )
        # unlike the schema reads, a missing table (or dataset) is raised, not read as "no
        # state": dlt's pipeline sync wipes a pipeline whose dataset is gone on that exception
        try:
            rows = self.sql_client.execute_sql(query)
        except DatabaseUndefinedRelation:
            if _has_unloaded_packages(pipeline_name):
                return None
            raise
        if not rows:
            return None
        version, engine_version, name, state_str, created_at, dlt_load_id = rows[0]
        return StateInfo(
            version=version,
            engine_version=engine_version,
            pipeline_name=name,
            state=state_str,
            created_at=ensure_datetime_in_tz(created_at, timezone.utc),
            _dlt_load_id=dlt_load_id,
        )


def _has_unloaded_packages(pipeline_name: str) -> bool:
    """Whether the pipeline reading its state holds packages that never reached the database.

    dlt wipes a pipeline's working folder, packages included, when the state read says the
    dataset is gone. Right after a dropped dataset that is the reset users expect; for a
    pipeline whose first load failed (a wrong password, an unreachable host) it would throw away
    the data it is about to load once the user fixed the cause. Those read as "no state yet".
    """
    from dlt.common.pipeline import current_pipeline

    pipeline = current_pipeline()
    if pipeline is None or pipeline.pipeline_name != pipeline_name:
        return False
    return bool(getattr(pipeline, "has_pending_data", False))


def _maybe_decompress(schema_str: str) -> str:
    """Schemas larger than the text limit are stored zlib-compressed and base64-encoded."""
    try:
        return zlib.decompress(base64.b64decode(schema_str, validate=True)).decode("utf-8")
    except ValueError:
        return schema_str
    except zlib.error:
        return schema_str
