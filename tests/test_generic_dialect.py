"""The generic layer on a dialect nobody here wrote capabilities for.

A third-party dialect gets the generic type mapper and the generic capabilities. What they
produce must compile on that dialect (checked by compiling against SQLAlchemy's own dialect
objects and against sqlalchemy-firebird's, a real third-party dialect), and a value the dialect's
bind processors or the driver refuse while binding must fail the file terminally, naming the
table and the column.
"""

from __future__ import annotations

import datetime
from typing import Any, Optional

import pytest
import sqlalchemy as sa
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import Backend
from dlt_sqlalchemy import SqlalchemyTypeMapper
from dlt_sqlalchemy.dialects import get_dialect_capabilities
from dlt_sqlalchemy.dialects.base import DialectCapabilities
from dlt_sqlalchemy.dialects.type_mapper import JsonText, UtcDateTime
from test_errors import assert_value_not_storable, rows_of

ALL_TYPES = [
    "text",
    "bigint",
    "double",
    "bool",
    "timestamp",
    "date",
    "time",
    "decimal",
    "wei",
    "json",
    "binary",
]


def firebird_dialect(server_version: Optional[tuple[int, ...]]) -> sa.Dialect:
    """sqlalchemy-firebird's dialect as a connection to a server of `server_version` sets it."""
    from sqlalchemy_firebird.firebird import FBDialect_firebird

    dialect = FBDialect_firebird()
    dialect.server_version_info = server_version
    return dialect


def generic_mapper(dialect: sa.Dialect) -> SqlalchemyTypeMapper:
    return SqlalchemyTypeMapper(DestinationCapabilitiesContext.generic_capabilities(), dialect)


def ddl_of(mapper: SqlalchemyTypeMapper, data_type: str, **hints: Any) -> str:
    sa_type = mapper.to_destination_type(
        {"name": "c", "data_type": data_type, **hints},  # type: ignore[typeddict-item]
        {"name": "t"},  # type: ignore[typeddict-item]
    )
    return str(sa.schema.CreateColumn(sa.Column("c", sa_type)).compile(dialect=mapper.dialect))


@pytest.mark.compiled
@pytest.mark.parametrize(
    "dialect",
    [
        pytest.param(sa.engine.default.DefaultDialect(), id="sqlalchemy-generic"),
        pytest.param(firebird_dialect((3, 0, 10)), id="firebird-3"),
        pytest.param(firebird_dialect((4, 0, 1)), id="firebird-4"),
    ],
)
def test_every_dlt_type_compiles_on_a_third_party_dialect(dialect: sa.Dialect) -> None:
    """sa.JSON has no visitor in these compilers: CREATE TABLE would fail at the first load."""
    with pytest.raises(sa.exc.CompileError):
        dialect.type_compiler_instance.process(sa.JSON())
    mapper = generic_mapper(dialect)
    for data_type in ALL_TYPES:
        assert ddl_of(mapper, data_type).startswith("c ")
    json_type = mapper.to_destination_type({"name": "j", "data_type": "json"})
    assert isinstance(json_type, JsonText), "JSON kept as text, serialized on the way in"


@pytest.mark.compiled
def test_native_json_stays_where_the_dialect_renders_it() -> None:
    from sqlalchemy.dialects import postgresql

    mapper = generic_mapper(postgresql.dialect())
    assert isinstance(mapper.to_destination_type({"name": "j", "data_type": "json"}), sa.JSON)


@pytest.mark.compiled
def test_aware_timestamps_are_utc_where_the_dialect_keeps_no_zone() -> None:
    """Firebird 3 has no zones: an aware column is a plain TIMESTAMP holding UTC, and a literal
    (scd2's validity bounds) is rendered without the `+00:00` Firebird refuses."""
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
    for version, keeps_zones in [((3, 0, 10), False), ((4, 0, 1), True)]:
        mapper = generic_mapper(firebird_dialect(version))
        assert mapper.keeps_time_zones() is keeps_zones
        sa_type = mapper.to_destination_type({"name": "ts", "data_type": "timestamp"})
        assert isinstance(sa_type, UtcDateTime) is not keeps_zones
        caps = DialectCapabilities("firebird")  # the generic layer, not our Firebird package
        literal = caps.timestamp_literal(moment, sa.Column("ts", sa_type))
        rendered = str(
            sa.select(literal).compile(
                dialect=mapper.dialect, compile_kwargs={"literal_binds": True}
            )
        )
        assert ("+00:00" in rendered) is keeps_zones, rendered
        assert "2024-05-06 07:08:09" in rendered


@pytest.mark.compiled
def test_a_type_with_no_renderable_alternative_is_refused_naming_the_column() -> None:
    from dlt_sqlalchemy.exceptions import UnsupportedColumnType

    class NoBinary(sa.engine.default.DefaultDialect):
        class type_compiler_cls(sa.sql.compiler.GenericTypeCompiler):
            def visit_large_binary(self, type_: Any, **kw: Any) -> str:
                raise sa.exc.UnsupportedCompilationError(self, type(type_))

            visit_BLOB = visit_large_binary

    mapper = generic_mapper(NoBinary())
    with pytest.raises(UnsupportedColumnType, match="Column `payload` of table `t`"):
        mapper.to_destination_type(
            {"name": "payload", "data_type": "binary"},
            {"name": "t"},  # type: ignore[typeddict-item]
        )


class UpperCaseCode(sa.types.TypeDecorator[str]):
    """A user's column type whose bind processor refuses values, as a dialect's may."""

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is not None and value != value.upper():
            raise ValueError(f"code {value!r} is not upper case")
        return value


@pytest.mark.live
@pytest.mark.parametrize("file_format", ["typed-jsonl", "parquet"])
def test_value_a_bind_processor_refuses_fails_the_file_terminally(
    backend: Backend, file_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a ValueError from binding was transient, retried, and named no column."""
    caps = type(get_dialect_capabilities(backend.engine.url.get_backend_name()))
    base = caps(backend.name).type_mapper_class() or SqlalchemyTypeMapper

    class Mapper(base):  # type: ignore[valid-type,misc]
        def db_type_from_text_type(self, column: Any, table: Any = None) -> Any:
            if column["name"] == "code":
                return UpperCaseCode()
            return super().db_type_from_text_type(column, table)

    monkeypatch.setattr(caps, "type_mapper_class", lambda self: Mapper)
    pipeline = backend.pipeline()
    pipeline.run([{"id": 0, "code": "KEPT"}], table_name="t", loader_file_format=file_format)
    rows = [{"id": 1, "code": "OK"}, {"id": 2, "code": "bad"}, {"id": 3, "code": "FINE"}]
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(rows, table_name="t", loader_file_format=file_format)
    assert_value_not_storable(raised.value, "t", "code")
    assert "is not upper case" in str(raised.value)
    assert rows_of(pipeline, "t") == [(0,)], "no row of the failed file remains"


@pytest.mark.compiled
def test_driver_conversion_errors_are_values_refused_not_statement_errors() -> None:
    """What a driver raises while converting a value (firebird-driver: `ValueError: numeric
    overflow`), bare or wrapped by SQLAlchemy, is a refused value; SQLAlchemy's and dlt's own
    ValueErrors are not."""
    from dlt.common.exceptions import TerminalValueError

    from dlt_sqlalchemy.load.failures import _refused_before_the_database

    overflow = ValueError("numeric overflow")
    wrapped = sa.exc.StatementError("(ValueError) numeric overflow", "INSERT", {}, overflow)
    assert _refused_before_the_database(overflow) is overflow
    assert _refused_before_the_database(wrapped) is overflow
    assert _refused_before_the_database(OverflowError("int too large")) is not None
    assert _refused_before_the_database(TypeError("bad operand")) is not None
    assert _refused_before_the_database(TerminalValueError("ours", "text")) is None
    assert _refused_before_the_database(sa.exc.ArgumentError("bad statement")) is None
    dbapi = sa.exc.DBAPIError("INSERT", {}, Exception("server said no"))
    assert _refused_before_the_database(dbapi) is None
