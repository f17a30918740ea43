"""Tables on a Galera cluster: a primary key where the cluster requires one (issue #15 item 1)."""

from __future__ import annotations

from typing import Any, Iterator

import dlt
import pytest
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.pipeline.exceptions import PipelineStepFailed

from conftest import GaleraCluster, make_rows
from dlt_sqlalchemy.dialects.mysql.capabilities import primary_key_requirement
from dlt_sqlalchemy.exceptions import PrimaryKeyRequired


def _set_global_on_each_node(galera: GaleraCluster, assignment: str) -> None:
    for node in galera.nodes:
        with node.engine.connect() as conn:
            conn.exec_driver_sql(f"SET GLOBAL {assignment}")


@pytest.fixture
def primary_keys_required(galera: GaleraCluster) -> Iterator[GaleraCluster]:
    """The cluster with `wsrep_mode=REQUIRED_PRIMARY_KEY` on every node, for this test only."""
    _set_global_on_each_node(galera, "wsrep_mode = 'REQUIRED_PRIMARY_KEY'")
    try:
        yield galera
    finally:
        _set_global_on_each_node(galera, "wsrep_mode = ''")


def _primary_key_of(galera: GaleraCluster, dataset: str, table: str) -> Any:
    rows = galera.node(0).query(
        "SELECT column_name, extra FROM information_schema.columns WHERE table_schema ="
        f" '{dataset}' AND table_name = '{table}' AND column_key = 'PRI'"
    )
    return [tuple(r) for r in rows]


def test_dlt_tables_get_a_hidden_key_and_stay_readable(
    primary_keys_required: GaleraCluster,
) -> None:
    galera = primary_keys_required
    first = galera.node(0)
    pipeline = first.pipeline(
        pipeline_name="pk_required", destination=first.destination(create_primary_keys=True)
    )
    pipeline.run(dlt.resource(make_rows(20), name="players", primary_key="id"))
    dataset = pipeline.dataset_name
    for table in ("_dlt_version", "_dlt_loads", "_dlt_pipeline_state"):
        assert _primary_key_of(galera, dataset, table) == [("_dlt_sqla_row", "auto_increment")]
    assert _primary_key_of(galera, dataset, "players") == [("id", "")]
    # dlt reads its state and schema back through another node, from a fresh working dir
    second = galera.node(1)
    second.tmp_path = first.tmp_path / "elsewhere"
    again = second.pipeline(
        dataset_name=dataset,
        pipeline_name="pk_required",
        destination=second.destination(create_primary_keys=True),
    )
    again.sync_destination()
    assert again.default_schema.tables["players"]["columns"]["id"].get("primary_key") is True
    again.run(dlt.resource(make_rows(50)[20:], name="players", primary_key="id"))
    assert second.query(f"SELECT COUNT(*) FROM {second.qualified(dataset, 'players')}") == [(50,)]
    loads = second.query(f"SELECT COUNT(*) FROM {second.qualified(dataset, '_dlt_loads')}")
    assert loads == [(2,)]


def test_a_user_table_without_key_fails_terminal_naming_table_and_fix(
    primary_keys_required: GaleraCluster,
) -> None:
    node = primary_keys_required.node(0)
    pipeline = node.pipeline()
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.run(make_rows(5), table_name="keyless")
    errors = []
    ex: Any = failed.value
    while ex is not None:
        errors.append(ex)
        ex = ex.__cause__ or ex.__context__
    refusal = next(e for e in errors if isinstance(e, PrimaryKeyRequired))
    assert isinstance(refusal, DestinationTerminalException)
    message = str(refusal)
    assert "`keyless`" in message
    assert "wsrep_mode=REQUIRED_PRIMARY_KEY" in message
    assert "primary_key" in message and "create_primary_keys=True" in message
    tables = node.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema ="
        f" '{pipeline.dataset_name}' AND table_name = 'keyless'"
    )
    assert tables == []


def test_which_settings_require_a_primary_key() -> None:
    galera = {"wsrep_on": "ON", "wsrep_mode": "STRICT_REPLICATION,REQUIRED_PRIMARY_KEY"}
    assert primary_key_requirement(galera) == "wsrep_mode=REQUIRED_PRIMARY_KEY"
    assert primary_key_requirement({**galera, "wsrep_on": "OFF"}) is None
    assert primary_key_requirement({"sql_require_primary_key": "ON"}) == (
        "sql_require_primary_key=ON"
    )
    assert primary_key_requirement({"wsrep_on": "ON", "wsrep_mode": ""}) is None


@pytest.fixture
def myisam_by_default(galera: GaleraCluster) -> Iterator[GaleraCluster]:
    """The cluster with MyISAM as every node's default engine, for this test only."""
    _set_global_on_each_node(galera, "default_storage_engine = 'MyISAM'")
    try:
        yield galera
    finally:
        _set_global_on_each_node(galera, "default_storage_engine = 'InnoDB'")


def test_tables_on_a_galera_node_are_innodb_whatever_the_default(
    myisam_by_default: GaleraCluster,
) -> None:
    """Galera replicates InnoDB only: with MyISAM tables the rows would stay on one node."""
    galera = myisam_by_default
    node = galera.node(0)
    pipeline = node.pipeline()
    pipeline.run(
        dlt.resource(make_rows(40), name="players", primary_key="id", write_disposition="merge")
    )
    dataset = pipeline.dataset_name
    engines = node.query(
        "SELECT table_schema, table_name, engine FROM information_schema.tables"
        f" WHERE table_schema IN ('{dataset}', '{dataset}_staging')"
    )
    assert {t for _, t, _ in engines} >= {"players", "_dlt_loads", "_dlt_version"}
    assert {e for _, _, e in engines} == {"InnoDB"}, engines
    counts = galera.query_each(f"SELECT COUNT(*) FROM {node.qualified(dataset, 'players')}")
    assert counts == [[(40,)]] * len(galera.nodes)
