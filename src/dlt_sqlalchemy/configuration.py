"""Configuration of the destination: credentials (URL, split fields or an Engine) and options.

Both classes are dlt `configspec`s, so every field resolves the dlt way: explicit arguments,
then environment variables (`DESTINATION__SQLALCHEMY__...`), then `.dlt/secrets.toml` and
`.dlt/config.toml` under `[destination.sqlalchemy]`.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Final, List, Optional, Union, cast

from dlt.common import logger
from dlt.common.configuration import configspec
from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.common.configuration.specs.base_configuration import NotResolved
from dlt.common.destination.client import DestinationClientDwhConfiguration
from dlt.common.storages.configuration import WithLocalFiles
from dlt.common.typing import Annotated
from dlt.common.utils import digest128

from dlt_sqlalchemy.engine import EngineHolder

if TYPE_CHECKING:
    import sqlalchemy as sa
    from dlt.common.libs.sql_alchemy_shims import URL

_FILE_BACKENDS = {"sqlite": "%s.db", "duckdb": "%s.duckdb"}

ENGINE_ARGS_DEPRECATED: Final[str] = (
    "`engine_args` of the sqlalchemy destination is deprecated; use `engine_kwargs` (same"
    " meaning, forwarded to `sqlalchemy.create_engine`)."
)
DESTINATION_TYPE: Final[str] = "dlt_sqlalchemy.sqlalchemy"
"""How dlt names this destination: the public import path of the factory."""


@configspec(init=False)
class SqlalchemyCredentials(ConnectionStringCredentials):
    """Where to connect: a SQLAlchemy URL, its split fields, or a ready `sqlalchemy.Engine`."""

    drivername: Optional[str] = None  # type: ignore[assignment]
    """The URL scheme, e.g. `postgresql+psycopg`; `driver_name` is accepted as an alias."""
    driver_name: Optional[str] = None
    """Alias of `drivername`, as some dlt docs spell it."""
    engine_kwargs: Annotated[Optional[Dict[str, Any]], NotResolved()] = None
    """Keyword arguments for `sqlalchemy.create_engine`, copied from the destination config."""
    engine: Annotated[Optional[Any], NotResolved()] = None
    """An Engine the user passed in. We use it as it is and never dispose it."""

    __config_gen_annotations__: ClassVar[List[str]] = [
        "drivername",
        "database",
        "username",
        "password",
        "host",
        "port",
    ]

    def __init__(
        self,
        connection_string: Union[str, Dict[str, Any], sa.URL, sa.Engine, None] = None,
        engine_kwargs: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(connection_string)  # type: ignore[arg-type]
        if engine_kwargs is not None:
            self.engine_kwargs = engine_kwargs

    def parse_native_representation(self, native_value: Any) -> None:
        if _is_engine(native_value):
            self.engine = native_value
            url = native_value.url
            self.update({k: v for k, v in url._asdict().items() if v is not None})
            self.query = dict(url.query)
            self.__is_resolved__ = True
            return
        if _is_url(native_value):
            # a `sqlalchemy.URL` renders back to the string it was parsed from, password included
            native_value = native_value.render_as_string(hide_password=False)
        malformed = False
        try:
            super().parse_native_representation(native_value)
        except ValueError:
            malformed = True
        if malformed:
            # dlt's own error keeps the raw string (password included) as an attribute, and
            # dlt's trace pickles every exception of the chain, `__context__` included: ours is
            # raised outside the `except`, so that it has no context, and says what is wrong
            # without holding the value
            raise MalformedUrl(native_value)

    def on_resolved(self) -> None:
        super().on_resolved()
        if self.drivername and self.driver_name and self.drivername != self.driver_name:
            # silently picking one would connect with a driver the user may not have meant
            raise ConfigurationValueError(
                f"SQLAlchemy credentials set both `drivername` ({self.drivername}) and its alias"
                f" `driver_name` ({self.driver_name}) to different values; keep only one."
            )
        if not self.drivername and self.driver_name:
            self.drivername = self.driver_name
        if not self.drivername:
            given = [f for f in ("database", "username", "password", "host", "port") if self[f]]
            if not given and not self.query:
                raise ConfigurationValueError(_no_credentials_found())
            raise ConfigurationValueError(
                "SQLAlchemy credentials need a driver: set `credentials` to a URL such as"
                " `postgresql://user@host/db`, or set `drivername` (or `driver_name`) among the"
                f" split fields (found: {', '.join(given) or 'query'})."
            )

    @property
    def is_external_engine(self) -> bool:
        return self.engine is not None

    def holder(self) -> EngineHolder:
        """The engine holder shared by every client using these credentials."""
        holder: Optional[EngineHolder] = self.__dict__.get("_holder")
        if holder is None:
            holder = EngineHolder(self.sa_url, self.engine_kwargs or {}, self.engine)
            self.__dict__["_holder"] = holder
        return holder

    @property
    def backend_name(self) -> str:
        return (self.drivername or self.driver_name or "").split("+", 1)[0]

    def to_url(self) -> URL:
        # before resolution only the alias may be set (split fields as the dlt docs spell them);
        # capabilities and `str()` are computed that early, so honour it here too
        if not self.drivername and self.driver_name:
            with_driver = self.copy()
            with_driver.drivername = self.driver_name
            return with_driver.to_url()
        return super().to_url()

    def sa_url(self) -> sa.URL:
        """`to_url()` typed as SQLAlchemy's URL, which it is whenever SQLAlchemy is installed.

        dlt types `to_url` with its own stand-in so that it imports without SQLAlchemy.
        """
        return cast("sa.URL", self.to_url())

    def data_location(self) -> str:
        return super().data_location()

    def __str__(self) -> str:
        # never render a password; the query often carries secrets too
        try:
            return self.to_url().set(query={}).render_as_string(hide_password=True)
        except Exception:
            return f"{self.drivername}://"


FILE_FORMATS = ("parquet", "typed-jsonl")
"""The formats `loader_file_format` may name (dlt's `model` files are SQL, not data)."""


@configspec
class SqlalchemyClientConfiguration(WithLocalFiles, DestinationClientDwhConfiguration):
    """Options of the `sqlalchemy` destination (`[destination.sqlalchemy]`)."""

    destination_type: Final[str] = dataclasses.field(  # type: ignore[misc]
        default=DESTINATION_TYPE, init=False, repr=False, compare=False
    )
    credentials: SqlalchemyCredentials = None  # type: ignore[assignment]
    create_unique_indexes: bool = False
    """Create UNIQUE constraints for columns with the `unique` hint."""
    create_primary_keys: bool = False
    """Create PRIMARY KEY constraints for columns with the `primary_key` hint."""
    create_merge_indexes: bool = False
    """Index the columns merges look destination rows up by, on tables created for the `merge`
    write disposition: merge key columns, the primary key of `delete-insert` tables (unless a
    PRIMARY KEY constraint covers it; the upsert strategies make a UNIQUE index of their own),
    `_dlt_root_id` (else `_dlt_parent_id`) of nested tables, and the row hash of `scd2` tables
    and the row key (`_dlt_id`) of their nested tables.
    Without them every merge reads the whole destination table, so its cost grows with the
    table; with them it grows with the incoming rows. Plain (non-unique) indexes: they never
    refuse data."""
    engine_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    """Forwarded to `sqlalchemy.create_engine` (pool settings, `connect_args`, `echo`...)."""
    staging_table_prefix: Optional[str] = None
    """Keep the staging dataset's tables in the dataset itself, named `<prefix><table>`, instead
    of in a schema of their own: for logins that may not CREATE SCHEMA (Oracle users, locked-down
    servers). Off by default."""
    use_schemas: Optional[bool] = None
    """Whether each dataset is a schema of its own (the default where the dialect has schemas).
    `false` keeps one dataset per database, its tables unqualified in the connection's default
    schema and staging tables prefixed: for logins that may create tables but no schemas, and
    the model of databases without schemas (see `DialectCapabilities.has_schemas`)."""
    rows_per_commit: Optional[int] = None
    """Commit each file in chunks of this many rows instead of in one transaction: for clusters
    with write-set limits (Galera's wsrep_max_ws_rows / wsrep_max_ws_size). Trade-off: a file
    that fails midway leaves its committed chunks in the table; the chunks done are recorded
    (table `_dlt_sqla_file_progress`, in the same transaction as each chunk) so that dlt's
    retry of the job resumes after the last committed chunk: no row is lost or loaded twice.
    Off by default (a file is all or nothing)."""
    load_path: Optional[str] = None
    """Force a load path by name (`executemany` turns bulk paths such as COPY off); by default the
    dialect's fastest available path loads each file."""
    loader_file_format: Optional[str] = None
    """The file format normalize writes for this destination unless a pipeline or resource
    says otherwise: `parquet` or `typed-jsonl`. By default the dialect's preference: parquet
    where pyarrow is installed (dlt normalizes to parquet about 1.7x faster, and every load path
    reads Arrow), typed-jsonl where it is not."""
    engine_args: Dict[str, Any] = dataclasses.field(default_factory=dict)
    """Deprecated name of `engine_kwargs`."""

    def on_resolved(self) -> None:
        if self.engine_args and not self.engine_kwargs:
            # resolved from config.toml or env: the DeprecationWarning points into dlt's resolver,
            # where Python's default filters hide it, so say it in the log as well
            logger.warning(ENGINE_ARGS_DEPRECATED)
        self.engine_kwargs = resolve_engine_kwargs(self.engine_kwargs, self.engine_args)
        self.engine_args = {}
        self._check_loader_file_format()
        if self.rows_per_commit is not None and self.rows_per_commit < 1:
            raise ConfigurationValueError(
                f"`rows_per_commit = {self.rows_per_commit}`: give a number of rows of at least"
                " 1, or leave it unset to load each file in one transaction."
            )
        if self.credentials is None:
            return
        self._check_load_path()
        if not self.credentials.is_external_engine:
            name = self.destination_name or "sqlalchemy"
            from_env = query_from_environment(name, self.pipeline_name)
            if from_env:
                self.credentials.query = {**(self.credentials.query or {}), **from_env}
        if self.engine_kwargs and self.credentials.is_external_engine:
            # the user built the engine: nothing of ours can change its pool or connect args
            logger.warning(
                "`engine_kwargs` of the sqlalchemy destination are ignored because `credentials`"
                " is a ready `sqlalchemy.Engine`; pass them to `sqlalchemy.create_engine` instead."
            )
        elif self.engine_kwargs and not self.credentials.engine_kwargs:
            self.credentials.engine_kwargs = dict(self.engine_kwargs)
        self._place_local_database()

    def __str__(self) -> str:
        """The location dlt prints in load info (`... destination used <this> location`), with
        the package that loaded it: load info of dlt's built-in destination reads the same
        otherwise."""
        return f"{self.credentials} [dlt-sqlalchemy {_package_version()}]"

    def _check_loader_file_format(self) -> None:
        if self.loader_file_format is None or self.loader_file_format in FILE_FORMATS:
            return
        raise ConfigurationValueError(
            f'`loader_file_format = "{self.loader_file_format}"` is not a file format the'
            f" sqlalchemy destination loads: choose one of {', '.join(FILE_FORMATS)}, or leave it"
            " unset for the dialect's preference (parquet where pyarrow is installed)."
        )

    def _check_load_path(self) -> None:
        """A `load_path` this dialect does not have is refused when the configuration resolves,
        before extract and normalize, instead of at the load step."""
        if not self.load_path or not self.credentials.drivername:
            return
        from dlt_sqlalchemy.dialects import get_dialect_capabilities

        backend = self.credentials.backend_name
        names = [path.name for path in get_dialect_capabilities(backend).load_paths()]
        if "executemany" not in names:
            names.append("executemany")
        if self.load_path not in names:
            raise ConfigurationValueError(
                f'`load_path = "{self.load_path}"` is not a load path of `{backend}`: its'
                f" paths are {', '.join(names)} (fastest first; `executemany` works everywhere)."
                " Leave `load_path` unset to take the fastest available one."
            )

    def _place_local_database(self) -> None:
        """Puts relative SQLite / DuckDB files where dlt puts local files (the run's local dir)."""
        credentials = self.credentials
        pattern = _FILE_BACKENDS.get(credentials.backend_name)
        if pattern is None or credentials.is_external_engine:
            return
        database = credentials.database or ""
        if is_memory_database(database, credentials.query):
            return
        if database and os.path.isabs(database):
            return
        credentials.database = os.path.abspath(self.make_location(database or None, pattern))  # type: ignore[arg-type]

    def data_location(self) -> str:
        return self.credentials.data_location() if self.credentials else ""

    def fingerprint(self) -> str:
        if self.credentials and self.credentials.host:
            return digest128(self.credentials.host)
        return ""


def resolve_engine_kwargs(
    engine_kwargs: Optional[Dict[str, Any]], engine_args: Optional[Dict[str, Any]]
) -> Dict[str, Any]:
    """Merges the deprecated `engine_args` into `engine_kwargs`, refusing both at once."""
    if engine_args:
        if engine_kwargs:
            raise ConfigurationValueError(
                "Both `engine_kwargs` and its deprecated alias `engine_args` are set; keep only"
                " `engine_kwargs`."
            )
        warnings.warn(ENGINE_ARGS_DEPRECATED, DeprecationWarning, stacklevel=3)
        return dict(engine_args)
    return dict(engine_kwargs or {})


def is_memory_database(database: Optional[str], query: Optional[Dict[str, Any]] = None) -> bool:
    """`:memory:`, an empty path, or a `file:...?mode=memory` URI keep the database in memory."""
    if not database:
        return False
    if database == ":memory:":
        return True
    return "mode=memory" in database or (query or {}).get("mode") == "memory"


def _is_url(value: Any) -> bool:
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - sqlalchemy is a hard dependency
        return False
    return isinstance(value, sa.URL)


def _is_engine(value: Any) -> bool:
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - sqlalchemy is a hard dependency
        return False
    return isinstance(value, sa.Engine)


def query_from_environment(destination_name: str, pipeline_name: Optional[str]) -> Dict[str, str]:
    """URL query parameters given one per environment variable, as
    `DESTINATION__SQLALCHEMY__CREDENTIALS__QUERY__SSLMODE=require`.

    dlt resolves the dict field `query` from one variable holding the whole dict
    (`..._CREDENTIALS__QUERY='{"sslmode": "require"}'`) and ignores variables below it, which
    users write by analogy with the other split fields; they would silently not apply. The
    pipeline-scoped spelling (`<PIPELINE>__DESTINATION__...`) wins, as in dlt's resolution.
    """
    base = f"DESTINATION__{destination_name}__CREDENTIALS__QUERY__".upper()
    prefixes = [base]
    if pipeline_name:
        prefixes.append(f"{pipeline_name.upper()}__{base}")
    query: Dict[str, str] = {}
    for prefix in prefixes:
        for key, value in os.environ.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                query[key[len(prefix) :].lower()] = value
    return query


def _no_credentials_found() -> str:
    """Where dlt looked for the credentials, and the look-alike sections it did not read: the
    first error of a newcomer whose secrets.toml sits in another folder or another section."""
    import dlt

    settings = os.path.abspath(dlt.current.run_context().settings_dir)
    secrets = os.path.join(settings, "secrets.toml")
    lines = [
        "No credentials found for the sqlalchemy destination. dlt looked for:",
        "  - the environment variable DESTINATION__SQLALCHEMY__CREDENTIALS (a URL), or the split"
        " fields DESTINATION__SQLALCHEMY__CREDENTIALS__DRIVERNAME, __HOST, __DATABASE...;",
        f'  - `credentials = "<url>"` under [destination.sqlalchemy] in {secrets}'
        + (
            ""
            if os.path.exists(secrets)
            else f" (no such file: dlt reads .dlt/ in the current working directory, {os.getcwd()})"
        )
        + ";",
        "  - the `credentials` argument of `sqlalchemy(...)`.",
    ]
    other = _destination_sections(secrets)
    if other:
        lines.append(
            f"{secrets} has [destination.{'], [destination.'.join(other)}]: the section is named"
            " after the destination's name, `sqlalchemy` unless you pass `destination_name=`."
        )
    from dlt_sqlalchemy.exceptions import see

    lines.append(see("no-credentials-found"))
    return "\n".join(lines)


def _destination_sections(secrets_path: str) -> List[str]:
    """Destination sections of a secrets.toml other than `sqlalchemy`."""
    try:
        import tomlkit

        with open(secrets_path, encoding="utf-8") as f:
            document = tomlkit.parse(f.read())
    except Exception:
        return []
    destinations = document.get("destination") or {}
    return sorted(str(name) for name in destinations if name != "sqlalchemy")


class MalformedUrl(ValueError):
    """The credentials string is not a SQLAlchemy URL. Holds no part of it that may be secret,
    so that nothing dlt keeps of the error (its trace file) carries a password."""

    def __init__(self, value: Any) -> None:
        super().__init__(
            "The credentials are not a SQLAlchemy URL"
            f" (`dialect+driver://user:password@host:port/database`): {_what_is_wrong(value)}."
            " The value is not shown: it may hold a password."
        )


def _what_is_wrong(value: Any) -> str:
    if not isinstance(value, str):
        return f"a {type(value).__name__} was given where a URL string was expected"
    if "://" not in value:
        return "there is no `://` after the dialect name"
    scheme, _, rest = value.partition("://")
    if not scheme:
        return "the dialect name before `://` is missing"
    authority = rest.split("/", 1)[0].rpartition("@")[2]
    port = authority.rpartition(":")[2] if ":" in authority else ""
    if port and not port.isdigit():
        return f"the port `{port}` is not a number"
    return (
        "it could not be parsed (check the characters of the password: `@`, `/`, `:` and `%`"
        " must be percent-encoded)"
    )


def _package_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("dlt-sqlalchemy")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
