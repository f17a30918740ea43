"""`dlt-sqlalchemy doctor`: tells, before a pipeline runs, whether it would load and how.

A failed load says what went wrong, but only after extract and normalize, and only the first
problem. The doctor walks the same steps a pipeline's load step takes, with the same code (dlt's
configuration resolution, the destination factory, the job client, the SQL client and its error
translation, the dialect's load paths) and reports each one on a line of its own:

- where the credentials came from (argument, environment variable, `secrets.toml`...);
- the dialect and driver, and the `pip install` line when the driver is missing;
- whether the server accepts the login, and its version;
- the capabilities derived for the dialect (identifier limits, timestamp precision, merge and
  replace strategies, file formats) and the sqlglot dialect of `dataset()` reads;
- which load path each file format takes, and why each faster one is unavailable;
- whether the login may create schemas, or needs `staging_table_prefix`.

It never prints the password or secret query values: URLs are rendered without them, errors come
from the SQL client's scrubbed translation, and every line is scrubbed once more on output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import inspect
import os
import sys
import textwrap
import time
import uuid
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    Literal,
    Optional,
    Sequence,
    TextIO,
    Tuple,
)

import sqlalchemy as sa
from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigurationException
from dlt.common.configuration.utils import ResolvedValueTrace, get_resolved_traces
from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.schema import Schema
from dlt.common.schema.typing import TColumnSchema
from dlt.common.schema.utils import new_table

from dlt_sqlalchemy.capabilities import DEFAULT_BATCH_ROWS
from dlt_sqlalchemy.client.errors import driver_message, scrub, secret_forms
from dlt_sqlalchemy.configuration import (
    SqlalchemyClientConfiguration,
    SqlalchemyCredentials,
    is_memory_database,
)
from dlt_sqlalchemy.dialects import DialectCapabilities, get_dialect_capabilities
from dlt_sqlalchemy.driver_import import driver_import_error
from dlt_sqlalchemy.engine import install_hint, load_dialect_class
from dlt_sqlalchemy.exceptions import (
    DatabaseUnreachable,
    DriverImportFailed,
    InvalidCredentials,
    MissingDriver,
    UnknownDialect,
)
from dlt_sqlalchemy.factory import sqlalchemy
from dlt_sqlalchemy.load.path import (
    ExecutemanyPath,
    LoadPath,
    LoadPathUnavailable,
    LoadRequest,
    choose_load_path,
)

if TYPE_CHECKING:
    from dlt_sqlalchemy.client.job_client import SqlalchemyJobClient
    from dlt_sqlalchemy.client.sql_client import SqlalchemySqlClient

TStatus = Literal["ok", "warn", "fail", "info", "skip"]

_MARKS: Dict[str, str] = {"ok": "ok", "warn": "warn", "fail": "FAIL", "info": "", "skip": "--"}

PROBE_TABLE = "dlt_doctor_probe"
"""The table whose load paths are checked. It is never created: paths decide on the table's
column types, the driver and server settings, not on rows."""

PROBE_COLUMNS: List[TColumnSchema] = [
    {"name": "id", "data_type": "bigint", "nullable": False},
    {"name": "name", "data_type": "text"},
    {"name": "ts", "data_type": "timestamp"},
    {"name": "amount", "data_type": "decimal"},
    {"name": "flag", "data_type": "bool"},
    {"name": "payload", "data_type": "json"},
    {"name": "raw", "data_type": "binary"},
]
"""One column of each type a bulk path converts itself: a path that refuses one of them for this
dialect is worth knowing about before the first load."""

# the statement that tells the server's product and version better than the dialect's tuple
_VERSION_QUERIES: Dict[str, Tuple[str, str]] = {
    "postgresql": ("SHOW server_version", "PostgreSQL "),
    "mysql": ("SELECT VERSION()", ""),
    "mariadb": ("SELECT VERSION()", ""),
    "sqlite": ("SELECT sqlite_version()", "SQLite "),
    "duckdb": ("SELECT version()", "DuckDB "),
}

_FILE_SUFFIXES = ("", "-journal", "-wal", "-shm", ".wal")
"""What SQLite and DuckDB may write beside a database file (journals, write-ahead logs)."""


@dataclasses.dataclass
class Check:
    """One line of the report: what was checked, how it went, and what it found."""

    label: str
    status: TStatus
    value: str
    details: List[str] = dataclasses.field(default_factory=list)


class Report:
    """The checks in the order they ran, and the verdict: a pipeline loads only if none failed."""

    def __init__(self) -> None:
        self.checks: List[Check] = []
        self.secrets: List[str] = []
        self.target = ""
        """The database URL without password or query, for the verdict line."""

    def add(self, label: str, status: TStatus, value: str, details: Sequence[str] = ()) -> Check:
        check = Check(label, status, value, list(details))
        self.checks.append(check)
        return check

    def hide(self, password: Optional[str], query: Optional[Dict[str, Any]] = None) -> None:
        """Remembers secrets to blank out of every line, in every spelling a message may use."""
        for form in secret_forms(password, query):
            if form not in self.secrets:
                self.secrets.append(form)
        self.secrets.sort(key=len, reverse=True)

    @property
    def failures(self) -> List[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def exit_code(self) -> int:
        """0 when a pipeline would load, 1 when it would not."""
        return 1 if self.failures else 0

    def verdict(self) -> str:
        where = f" into {self.target}" if self.target else ""
        if self.failures:
            first = self.failures[0]
            return f"verdict: a pipeline would NOT load{where}: {first.label}: {first.value}"
        warnings = [c.label for c in self.checks if c.status == "warn"]
        also = f" (see the warnings: {', '.join(warnings)})" if warnings else ""
        return f"verdict: a pipeline would load{where}{also}"

    def render(self, width: int = 100) -> str:
        """Aligned `status  label : value` lines; long values and details wrap under the value."""
        label_width = max((len(c.label) for c in self.checks), default=0)
        indent = " " * (2 + 5 + 1 + label_width + 3)
        lines = ["dlt-sqlalchemy doctor", ""]
        for check in self.checks:
            head = f"  {_MARKS[check.status]:<5} {check.label:<{label_width}} : "
            # scrubbed before wrapping: a secret split over two lines would escape the scrub
            lines.extend(self._wrap(check.value, head, indent, width) or [head.rstrip()])
            for detail in check.details:
                for part in scrub(detail, self.secrets).splitlines():
                    lines.extend(self._wrap(part.strip(), indent, indent, width))
        lines.extend(["", scrub(self.verdict(), self.secrets)])  # one line, for grep and CI logs
        return scrub("\n".join(lines), self.secrets) + "\n"

    def _wrap(self, text: str, first: str, rest: str, width: int) -> List[str]:
        return textwrap.wrap(
            scrub(text, self.secrets),
            width=width,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )


def run(url: Optional[str] = None, destination_name: Optional[str] = None) -> Report:
    """Runs every check against `url`, or against the configured credentials when it is None."""
    return _Doctor(url, destination_name).run()


def doctor(
    url: Optional[str] = None, destination_name: Optional[str] = None, out: Optional[TextIO] = None
) -> int:
    """Prints the report to `out` (stdout) and returns the exit status: 0 if a pipeline would
    load, 1 if it would not."""
    report = run(url, destination_name)
    (out or sys.stdout).write(report.render())
    return report.exit_code


class _Doctor:
    """The checks, in the order a pipeline meets the same questions; each stops the rest only
    when what follows cannot be told without it (no credentials: no dialect; no driver: no
    connection)."""

    def __init__(self, url: Optional[str], destination_name: Optional[str]) -> None:
        self.url = url
        self.destination_name = destination_name
        self.destination = sqlalchemy(destination_name=destination_name)
        self.section = f"destination.{self.destination.destination_name}"
        self.report = Report()
        self.probe_dataset = f"dlt_doctor_{uuid.uuid4().hex[:8]}"
        self.config: Optional[SqlalchemyClientConfiguration] = None
        self.caps: Optional[DestinationCapabilitiesContext] = None
        self.dialect_caps: Optional[DialectCapabilities] = None
        self.client: Optional[SqlalchemyJobClient] = None
        self.dialect_cls: Any = None
        self.new_files: List[str] = []
        self.new_folders: List[str] = []

    @property
    def credentials(self) -> SqlalchemyCredentials:
        assert self.config is not None
        return self.config.credentials

    def run(self) -> Report:
        try:
            self._run()
        except Exception as ex:
            # never a traceback: a driver's text may carry the password, the report is scrubbed
            self.report.add("doctor", "fail", f"stopped by an unexpected error: {_error_text(ex)}")
        finally:
            self._close()
        return self.report

    def _run(self) -> None:
        if self.url is not None:
            self._hide_url_secrets(self.url)
            # as `sqlalchemy("<url>")` in a pipeline script: the URL is an explicit value, every
            # other option still comes from the configuration
            self.destination = sqlalchemy(
                credentials=self.url, destination_name=self.destination_name
            )
        if not self._resolve_configuration() or not self._dialect():
            return
        driver_ok = self._driver()
        if not self._capabilities():
            return
        connected = False
        if driver_ok:
            self._database_file()
            connected = self._connect()
            if connected:
                self._server_version()
        else:
            self.report.add("connection", "skip", "not tried: the driver is missing")
        self._report_capabilities()
        self._load_paths(connected)
        self._schema_creation(connected)
        self._sqlglot()

    # --- where the credentials come from --------------------------------------------------------

    def _hide_url_secrets(self, url: str) -> None:
        try:
            parsed = sa.make_url(url)
        except Exception:
            return  # not a URL: dlt refuses it below without showing it
        self.report.hide(parsed.password, dict(parsed.query))

    def _resolve_configuration(self) -> bool:
        """Resolves `[destination.<name>]` exactly as a pipeline does, noting which provider gave
        the credentials (dlt's resolver logs a trace per value it found)."""
        traces = get_resolved_traces()
        traces.clear()
        initial = self.destination.spec()._bind_dataset_name(self.probe_dataset)
        try:
            config = self.destination.configuration(initial)
        except ConfigurationException as ex:
            found = [t for t in traces.resolved_traces if _is_credentials_trace(t)]
            missing = isinstance(ex, ConfigFieldMissingException) or not found
            if missing and self.url is None:
                self._credentials_not_found()
            else:
                # dlt's configuration errors never carry the values ("may be a secret")
                self.report.add("credentials", "fail", "not usable", [str(ex)])
            return False
        self.config = config
        credentials = config.credentials
        self.report.hide(credentials.password, credentials.query)
        self.report.target = str(credentials)
        self.report.add("credentials from", "ok", self._credentials_source(traces.resolved_traces))
        self.report.add("database URL", "info", str(credentials))
        return True

    def _credentials_not_found(self) -> None:
        env = f"{self.section.replace('.', '__').upper()}__CREDENTIALS"
        self.report.add(
            "credentials",
            "fail",
            f"not found in the [{self.section}] section",
            [
                "pass a URL: dlt-sqlalchemy doctor postgresql+psycopg://user@host/db,",
                f"or set `credentials` under [{self.section}] in .dlt/secrets.toml,",
                f"or set the environment variable {env}",
            ],
        )

    def _credentials_source(self, traces: Sequence[ResolvedValueTrace]) -> str:
        if self.url is not None:
            return "command line argument"
        found: Dict[str, List[str]] = {}
        for trace in filter(_is_credentials_trace, traces):
            # `credentials` itself (a URL), or one of its split fields (`host`, `password`...)
            found.setdefault(trace.provider_name, []).append(trace.key)
        if not found:
            return "default values"
        parts = []
        for provider, where in found.items():
            fields = [w for w in where if w != "credentials"] or where
            parts.append(_describe_provider(provider, traces, fields))
        return "; ".join(parts)

    # --- dialect and driver ---------------------------------------------------------------------

    def _dialect(self) -> bool:
        credentials = self.credentials
        try:
            dialect_cls: Any = load_dialect_class(credentials.sa_url())
        except UnknownDialect as ex:
            self.report.add("dialect", "fail", f"unknown: {credentials.drivername}", [str(ex)])
            return False
        except MissingDriver as ex:
            # dialects shipped inside their driver package (duckdb-engine, trino)
            self.report.add("dialect", "info", str(credentials.drivername))
            self.report.add("driver", "fail", _driver_state(ex), [str(ex)])
            return False
        self.dialect_caps = get_dialect_capabilities(credentials.backend_name, dialect_cls.name)
        handled_by = type(self.dialect_caps)
        how = (
            "generic handling (no DialectCapabilities registered for it)"
            if handled_by is DialectCapabilities
            else f"handled by {handled_by.__name__}"
        )
        module = str(dialect_cls.__module__)
        origin = "" if module.startswith("sqlalchemy.") else f" from {module.split('.')[0]}"
        self.report.add(
            "dialect",
            "ok",
            f"{credentials.drivername} (SQLAlchemy {dialect_cls.__name__}{origin}), {how}",
        )
        self.dialect_cls = dialect_cls
        return True

    def _driver(self) -> bool:
        drivername = str(self.credentials.drivername)
        try:
            # `import_dbapi` since SQLAlchemy 2.0; older third-party dialects only have `dbapi`
            load = getattr(self.dialect_cls, "import_dbapi", None) or self.dialect_cls.dbapi
            dbapi = load()
        except ImportError as ex:
            missing = driver_import_error(drivername, ex, install_hint(drivername))
            self.report.add(
                "driver",
                "fail",
                f"{self.dialect_cls.driver}: {_driver_state(missing)}",
                [str(missing), "(the capabilities below come from the dialect class alone)"],
            )
            return False
        self.report.add("driver", "ok", _driver_version(str(self.dialect_cls.driver), dbapi))
        return True

    # --- capabilities and the client ----------------------------------------------------------

    def _capabilities(self) -> bool:
        """The capabilities and the job client a pipeline would build; no connection yet."""
        from dlt_sqlalchemy.client.job_client import SqlalchemyJobClient

        assert self.config is not None
        schema = Schema("doctor")
        schema.update_table(
            new_table(PROBE_TABLE, write_disposition="append", columns=PROBE_COLUMNS)
        )
        try:
            self.caps = self.destination.capabilities(self.config, schema.naming)
            self.client = SqlalchemyJobClient(schema, self.config, self.caps)
        except Exception as ex:
            self.report.add("capabilities", "fail", _error_text(ex))
            return False
        self.dialect_caps = self.client.dialect_caps
        return True

    def _report_capabilities(self) -> None:
        caps, dialect_caps, config = self.caps, self.dialect_caps, self.config
        assert caps is not None and dialect_caps is not None and config is not None
        unit = dialect_caps.identifier_unit
        tables, columns = caps.max_identifier_length, caps.max_column_identifier_length
        limits = (
            f"{tables} {unit} (tables and columns)"
            if tables == columns
            else f"{tables} {unit} (tables), {columns} {unit} (columns)"
        )
        case = (
            "case-sensitive"
            if caps.has_case_sensitive_identifiers
            else "case-insensitive (stored lower-case)"
        )
        self.report.add("identifier limits", "info", f"{limits}, {case}")
        aware = "supported" if caps.supports_tz_aware_datetime else "not supported"
        self.report.add(
            "timestamp precision",
            "info",
            f"{caps.timestamp_precision} fractional digits (at most"
            f" {caps.max_timestamp_precision}), time-zone-aware values {aware}",
        )
        self.report.add("merge strategies", "info", ", ".join(caps.supported_merge_strategies))
        replace = list(caps.supported_replace_strategies)
        in_use = config.replace_strategy or (replace[0] if replace else "")
        self.report.add(
            "replace strategies",
            "info",
            ", ".join(f"{r} (in use)" if r == in_use else r for r in replace),
        )
        preferred = caps.preferred_loader_file_format
        others = [f for f in caps.supported_loader_file_formats if f != preferred]
        formats = [f"{preferred} (preferred)", *others]
        self.report.add("file formats", "info", ", ".join(formats))

    def _sqlglot(self) -> None:
        assert self.caps is not None
        name = self.caps.sqlglot_dialect
        self.report.add(
            "sqlglot dialect",
            "info",
            f"{name or 'generic (ANSI SQL)'}, for pipeline.dataset() reads and SQL models",
        )

    # --- the connection -------------------------------------------------------------------------

    @property
    def sql_client(self) -> SqlalchemySqlClient:
        assert self.client is not None
        return self.client.sql_client

    def _database_file(self) -> None:
        """SQLite and DuckDB create their file on connect: say so, and remove what we made."""
        credentials = self.credentials
        if credentials.backend_name not in ("sqlite", "duckdb"):
            return
        path = credentials.database or ""
        if not path or is_memory_database(path, credentials.query):
            self.report.add("database file", "info", "in memory: gone when the process ends")
            return
        if os.path.exists(path):
            self.report.add("database file", "ok", path)
            return
        folder = os.path.dirname(path)
        while folder and not os.path.exists(folder):
            self.new_folders.append(folder)
            folder = os.path.dirname(folder)
        self.new_files.append(path)
        self.report.add(
            "database file",
            "info",
            f"{path} does not exist yet: the first load creates it"
            " (the doctor removes the one it opens)",
        )

    def _connect(self) -> bool:
        started = time.monotonic()
        try:
            self.sql_client.open_connection()
            # lazy drivers (Trino's HTTP client) talk to the server only on the first query
            self.sql_client.native_connection.dialect.server_version_info  # noqa: B018
        except InvalidCredentials as ex:
            self.report.add("connection", "fail", "refused", [str(ex)])
            return False
        except DatabaseUnreachable as ex:
            self.report.add("connection", "fail", "unreachable", [str(ex)])
            return False
        except Exception as ex:
            self.report.add("connection", "fail", "failed", [_error_text(ex)])
            return False
        elapsed = (time.monotonic() - started) * 1000
        self.report.add("connection", "ok", f"connected in {elapsed:.0f} ms")
        return True

    def _server_version(self) -> None:
        connection = self.sql_client.native_connection
        dialect = connection.dialect
        version = ".".join(str(p) for p in (dialect.server_version_info or ()))
        query = _VERSION_QUERIES.get(self.credentials.backend_name)
        if query is not None:
            statement, prefix = query
            try:
                text = str(self.sql_client.run(lambda c: c.exec_driver_sql(statement).scalar()))
                if not prefix:  # MySQL and MariaDB share a dialect; the version tells them apart
                    prefix = "MariaDB " if "mariadb" in text.lower() else "MySQL "
                version = f"{prefix}{text}"
            except Exception:
                pass  # the dialect's own tuple is still worth showing
        self.report.add("server version", "info", version or "unknown")

    def _close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):  # a failed close must not hide the report
                self.sql_client.close_connection()
        for path in self.new_files:
            for suffix in _FILE_SUFFIXES:
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        for folder in self.new_folders:  # deepest first
            try:
                os.rmdir(folder)
            except OSError:
                break
        self.new_files, self.new_folders = [], []

    # --- load paths -----------------------------------------------------------------------------

    def _load_paths(self, connected: bool) -> None:
        """The path each format takes for a representative table, as the load job chooses it."""
        caps, dialect_caps, config, client = self.caps, self.dialect_caps, self.config, self.client
        assert caps is not None and dialect_caps is not None
        assert config is not None and client is not None
        paths = list(dialect_caps.load_paths())
        names = [p.name for p in paths]
        if ExecutemanyPath.name not in names:
            names.append(ExecutemanyPath.name)
        formats = [f for f in caps.supported_loader_file_formats if f != "model"]
        if not connected:
            for file_format in formats:
                self.report.add(
                    f"load path {file_format}",
                    "skip",
                    "not checked: needs a connection (paths look at server settings)",
                )
        else:
            table = client.sa_table(PROBE_TABLE)
            for file_format in formats:
                request = LoadRequest(
                    connection=self.sql_client.native_connection,
                    table=table,
                    columns=table.info["dlt_columns"],
                    file_path="",
                    file_format=file_format,
                    batch_rows=caps.max_rows_per_insert or DEFAULT_BATCH_ROWS,
                )
                self._load_path(paths, request, config.load_path)
        if "model" in caps.supported_loader_file_formats:
            self.report.add(
                "load path model", "info", "runs as SQL in the database (load paths do not apply)"
            )
        forced = config.load_path
        if forced:
            value = f'"{forced}": forces that path for the file formats it takes'
        else:
            value = 'not set: the fastest available path loads each file (load_path = "<name>"'
            value += " forces one)"
        self.report.add(
            "load_path option",
            "info",
            value,
            [f"paths of this dialect, fastest first: {', '.join(names)}"],
        )

    def _load_path(
        self, paths: Sequence[LoadPath], request: LoadRequest, forced: Optional[str]
    ) -> None:
        label = f"load path {request.file_format}"
        with self.sql_client.begin_transaction():
            try:
                chosen = choose_load_path(paths, request, forced)
            except LoadPathUnavailable as ex:
                self.report.add(label, "fail", f"forced path `{forced}` cannot run", [str(ex)])
                return
            except Exception as ex:
                self.report.add(label, "warn", "could not be told", [_error_text(ex)])
                return
            details = []
            if forced and chosen.name == forced:
                note = " (forced by load_path)"
            else:
                note = ""
                if forced and forced != chosen.name:
                    details.append(
                        f"load_path `{forced}` does not take {request.file_format} files:"
                        " the usual choice applies"
                    )
                for path in paths:
                    if path.name == chosen.name:
                        break
                    if request.file_format not in path.file_formats:
                        continue
                    details.append(f"{path.name} unavailable: {_unavailable_reason(path, request)}")
        self.report.add(label, "ok", f"{chosen.name}{note}", details)

    # --- schemas --------------------------------------------------------------------------------

    def _schema_creation(self, connected: bool) -> None:
        """Creates and drops a dataset of a random name the way the pipeline creates datasets;
        inside a transaction that is rolled back where DDL is transactional."""
        label = "create schema"
        if not connected:
            self.report.add(label, "skip", "not checked: no connection")
            return
        caps, config = self.caps, self.config
        assert caps is not None and config is not None
        client = self.sql_client
        name = client.dataset_name
        transactional = caps.supports_ddl_transactions and self.credentials.backend_name not in (
            "sqlite",  # ATTACH and DETACH cannot run inside a transaction
        )
        created = False
        try:
            if transactional:
                with client.begin_transaction() as tx:
                    client.create_dataset()
                    created = True
                    client.drop_dataset()
                    tx.rollback_transaction()
                how = "created and dropped, in a transaction rolled back"
            else:
                client.create_dataset()
                created = True
                client.drop_dataset()
                how = "created and dropped"
        except Exception as ex:
            reason = _error_text(ex)
            if created and not transactional:
                self.report.add(
                    label,
                    "warn",
                    f"created dataset `{name}` but could not drop it: {reason}",
                    ["drop it by hand"],
                )
                return
            prefix = config.staging_table_prefix
            if prefix:
                advice = [
                    f'staging_table_prefix = "{prefix}" is set: staging needs no schema of its'
                    " own, but the dataset itself must exist already"
                ]
            else:
                advice = [
                    "load into a dataset that exists, and keep staging tables in it with"
                    ' staging_table_prefix = "stg__" (docs/configuration.md#staging_table_prefix)'
                ]
            self.report.add(label, "warn", f"no: {reason}", advice)
            return
        prefix = config.staging_table_prefix
        staging = (
            f'staging tables live in the dataset (staging_table_prefix = "{prefix}")'
            if prefix
            else "staging datasets can be schemas of their own"
        )
        self.report.add(label, "ok", f"yes: dataset `{name}` {how}", [staging])


# --- helpers ------------------------------------------------------------------------------------


def _unavailable_reason(path: LoadPath, request: LoadRequest) -> str:
    try:
        return path.unavailable_reason(request) or "not available here"
    except Exception as ex:
        return f"its check failed: {_error_text(ex)}"


def _is_credentials_trace(trace: ResolvedValueTrace) -> bool:
    """The trace of `credentials` itself (a URL) or of one of its split fields."""
    return trace.key == "credentials" or "credentials" in trace.sections


def _describe_provider(
    provider: str, traces: Sequence[ResolvedValueTrace], fields: List[str]
) -> str:
    """`environment variable X`, `secrets.toml (/abs/path) [section] fields`, or the provider."""
    relevant = [
        t
        for t in traces
        if t.provider_name == provider and (t.key in fields or t.key == "credentials")
    ]
    if provider == "Environment Variables":
        names = sorted({"__".join([*t.sections, t.key]).upper() for t in relevant})
        if fields == ["credentials"]:
            names = [n for n in names if n.endswith("__CREDENTIALS")]
        plural = "s" if len(names) > 1 else ""
        return f"environment variable{plural} {', '.join(names)}"
    sections = {".".join(t.sections) for t in relevant if t.key in fields}
    location = _provider_file(provider, relevant)
    where = f" ({location})" if location else ""
    fields_text = ", ".join(dict.fromkeys(fields))
    return f"{provider}{where} [{', '.join(sorted(sections))}] {fields_text}"


def _provider_file(provider: str, traces: Sequence[ResolvedValueTrace]) -> str:
    """The file a TOML provider read the value from, as an absolute path where dlt tells it."""
    location = next((t.provider_location for t in traces if t.provider_location), "")
    if location and os.path.isabs(location):
        return location
    try:
        from dlt.common.configuration.container import Container
        from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

        providers = Container()[PluggableRunContext].providers.providers
        for candidate in providers:
            if candidate.name != provider:
                continue
            present = [os.path.abspath(p) for p in candidate.present_locations]
            named = [p for p in present if os.path.basename(p) == os.path.basename(location)]
            return ", ".join(named or present)
    except Exception:
        pass
    return location


def _driver_state(missing: MissingDriver) -> str:
    """A driver that pip must install, or one installed whose import fails (a system library)."""
    return "cannot be imported" if isinstance(missing, DriverImportFailed) else "not installed"


def _driver_version(driver: str, dbapi: Any) -> str:
    """`psycopg 3.3.9 installed`, naming the distribution that provides the DB-API module."""
    module = dbapi if inspect.ismodule(dbapi) else inspect.getmodule(dbapi)
    name = str(getattr(module, "__name__", driver)).split(".")[0]
    if name in sys.stdlib_module_names:
        return f"{driver}: {name} installed (standard library)"
    try:
        distributions = importlib.metadata.packages_distributions().get(name, [])
    except Exception:
        distributions = []
    installed = name
    for distribution in distributions:
        try:
            installed = f"{distribution} {importlib.metadata.version(distribution)}"
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    if installed.split(" ")[0].lower() == driver.lower():
        return f"{installed} installed"
    return f"{driver}: {installed} installed"


def _error_text(ex: BaseException) -> str:
    """The error's first line, in the driver's words where a driver error is underneath."""
    inner: Any = getattr(ex, "dbapi_exception", None) or ex
    if isinstance(inner, sa.exc.DBAPIError):
        return driver_message(inner)
    return _first_line(f"{type(ex).__name__}: {ex}" if not str(ex) else str(ex))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else text
