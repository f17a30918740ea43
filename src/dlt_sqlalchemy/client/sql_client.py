"""The SQL client: one SQLAlchemy connection, transactions, datasets, error translation.

Statements outside `begin_transaction()` commit on their own (autocommit semantics, as dlt expects);
inside it they join the one open transaction. Every error leaves this class as one of dlt's
undefined-relation / terminal / transient exceptions, translated in exactly one place.
"""

from __future__ import annotations

import contextlib
from typing import (
    Any,
    AnyStr,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import sqlalchemy as sa
from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.destination.dataset import DBApiCursor
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.destinations.exceptions import DatabaseException, DatabaseUndefinedRelation
from dlt.destinations.sql_client import SqlClientBase
from dlt.destinations.typing import DBTransaction

from dlt_sqlalchemy.client import single_dataset
from dlt_sqlalchemy.client.errors import (
    connect_verdict,
    mentions_secret,
    scrub,
    secret_forms,
    to_dlt_exception,
)
from dlt_sqlalchemy.client.parameters import pyformat_to_named, to_named, without_binds
from dlt_sqlalchemy.client.single_dataset import DEFAULT_STAGING_PREFIX
from dlt_sqlalchemy.configuration import SqlalchemyCredentials
from dlt_sqlalchemy.dialects import get_dialect_capabilities
from dlt_sqlalchemy.dialects.base import DialectCapabilities
from dlt_sqlalchemy.dialects.type_mapper import SqlalchemyTypeMapper, TypedCursor
from dlt_sqlalchemy.exceptions import (
    DatabaseHoldsAnotherDataset,
    DatabaseUnreachable,
    InvalidCredentials,
)
from dlt_sqlalchemy.load.bulk import has_module
from dlt_sqlalchemy.reads.readers import ArrowReader, is_select
from dlt_sqlalchemy.sql_text import compile_text

T = TypeVar("T")


class _ResultCursor:
    """Presents a SQLAlchemy result as the DBAPI cursor that dlt's dataset reader expects."""

    def __init__(self, result: sa.CursorResult[Any]) -> None:
        self._result = result
        self.description: Optional[List[Tuple[Any, ...]]] = (
            [(name, None, None, None, None, None, None) for name in list(result.keys())]
            if result.returns_rows
            else None
        )

    def fetchall(self) -> List[Tuple[Any, ...]]:
        return [tuple(row) for row in self._result.fetchall()]

    def fetchmany(self, size: Optional[int] = None) -> List[Tuple[Any, ...]]:
        rows = self._result.fetchmany(size) if size else self._result.fetchmany()
        return [tuple(row) for row in rows]

    def fetchone(self) -> Optional[Tuple[Any, ...]]:
        row = self._result.fetchone()
        return None if row is None else tuple(row)

    def close(self) -> None:
        self._result.close()


class SqlalchemySqlClient(SqlClientBase[sa.Connection], DBTransaction):
    """SQL client on a SQLAlchemy connection; datasets map to schemas (or SQLite files)."""

    def __init__(
        self,
        dataset: str,
        staging_dataset: str,
        credentials: SqlalchemyCredentials,
        caps: DestinationCapabilitiesContext,
        *,
        dialect_caps: Optional[DialectCapabilities] = None,
        staging_table_prefix: Optional[str] = None,
        use_schemas: Optional[bool] = None,
    ) -> None:
        """Positionally as dlt builds every SQL client (dataset, staging dataset, credentials,
        capabilities), so that code copying a client for another thread builds ours the same
        way; the rest by keyword.

        `dialect_caps` defaults to what `caps` carries, else to the registry's entry for the
        URL's backend. `use_schemas` defaults to what the dialect declares
        (`DialectCapabilities.has_schemas`); without schemas the staging tables take
        `staging_table_prefix`, `_dlt_stg_` unless given.
        """
        super().__init__(credentials.database or "", dataset, staging_dataset, caps)
        self.credentials = credentials
        self.dialect_caps: DialectCapabilities = (
            dialect_caps
            or getattr(caps, "dialect_capabilities", None)
            or get_dialect_capabilities(credentials.backend_name)
        )
        self.home_dataset_name = dataset
        """The dataset this client was made for, also while `with_staging_dataset()` is active."""
        self.datasets_in_schemas: bool = (
            self.dialect_caps.has_schemas if use_schemas is None else use_schemas
        )
        """Each dataset is a schema; else one database holds one dataset (`single_dataset`)."""
        if not self.datasets_in_schemas and not staging_table_prefix:
            staging_table_prefix = DEFAULT_STAGING_PREFIX
        self.staging_table_prefix = staging_table_prefix
        """When set, the staging dataset is not a schema of its own: its tables live in the home
        dataset under this prefix (for logins that may not CREATE SCHEMA, Oracle users...)."""
        self._conn: Optional[sa.Connection] = None
        self._opened = 0
        self._tx: Optional[sa.Transaction] = None
        self._held_checked = False

    # --- connection ---------------------------------------------------------------------------

    def open_connection(self) -> sa.Connection:
        self._opened += 1
        if self._conn is not None:
            return self._conn
        holder = self.credentials.holder()
        try:
            engine = holder.borrow()
            try:
                conn = engine.connect()
            except Exception:
                holder.give_back()
                raise
        except Exception as ex:
            self._opened -= 1
            raise self._connection_error(ex) from None
        self._conn = conn
        try:
            self.dialect_caps.refine_capabilities(self.capabilities, conn)
            self.dialect_caps.on_connect(self, conn)
            if conn.in_transaction():
                conn.commit()
        except Exception:
            self.close_connection()
            raise
        return conn

    def close_connection(self) -> None:
        self._opened = max(0, self._opened - 1)
        if self._opened > 0 or self._conn is None:
            return
        conn, self._conn, self._tx = self._conn, None, None
        try:
            conn.close()
        finally:
            self.credentials.holder().give_back()

    @property
    def native_connection(self) -> sa.Connection:
        return self._conn  # type: ignore[return-value]

    @property
    def dialect(self) -> sa.engine.interfaces.Dialect:
        return self.native_connection.dialect

    @property
    def engine(self) -> sa.Engine:
        """The engine of the open connection, for `sqlalchemy.inspect()` and the like."""
        return self._ensure_connection().engine

    def _connection_error(self, ex: Exception) -> Exception:
        """Tells a refused login (terminal) from a server that did not answer (transient).

        The caller raises it `from None`: driver errors may echo connection parameters, so only
        our scrubbed text travels on.
        """
        where = str(self.credentials)
        if isinstance(ex, OSError):
            # the folder of a SQLite / DuckDB file could not be made: only a new path helps
            return InvalidCredentials(
                f"Cannot open the database file of {where}: {self._scrub(str(ex))}. Check the"
                " path in your credentials."
            )
        if not isinstance(ex, sa.exc.DBAPIError):
            if mentions_secret(ex, self._secrets()):
                return InvalidCredentials(self._scrub(f"{type(ex).__name__}: {ex}"))
            return ex  # MissingDriver, UnknownDialect and configuration errors speak for themselves
        reason = self._scrub(str(ex.orig if ex.orig is not None else ex).strip())
        if connect_verdict(ex, self.dialect_caps) == "transient":
            return DatabaseUnreachable(f"Cannot reach the database at {where}: {reason}")
        return InvalidCredentials(
            f"The database at {where} refused the connection: {reason}. Check the user name,"
            " password and database name in your credentials."
        )

    # --- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def begin_transaction(self) -> Iterator[DBTransaction]:
        conn = self._ensure_connection()
        if self._tx is not None:
            yield self  # nested: join the open transaction
            return
        if conn.in_transaction():
            conn.commit()
        tx = conn.begin()
        self._tx = tx
        try:
            yield self
            if tx.is_active:
                self._run(tx.commit)
        except BaseException:
            if tx.is_active:
                tx.rollback()
            raise
        finally:
            self._tx = None

    def commit_transaction(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._run(self._tx.commit)

    def rollback_transaction(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()

    # --- statements ---------------------------------------------------------------------------

    def execute_sql(self, sql: Any, *args: Any, **kwargs: Any) -> Optional[Sequence[Sequence[Any]]]:
        with self.execute_query(sql, *args, **kwargs) as cursor:
            if cursor.description is None:
                return None
            return cursor.fetchall()

    @contextlib.contextmanager
    def execute_query(self, query: Any, *args: Any, **kwargs: Any) -> Iterator[DBApiCursor]:
        if not args and not kwargs and is_select(query) and has_module("pyarrow"):
            # a dataset read: it runs once the caller says how it reads (rows or Arrow)
            from dlt_sqlalchemy.reads.cursor import DeferredCursor

            self._ensure_connection()
            try:
                sql = self._stored_sql(query)  # as `_statement` names the tables
            except Exception as ex:
                raise self._translated(ex)  # noqa: B904 - chaining is decided in _translated
            with contextlib.ExitStack() as stack:
                cursor = DeferredCursor(self, sql, stack, self._result_mapper())
                yield cursor
                cursor.ensure_ran()
            return
        with self._executing(query, args, kwargs) as result:
            yield TypedCursor(_ResultCursor(result), self._result_mapper())

    @contextlib.contextmanager
    def executing_text(self, sql: str, stream: bool = False) -> Iterator[sa.CursorResult[Any]]:
        """Runs the SQL text `sql` (no parameters) with the usual commit and error rules;
        `stream` asks the driver not to buffer the whole result (SQLAlchemy's
        `stream_results`: an unbuffered or server-side cursor)."""
        statement = sa.text(without_binds(sql))
        if stream:
            statement = statement.execution_options(stream_results=True)
        with self._executing(statement, (), {}) as result:
            yield result

    def rows_cursor(self, sql: str, stack: contextlib.ExitStack) -> _ResultCursor:
        """Runs the SQL text `sql` for rows; the result stays open until `stack` closes."""
        return _ResultCursor(stack.enter_context(self.executing_text(sql)))

    def arrow_readers(self) -> List[ArrowReader]:
        """The dialect's Arrow readers available here, fastest first. Inside a transaction only
        those on this connection: a reader of its own connection would miss uncommitted rows."""
        self._ensure_connection()  # readers look at the driver behind it
        readers = [
            reader
            for reader in self.dialect_caps.arrow_readers()
            if not (self.in_transaction and reader.own_connection) and reader.is_available(self)
        ]
        return readers

    @property
    def in_transaction(self) -> bool:
        """True inside `begin_transaction()`."""
        return self._tx is not None

    def translated(self, ex: Exception) -> Exception:
        """`ex` as the dlt exception this client raises for it (secrets scrubbed)."""
        return self._translated(ex)

    def translating(self, items: Iterator[T]) -> Iterator[T]:
        """`items`, with an error raised while producing them translated as `translated`."""
        try:
            yield from items
        except Exception as ex:
            raise self._translated(ex)  # noqa: B904 - chaining is decided in _translated

    def scrubbed(self, text: str) -> str:
        """`text` with the password and secret URL values masked."""
        return self._scrub(text)

    def _result_mapper(self) -> Optional[SqlalchemyTypeMapper]:
        """Reads dataset results back through the loading types (not a user's own mapper)."""
        mapper = self.capabilities.get_type_mapper(self._dialect())
        return mapper if isinstance(mapper, SqlalchemyTypeMapper) else None

    @contextlib.contextmanager
    def _executing(
        self, query: Any, args: Sequence[Any], kwargs: Dict[str, Any]
    ) -> Iterator[sa.CursorResult[Any]]:
        conn = self._ensure_connection()
        autocommit = self._tx is None
        try:
            statement, params = self._statement(query, args, kwargs)
            if isinstance(statement, str):
                # placeholders that do not match the values: the driver says what is wrong
                result = conn.exec_driver_sql(statement, tuple(args))
            else:
                result = conn.execute(statement, params)
        except Exception as ex:
            if autocommit and conn.in_transaction():
                conn.rollback()
            raise self._translated(ex)  # noqa: B904 - chaining is decided in _translated
        try:
            yield result
        finally:
            result.close()
            if autocommit and conn.in_transaction():
                self._run(conn.commit)

    def execute_many(
        self, statements: Sequence[AnyStr], *args: Any, **kwargs: Any
    ) -> Optional[Sequence[Sequence[Any]]]:
        results = []
        for statement in statements:
            rows = self.execute_sql(statement, *args, **kwargs)
            if rows is not None:
                results.append(rows)
        return results

    def _statement(
        self, query: Any, args: Sequence[Any], kwargs: Dict[str, Any]
    ) -> Tuple[Union[sa.Executable, str], Optional[Dict[str, Any]]]:
        """The statement to execute and its named parameters; plain SQL text (for the driver as
        it is) when positional placeholders do not match the values."""
        if isinstance(query, sa.sql.ClauseElement):
            return query, (kwargs or None)  # type: ignore[return-value]
        if isinstance(query, bytes):
            query = query.decode("utf-8")
        query = self._stored_sql(query)
        if args:
            named = to_named(query, args, self._paramstyle())
            if named is None:
                return query, None
            text, params = named
            return sa.text(text), params
        if kwargs:
            # values by name: SQLAlchemy's `:name`, or `%(name)s` as pyformat drivers write it
            return sa.text(pyformat_to_named(query) or query), kwargs
        return sa.text(without_binds(query)), None

    @property
    def dbapi(self) -> Any:  # type: ignore[override]
        """The DB-API module of the driver (dlt's convention): its `paramstyle` tells which
        positional placeholder `execute_sql(sql, *args)` takes, and its exception classes are the
        ones `is_dbapi_exception` recognizes. Imports the driver if no engine has yet."""
        dialect = self._dialect()
        module = dialect.dbapi
        if module is None:
            module = type(dialect).import_dbapi()
        return module

    def _paramstyle(self) -> Optional[str]:
        return getattr(self.dbapi, "paramstyle", None)

    def _run(self, action: Any) -> Any:
        try:
            return action()
        except Exception as ex:
            raise self._translated(ex)  # noqa: B904 - chaining is decided in _translated

    def run(self, action: Callable[[sa.Connection], T]) -> T:
        """Runs `action` on the connection with the same commit and error rules as a statement."""
        conn = self._ensure_connection()
        autocommit = self._tx is None
        try:
            result = action(conn)
        except Exception as ex:
            if autocommit and conn.in_transaction():
                conn.rollback()
            raise self._translated(ex)  # noqa: B904 - chaining is decided in _translated
        if autocommit and conn.in_transaction():
            self._run(conn.commit)
        return result

    def _ensure_connection(self) -> sa.Connection:
        self._ensure_native_conn()
        return self._conn  # type: ignore[return-value]

    # --- datasets and tables ------------------------------------------------------------------

    def quoted(self, name: str) -> str:
        """`name` as SQLAlchemy must render it: always quoted where identifiers keep their case."""
        name = self.capabilities.casefold_identifier(name)
        if self.capabilities.has_case_sensitive_identifiers:
            return sa.sql.quoted_name(name, quote=True)
        return name

    def physical_name(
        self, table_name: str, dataset_name: Optional[str] = None
    ) -> Tuple[Optional[str], str]:
        """(schema, table) where `table_name` of the current (or the given) dataset is stored.

        The same as the logical names, except for a staging dataset kept in the home dataset,
        and the schema, None where datasets are not schemas (the table is then unqualified).
        """
        dataset = dataset_name or self.dataset_name
        if self.staging_table_prefix and dataset == self.staging_dataset_name:
            dataset, table_name = self.home_dataset_name, self.staging_table_prefix + table_name
        return (dataset if self.datasets_in_schemas else None), table_name

    def schema_arg(self, schema: Optional[str]) -> Optional[str]:
        """`schema=` of a SQLAlchemy table in the physical `schema` (None: unqualified)."""
        return None if schema is None else self.quoted(schema)

    def introspection_schema(self, schema: Optional[str]) -> str:
        """The schema to look up tables and columns in: the connection's default one for
        unqualified tables (PostgreSQL's `public`, the URL's MySQL database, SQLite's `main`)."""
        if schema is not None:
            return schema
        default = self._ensure_connection().dialect.default_schema_name
        if not self.dialect_caps.has_schemas:
            return str(default or "")  # the dialect's catalog hooks know where its tables are
        if not default:
            raise DestinationTerminalException(
                "Datasets are not schemas here (`use_schemas = false`, or the dialect has none),"
                " so tables go to the connection's default schema, and this connection has"
                " none: name the database in the URL."
            )
        return str(default)

    @property
    def staging_in_home_dataset(self) -> bool:
        return bool(self.staging_table_prefix) and self.is_staging_dataset_active

    def make_qualified_table_name_path(
        self,
        table_name: str | None,
        quote: bool = True,
        casefold: bool = True,
        dataset_name: str | None = None,
        catalog: str | None = None,
    ) -> List[str]:
        if table_name and dataset_name is None:
            schema, table_name = self.physical_name(table_name)
            # unqualified tables keep their logical dataset here, for dlt's dataset reads to
            # bind; `_statement` names them as stored before they run
            dataset_name = schema or self.home_dataset_name
        return super().make_qualified_table_name_path(
            table_name, quote=quote, casefold=casefold, dataset_name=dataset_name, catalog=catalog
        )

    def make_qualified_table_name(
        self, table_name: str, quote: bool = True, casefold: bool = True
    ) -> str:
        path = self.make_qualified_table_name_path(table_name, quote=quote, casefold=casefold)
        # dlt's own statements (state, schema versions, loads) name their tables through here
        return ".".join(path) if self.datasets_in_schemas else path[-1]

    def table_ref(self, table_name: str, *columns: sa.ColumnClause[Any]) -> sa.TableClause:
        """A lightweight reference to a table of the current dataset."""
        dataset, table = self.physical_name(table_name)
        return sa.table(self.quoted(table), *columns, schema=self.schema_arg(dataset))

    def reflect_table(
        self,
        table_name: str,
        metadata: sa.MetaData | None = None,
        include_columns: Sequence[str] | None = None,
    ) -> sa.Table | None:
        """`table_name` of the current dataset as the database describes it, or None when it
        does not exist: for users who inspect what was created (types, primary key, indexes).

        SQLAlchemy's reflection where the dialect's works; where it fails (duckdb-engine on
        DuckDB 1.x asks for PostgreSQL catalogs), the columns come from our own schema reader,
        typed as the database reports them, without constraints.
        """
        metadata = metadata if metadata is not None else sa.MetaData()
        dataset, name = self.physical_name(table_name)

        def reflect(connection: sa.Connection) -> sa.Table:
            return sa.Table(
                self.quoted(name),
                metadata,
                schema=self.schema_arg(dataset),
                autoload_with=connection,
                include_columns=include_columns,
            )

        try:
            return self.run(reflect)
        except DatabaseUndefinedRelation:
            return None
        except (DatabaseException, NotImplementedError):
            return self._table_from_storage_columns(dataset, name, metadata, include_columns)

    def _table_from_storage_columns(
        self,
        dataset: Optional[str],
        name: str,
        metadata: sa.MetaData,
        include_columns: Optional[Sequence[str]],
    ) -> Optional[sa.Table]:
        stored = self.run(
            lambda connection: self.dialect_caps.read_storage_columns(
                connection, self.introspection_schema(dataset), [name]
            )
        ).get(name)
        mapper = self._result_mapper()
        if not stored or mapper is None:
            return None
        schema, quoted_name = self.schema_arg(dataset), self.quoted(name)
        key = f"{schema}.{quoted_name}" if schema else quoted_name
        if key in metadata.tables:
            metadata.remove(metadata.tables[key])
        columns = [
            sa.Column(
                column.name,
                mapper.stored_sa_type(column.db_type, column.precision, column.scale),
                nullable=column.nullable,
            )
            for column in stored
            if include_columns is None or column.name in include_columns
        ]
        return sa.Table(quoted_name, metadata, *columns, schema=schema)

    def compile(self, statement: sa.ClauseElement) -> str:
        """Renders `statement` as SQL text for this dialect, with literal values inlined."""
        return compile_text(statement, self._dialect(), literal_binds=True)

    def _dialect(self) -> sa.engine.interfaces.Dialect:
        from dlt_sqlalchemy.capabilities import dialect_for

        if self._conn is not None:
            return self._conn.dialect
        dialect = self.credentials.holder().peek_dialect() or dialect_for(self.credentials)
        assert dialect is not None
        return dialect

    # dataset operations go through `run`: the same commit rules and scrubbed error translation
    def has_dataset(self) -> bool:
        if not self.datasets_in_schemas:
            return self._dataset_held() is not None
        dataset = self.home_dataset_name if self.staging_in_home_dataset else self.dataset_name
        return self.run(lambda _: self.dialect_caps.has_dataset(self, dataset))

    def create_dataset(self) -> None:
        if not self.datasets_in_schemas:
            if self._dataset_held() is None:
                # two commits: Firebird cannot write to a table in the transaction creating it
                self.run(
                    lambda conn: single_dataset.create_marker(*self._single_dataset_args(conn))
                )
                home = self.home_dataset_name
                self.run(lambda conn: single_dataset.claim(conn, self.quoted, home))
            return
        if self.staging_in_home_dataset:
            if not self.has_dataset():
                self.run(lambda _: self.dialect_caps.create_dataset(self, self.home_dataset_name))
            return
        self.run(lambda _: self.dialect_caps.create_dataset(self, self.dataset_name))

    def drop_dataset(self) -> None:
        if self.staging_in_home_dataset:
            self.drop_tables(*self._staging_tables_in_home())
            return
        if not self.datasets_in_schemas:
            self._drop_single_dataset()
            return
        self.run(lambda _: self.dialect_caps.drop_dataset(self, self.dataset_name))

    # --- one dataset per database (`single_dataset`) ------------------------------------------

    def _single_dataset_args(
        self, connection: sa.Connection
    ) -> Tuple[sa.Connection, DialectCapabilities, str, Callable[[str], str], Callable[[str], str]]:
        return (
            connection,
            self.dialect_caps,
            self.introspection_schema(None),
            self.capabilities.casefold_identifier,
            self.quoted,
        )

    def _dataset_held(self) -> Optional[str]:
        """The dataset the database holds; refuses one that is not ours."""
        held = self.run(lambda conn: single_dataset.dataset_held(*self._single_dataset_args(conn)))
        if held is not None and held != self.home_dataset_name:
            database = self.credentials.database or self.credentials.drivername
            raise DatabaseHoldsAnotherDataset(str(database), held, self.home_dataset_name)
        self._held_checked = True
        return held

    def _drop_single_dataset(self) -> None:
        if self._dataset_held() is None:
            raise DatabaseUndefinedRelation(
                Exception(f"the database holds no dataset `{self.home_dataset_name}`")
            )

        def drop(connection: sa.Connection) -> None:
            args = self._single_dataset_args(connection)
            prefix = self.staging_table_prefix or DEFAULT_STAGING_PREFIX
            for name in single_dataset.tables_of_dataset(*args, prefix):
                table = sa.Table(sa.sql.quoted_name(name, quote=True), sa.MetaData())
                connection.execute(sa.schema.DropTable(table, if_exists=True))

        self.run(drop)

    def _stored_sql(self, sql: str) -> str:
        """`sql` with the tables of our datasets named as stored, where datasets are not
        schemas: dlt's dataset reads qualify each table with its dataset."""
        datasets = {self.home_dataset_name, self.staging_dataset_name}
        if self.datasets_in_schemas or not single_dataset.mentions_dataset(sql, datasets):
            return sql
        fold = self.capabilities.casefold_identifier
        ours = {fold(self.home_dataset_name): None, fold(self.staging_dataset_name): "staging"}

        def physical(dataset: str, table: str) -> Optional[str]:
            if fold(dataset) not in ours:
                return None
            logical = self.staging_dataset_name if ours[fold(dataset)] else self.home_dataset_name
            return fold(self.physical_name(table, logical)[1])

        if not self._held_checked:
            self._dataset_held()  # a read of another dataset's database is refused too
        dialect = self._dialect()
        needs_quotes = (
            dialect.identifier_preparer._requires_quotes
            if dialect.requires_name_normalize
            else None
        )
        return single_dataset.unqualified(
            sql, self.dialect_caps.sqlglot_dialect, physical, needs_quotes
        )

    def _staging_tables_in_home(self) -> List[str]:
        """Logical names of the staging tables kept (prefixed) in the home dataset."""
        prefix = self.capabilities.casefold_identifier(self.staging_table_prefix or "")
        home = self.physical_name("", self.home_dataset_name)[0]
        names = self.run(
            lambda conn: self.dialect_caps.list_tables(conn, self.introspection_schema(home))
        )
        return [name[len(prefix) :] for name in names if name.startswith(prefix)]

    def truncate_tables(self, *tables: str) -> None:
        for table in tables:
            ref = self.table_ref(table)
            if (
                self.dialect_caps.truncate_with_delete
                or not self.capabilities.supports_truncate_command
            ):
                self.execute_sql(sa.delete(ref))
            else:
                self.execute_sql(f"TRUNCATE TABLE {self.make_qualified_table_name(table)}")

    def drop_tables(self, *tables: str) -> None:
        metadata = sa.MetaData()
        for table in tables:
            dataset, name = self.physical_name(table)
            sa_table = sa.Table(self.quoted(name), metadata, schema=self.schema_arg(dataset))
            self.execute_sql(sa.schema.DropTable(sa_table, if_exists=True))

    # --- errors -------------------------------------------------------------------------------

    def _make_database_exception(self, ex: Exception) -> Exception:  # type: ignore[override]
        return to_dlt_exception(ex, self.dialect_caps, self._secrets())

    def _translated(self, ex: Exception) -> Exception:
        """The dlt exception for `ex`, chained to it unless its chain carries a secret.

        Callers raise the result inside their `except` block; a leaking chain is cut there
        too (`__suppress_context__`), so no traceback prints the driver's text.
        """
        db_ex = self._make_database_exception(ex)
        if db_ex is not ex:
            leaks = mentions_secret(ex, self._secrets())
            db_ex.__cause__ = None if leaks else ex
            db_ex.__suppress_context__ = leaks
        return db_ex

    def _secrets(self) -> List[str]:
        """The password and secret query values, in each form a message could spell them."""
        credentials = self.credentials
        return secret_forms(credentials.password, credentials.query)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets())
