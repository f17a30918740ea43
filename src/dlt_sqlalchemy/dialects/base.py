"""The per-dialect extension point.

A `DialectCapabilities` object gathers everything that varies between databases behind small
overridable hooks, so that the SQL client, the job client and the load jobs stay dialect-neutral.
Every hook has a working generic default: a dialect that nobody registered still loads data.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    Literal,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Type,
)

import sqlalchemy as sa
from dlt.common.destination import TLoaderFileFormat
from dlt.common.destination.capabilities import DataTypeMapper, DestinationCapabilitiesContext
from dlt.common.destination.typing import PreparedTableSchema

from dlt_sqlalchemy.followup.merge.constructs import TStatement, UpsertSpec, portable_upsert
from dlt_sqlalchemy.load.path import ExecutemanyPath, LoadPath
from dlt_sqlalchemy.sql_text import compile_text, unescaped

if TYPE_CHECKING:
    from dlt_sqlalchemy.reads.readers import ArrowReader

TErrorClass = Literal["undefined_relation", "terminal", "transient"]
"""How the SQL client should surface a database error to dlt's loader."""

# sqlglot names some dialects differently from SQLAlchemy backends
_SQLGLOT_DIALECTS = {
    "postgresql": "postgres",
    "mssql": "tsql",
    "mariadb": "mysql",
    "awsathena": "athena",
    "teradatasql": "teradata",
    "cockroachdb": "postgres",
    "redshift": "redshift",
}


class DialectSqlClient(Protocol):
    """The SQL client as the hooks below see it.

    The SQL client consults these hooks, so it sits above this module: the hooks name what they
    use of it here instead of importing it (the SQL client itself is what they receive).
    """

    capabilities: DestinationCapabilitiesContext
    dataset_name: str
    staging_dataset_name: str
    home_dataset_name: str
    datasets_in_schemas: bool
    """False when every dataset's tables live unqualified in the connection's default schema
    (the dialect has no schemas, or `use_schemas = false`): nothing is to ATTACH or CREATE."""

    @property
    def native_connection(self) -> sa.Connection: ...

    @property
    def dialect(self) -> sa.engine.interfaces.Dialect: ...

    def execute_sql(
        self, sql: Any, *args: Any, **kwargs: Any
    ) -> Optional[Sequence[Sequence[Any]]]: ...

    def quoted(self, name: str) -> str:
        """`name` quoted for the dialect, as the job client's tables spell their columns."""
        ...

    def compile(self, statement: sa.ClauseElement) -> str:
        """`statement` as SQL text for the dialect, literal values inlined."""
        ...

    def __enter__(self) -> Any:
        """Opens the connection (if none is open) for the `with` block."""
        ...

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None: ...


@dataclasses.dataclass(frozen=True)
class StorageColumn:
    """One column of a table as the database stores it: what schema sync needs, nothing more."""

    name: str
    db_type: str
    nullable: bool = True
    precision: Optional[int] = None
    scale: Optional[int] = None


class DialectCapabilities:
    """Adjusts the destination to one SQLAlchemy dialect.

    Subclass it and register the subclass with `register_dialect_capabilities(backend, cls)`.
    Override only the hooks your database needs; each default works on any dialect.
    """

    drop_schema_cascade: bool = True
    """`DROP SCHEMA ... CASCADE` works (MySQL's schemas are databases and take no CASCADE)."""
    truncate_with_delete: bool = False
    """Empty tables with DELETE: TRUNCATE is missing, or commits implicitly."""
    prefers_in_subqueries: bool = False
    """Merges test "a row with these keys exists over there" as an uncorrelated
    `(keys) [NOT] IN (SELECT keys ...)` instead of a correlated `[NOT] EXISTS`: for optimizers
    that run a correlated subquery once per row, but turn an uncorrelated one into a single
    lookup table (SQLite; MariaDB 10.11 does not in UPDATE and DELETE). The keys tested are never
    NULL (primary keys, row keys, row hashes), so NOT IN means what NOT EXISTS does."""
    supports_indexes: bool = True
    """CREATE INDEX exists (Trino has none): `create_merge_indexes` is ignored where not."""
    deletes_through_joins: bool = False
    """Merges delete the replaced rows by joining the staged keys (`DELETE ... USING`, which
    SQLAlchemy renders per dialect) instead of a correlated `EXISTS`: for optimizers that run a
    correlated subquery of a DELETE row by row (MySQL, MariaDB) and those that hash-join better
    (PostgreSQL, DuckDB)."""

    has_schemas: bool = True
    """The database has schemas (namespaces for tables below the database) that the login may
    create: each dataset is one. A dialect without them (Firebird, some embedded and legacy
    databases) declares False, and one database then holds one dataset: tables are named
    unqualified, staging tables carry a prefix (`staging_table_prefix`, `_dlt_stg_` by
    default), and a small table `_dlt_sqla_dataset` records which dataset the database holds, so
    that a pipeline with another dataset name is refused instead of sharing its tables.
    `use_schemas = false` asks for the same on a database that has schemas."""

    creates_if_not_exists: bool = False
    """`CREATE TABLE IF NOT EXISTS` exists (PostgreSQL, MySQL/MariaDB, SQLite, DuckDB, Trino):
    a table that a concurrent loader created between dlt's look at the dataset and our CREATE
    is then no error (SQL Server has no such clause; there the loser's CREATE fails)."""
    keys_through_derived_tables: bool = False
    """Merges read the keys a membership test looks up (`[NOT] EXISTS`, `IN`) from a derived
    table of the distinct keys, `(SELECT DISTINCT keys ...) AS keys`: MariaDB and MySQL run a
    subquery of an UPDATE or DELETE, or one below a window function (the deduplication of staged
    rows), once per outer row, scanning its table each time (134 s for 25k into 25k rows), but
    materialize a derived table once, with an index on the columns it is joined on
    (`derived_with_keys`), so each outer row costs one index lookup. The index is built only on
    columns of at most 1000 bytes, hence bounded key columns (`MysqlTypeMapper`)."""

    def __init__(self, backend_name: str) -> None:
        self.backend_name = backend_name

    # --- the four documented extension points -------------------------------------------------

    def adjust_capabilities(
        self, caps: DestinationCapabilitiesContext, dialect: sa.engine.interfaces.Dialect
    ) -> None:
        """Modifies destination capabilities in place for this dialect."""

    def type_mapper_class(self) -> Optional[Type[DataTypeMapper]]:
        """Returns the type mapper for this dialect, or None for the generic one."""
        return None

    def preferred_loader_file_format(self, pyarrow_installed: bool) -> TLoaderFileFormat:
        """The file format normalize writes by default: parquet where pyarrow is installed,
        since dlt writes it about 1.7x faster than typed-jsonl and every load path reads Arrow
        (parquet directly, typed-jsonl after decoding). Override for a dialect whose fastest
        path takes typed-jsonl. The `loader_file_format` option overrides both."""
        return "parquet" if pyarrow_installed else "typed-jsonl"

    def adapt_table(self, table: sa.Table, table_schema: PreparedTableSchema) -> sa.Table:
        """Rewrites a table before it is created or loaded; the default keeps it as it is."""
        return table

    def table_to_create(
        self,
        client: DialectSqlClient,
        table: sa.Table,
        table_schema: PreparedTableSchema,
        dlt_table: bool = False,
    ) -> sa.Table:
        """The table as CREATE TABLE makes it, for what the server requires of new tables (a
        primary key on every table, a storage engine that replicates). `dlt_table` is true for
        dlt's own tables (loads, schema versions, state).

        Applied only when creating, after `adapt_table`: a column added here (an auto-increment
        key, say) is not loaded or read, so dlt never sees it. The default keeps the table.
        """
        return table

    def is_undefined_relation(self, e: Exception) -> Optional[bool]:
        """True if `e` means a missing table or schema, False if surely not, None if unsure."""
        return None

    # --- hooks beyond the documented four -----------------------------------------------------

    @property
    def sqlglot_dialect(self) -> str:
        """The sqlglot dialect used to transpile dataset reads and models to this database.

        The backend's name where sqlglot knows it (some under another name), else sqlglot's
        generic dialect (`""`: ANSI SQL, double-quoted identifiers), so that `pipeline.dataset()`
        reads work on a database sqlglot has never heard of. Users override it with the
        `sqlglot_dialect=` capability of the destination.
        """
        name = _SQLGLOT_DIALECTS.get(self.backend_name, self.backend_name)
        return name if _sqlglot_knows(name) else ""

    def classify_error(self, e: Exception) -> Optional[TErrorClass]:
        """Classifies a driver exception by its error code (SQLSTATE, vendor number).

        Runs before any message matching. Return None to fall through to the generic rules.
        """
        return None

    def refine_capabilities(
        self, caps: DestinationCapabilitiesContext, connection: sa.Connection
    ) -> None:
        """Refines limits that depend on the server version once a connection is open."""

    def on_connect(self, client: DialectSqlClient, connection: sa.Connection) -> None:
        """Prepares a freshly opened connection, e.g. attaches SQLite dataset files."""

    def has_dataset(self, client: DialectSqlClient, dataset_name: str) -> bool:
        """Tells if the dataset (a schema on most databases) exists."""
        return sa.inspect(client.native_connection).has_schema(dataset_name)

    def create_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        client.execute_sql(sa.schema.CreateSchema(client.quoted(dataset_name)))

    def drop_dataset(self, client: DialectSqlClient, dataset_name: str) -> None:
        client.execute_sql(
            sa.schema.DropSchema(client.quoted(dataset_name), cascade=self.drop_schema_cascade)
        )

    def list_tables(self, connection: sa.Connection, dataset_name: str) -> List[str]:
        """Names of the tables in a dataset (information_schema; SQLite overrides)."""
        tables = sa.table(
            "tables",
            sa.column("table_schema"),
            sa.column("table_name"),
            schema="information_schema",
        )
        query = sa.select(tables.c.table_name).where(tables.c.table_schema == dataset_name)
        return [str(name) for name in connection.execute(query).scalars()]

    def has_index(
        self, connection: sa.Connection, schema: Optional[str], table_name: str, index_name: str
    ) -> bool:
        """Tells if `table_name` has an index called `index_name`: for dialects that cannot say
        `CREATE INDEX IF NOT EXISTS` (see `dlt_sqlalchemy.followup.guards.IndexMissing`)."""
        indexes = sa.inspect(connection).get_indexes(table_name, schema=schema)
        return any(index["name"] == index_name for index in indexes)

    def unindexed_merges_hold_up_others(self, connection: sa.Connection) -> bool:
        """Whether a merge reading a whole table holds up more than itself (a cluster's
        replicas wait for its locks): then `merge_keys_unindexed` is a warning, else advice
        logged at INFO."""
        return False

    def merge_keys_unindexed(
        self,
        connection: sa.Connection,
        schema: Optional[str],
        table_name: str,
        keys: Sequence[str],
    ) -> bool:
        """Whether no index (primary key, unique constraint or plain index) of `table_name`
        starts with exactly the columns `keys`: a merge then reads the whole table for each
        batch of incoming keys, which on a cluster also holds locks replicas wait for."""
        inspector = sa.inspect(connection)
        wanted = {k.lower() for k in keys}
        covering: List[Sequence[Optional[str]]] = [
            inspector.get_pk_constraint(table_name, schema=schema).get("constrained_columns") or []
        ]
        covering += [
            u["column_names"] for u in inspector.get_unique_constraints(table_name, schema=schema)
        ]
        covering += [i["column_names"] for i in inspector.get_indexes(table_name, schema=schema)]
        for columns in covering:
            leading = {str(c).lower() for c in list(columns)[: len(wanted)] if c is not None}
            if leading == wanted:
                return False
        return True

    def read_storage_columns(
        self, connection: sa.Connection, dataset_name: str, table_names: Sequence[str]
    ) -> Dict[str, List[StorageColumn]]:
        """Reads the columns of `table_names` in one round trip; missing tables are absent.

        The default asks `information_schema`, which most SQL databases provide; SQLAlchemy's
        per-table reflection is both slower and broken on some dialects (DuckDB).
        """
        details = ("numeric_precision", "numeric_scale", "character_maximum_length")
        names = ("table_schema", "table_name", "column_name", "data_type", "is_nullable")
        wanted = names + (details if self.information_schema_details else ())
        columns = sa.table(
            "columns", *map(sa.column, (*wanted, "ordinal_position")), schema="information_schema"
        )
        query = (
            sa.select(*(columns.c[name] for name in wanted[1:]))
            .where(columns.c.table_schema == dataset_name)
            .where(columns.c.table_name.in_(list(table_names)))
            .order_by(columns.c.table_name, columns.c.ordinal_position)
        )
        rows = connection.execute(query)
        if not self.information_schema_details:
            return group_storage_columns((t, c, ty, n, None, None) for t, c, ty, n in rows)
        # `character varying` + a length column becomes `character varying(20)`, the form the
        # type parser reads lengths from (unbounded types report NULL, MSSQL's max reports -1)
        return group_storage_columns(
            (t, c, f"{ty}({length})" if length and length > 0 else ty, n, p, sc)
            for t, c, ty, n, p, sc, length in rows
        )

    information_schema_details: bool = True
    """`information_schema.columns` has precision, scale and length columns (Trino's has not:
    its `data_type` spells them out, as in `varchar(20)`)."""
    identifier_unit: str = "characters"
    """What the identifier limit counts: `characters`, or `bytes` of UTF-8 (PostgreSQL, Oracle)."""

    def identifier_fits(self, identifier: str, limit: Optional[int]) -> bool:
        """Whether the database keeps `identifier` whole under `limit` (None: no limit)."""
        if limit is None:
            return True
        size = (
            len(identifier.encode("utf-8")) if self.identifier_unit == "bytes" else len(identifier)
        )
        return size <= limit

    def arrow_readers(self) -> Sequence[ArrowReader]:
        """How dataset reads (`pipeline.dataset()[t].arrow()`, `.df()`, `.iter_arrow()`) get
        Arrow, fastest first; the first available one reads. The DB-API reader (batches of
        rows built column-wise) works everywhere and must stay as the last resort."""
        from dlt_sqlalchemy.reads.readers import DbApiArrowReader

        return (DbApiArrowReader(),)

    def load_paths(self) -> Sequence[LoadPath]:
        """The ways this dialect can load a file, fastest first; the job takes the first that
        handles the file format and is available. `executemany` must stay as the last resort."""
        return (ExecutemanyPath(),)

    def alter_table_add_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> List[str]:
        """Renders ALTER TABLE statements adding `columns` (already bound to `table`).

        The default is one `ADD COLUMN` statement per column, which every SQL database takes.
        """
        qualified, definitions = self.render_added_columns(table, columns)
        return [f"ALTER TABLE {qualified} ADD COLUMN {definition}" for definition in definitions]

    def render_added_columns(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]]
    ) -> Tuple[str, List[str]]:
        """The qualified table name and each column's definition, compiled for the dialect."""
        dialect = self.dialect_for_ddl(table)
        definitions = [compile_text(sa.schema.CreateColumn(column), dialect) for column in columns]
        return unescaped(dialect.identifier_preparer.format_table(table), dialect), definitions

    def dialect_for_ddl(self, table: sa.Table) -> sa.engine.interfaces.Dialect:
        dialect = table.info.get("dialect")
        assert dialect is not None, "tables are built by the job client with their dialect"
        return dialect  # type: ignore[no-any-return]

    # --- merge and replace (hooks of the merge strategies and the staging-optimized swap) -----

    def timestamp_literal(
        self, value: datetime.datetime, column: sa.Column[Any]
    ) -> sa.ColumnElement[Any]:
        """`value` (UTC; naive for a naive column) as a SQL literal of `column`'s type.

        Rendered through the column type, type decorators included, so the literal is what an
        insert would have bound. Override where the dialect renders timestamps badly (Oracle).
        """
        return sa.literal(value, type_=column.type)

    def upsert_statements(self, client: DialectSqlClient, spec: UpsertSpec) -> List[TStatement]:
        """Statements writing `spec.source` into `spec.target` by `spec.keys`: matched rows
        updated (unless insert-only), the others inserted.

        The default is plain UPDATE-then-INSERT, which any SQL database runs and which needs no
        unique key; dialects override it with their native form.
        """
        return portable_upsert(spec)

    def swap_tables(
        self, client: DialectSqlClient, pairs: Sequence[Tuple[sa.Table, sa.Table]]
    ) -> Optional[List[TStatement]]:
        """Statements putting each staged table of `pairs` (destination, staged) in place of its
        destination table, all at once; None where the dialect cannot do that atomically, and
        `staging-optimized` then copies like `insert-from-staging`.

        The default swaps only tables in the same schema (staging tables under a prefix), by
        DROP and ALTER TABLE ... RENAME, which must run in one transaction: dialects without
        transactional DDL return None.
        """
        if not client.capabilities.supports_ddl_transactions:
            return None
        if any(target.schema != staged.schema for target, staged in pairs):
            return None
        statements: List[TStatement] = []
        for target, staged in pairs:
            statements.append(sa.schema.DropTable(target))
            statements.append(self.rename_table_sql(staged, str(target.name)))
        return statements

    def rename_table_sql(self, table: sa.Table, new_name: str) -> str:
        """`ALTER TABLE <table> RENAME TO <new_name>`, quoted for the dialect."""
        preparer = self.dialect_for_ddl(table).identifier_preparer
        return f"ALTER TABLE {preparer.format_table(table)} RENAME TO {preparer.quote(new_name)}"


def _sqlglot_knows(name: str) -> bool:
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get(name) is not None


def schema_in_information_schema(client: DialectSqlClient, dataset_name: str) -> bool:
    """Whether `information_schema.schemata` lists the dataset: `has_dataset` for dialects
    whose `has_schema` reflection is broken (duckdb-engine asks PostgreSQL's catalogs, Trino's
    dialect refuses the `info_cache` argument SQLAlchemy 2 passes)."""
    schemata = sa.table("schemata", sa.column("schema_name"), schema="information_schema")
    query = (
        sa.select(sa.func.count())
        .select_from(schemata)
        .where(schemata.c.schema_name == dataset_name)
    )
    rows = client.execute_sql(query)
    return bool(rows and rows[0][0])


def group_storage_columns(rows: Any) -> Dict[str, List[StorageColumn]]:
    """Groups (table, column, type, nullable, precision, scale) rows by table."""
    tables: Dict[str, List[StorageColumn]] = {}
    for table_name, name, db_type, nullable, precision, scale in rows:
        tables.setdefault(table_name, []).append(
            StorageColumn(
                name=name,
                db_type=str(db_type),
                nullable=_is_nullable(nullable),
                precision=precision,
                scale=scale,
            )
        )
    return tables


def _is_nullable(value: Any) -> bool:
    if isinstance(value, str):
        return value.upper() in ("YES", "Y", "TRUE", "1")
    return bool(value)
