"""The Databricks source end to end: the fake DBSQL warehouse (tests/fakes/databricks_warehouse.py)
behind the unmodified databricks-sql-connector, a running `veil serve`, psycopg as the client.

The fake runs Databricks SQL on DuckDB after sqlglot's transpile, so these tests show that Veil
speaks the connector's protocol and sends sensible Databricks SQL; they cannot show that a real
warehouse evaluates that SQL identically (see the fake's docstring for what it does not do).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.catalog.support import LiveServer, duckdb_file, eventually, veil
from tests.conftest import PASSWORDS, start_server, stop_server
from tests.fakes.databricks_warehouse import FakeWarehouse, running_warehouse
from tests.stress.tcpproxy import TcpProxy, black_hole
from veil.catalog.model import Column, Table
from veil.catalog.sources.base import read_all
from veil.catalog.sources.databricks.source import DatabricksSource, to_named
from veil.config.models import ConnectionConfig
from veil.discovery.sampling import sample_table
from veil.errors import VeilError
from veil.proxy.auth import make_scram_verifier

HASH_KEY = "dbx-test-key"

SETUP = (
    "CREATE SCHEMA sales",
    """CREATE TABLE sales.all_types (id INT, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE,
        dec DECIMAL(10,2), big DECIMAL(38,10), s STRING, b BOOLEAN, dt DATE, ts TIMESTAMP, tn TIMESTAMP_NTZ,
        bin BINARY, arr ARRAY<STRING>)""",
    """INSERT INTO sales.all_types VALUES (1, -128, -32768, -2147483648, -9223372036854775807, 1.5, 0.1,
        12345678.91, 1234567890123456789012345678.0123456789, 'Zoë ünïcode ☃ 日本', true, DATE '2024-02-29',
        TIMESTAMP '2024-02-29 13:14:15.123456', TIMESTAMP_NTZ '2024-02-29 13:14:15.5', X'00FF10',
        array('a', NULL, 'b c'))""",
    "INSERT INTO sales.all_types (id) VALUES (2)",
    "CREATE TABLE sales.customers (id INT, name STRING, email STRING, region STRING)",
    """INSERT INTO sales.customers VALUES (1, 'Ada', 'ada@example.com', 'EU'), (2, 'Grace', 'grace@example.org', 'US'),
        (3, 'Linus', 'linus@example.fi', 'EU'), (4, 'Nobody', NULL, 'EU')""",
    "CREATE TABLE sales.changing (id INT, old_col STRING)",
    "CREATE TABLE sales.reborn (id INT)",
    # Unity Catalog: ALTER TABLE sales.customers ALTER COLUMN email SET TAGS ('pii' = 'email')
    "INSERT INTO __meta.main.column_tags VALUES ('workspace', 'sales', 'customers', 'email', 'pii', 'email')",
    "CREATE TABLE sales.visits (id INT, page STRING, at TIMESTAMP)",
    """INSERT INTO sales.visits VALUES (1, 'home', current_timestamp() - INTERVAL 1 DAY),
        (2, 'old', TIMESTAMP '2001-01-01 00:00:00'), (3, 'cart', current_timestamp() - INTERVAL 2 DAYS)""",
    # ALTER TABLE sales.visits SET TAGS ('domain' = 'web', 'certified'); another catalog's
    # table tag on a table of the same name does not reach this catalog's tables.
    """INSERT INTO __meta.main.table_tags VALUES ('workspace', 'sales', 'visits', 'domain', 'web'),
        ('workspace', 'sales', 'visits', 'certified', ''), ('finance', 'sales', 'customers', 'domain', 'web')""",
)
FINANCE_SETUP = (
    "CREATE SCHEMA fx",
    "CREATE TABLE fx.budgets (region STRING, budget DECIMAL(12,2))",
    "INSERT INTO fx.budgets VALUES ('EU', 100.50), ('US', 200.00)",
)


@dataclass
class Live(LiveServer):
    warehouse: FakeWarehouse


@pytest.fixture(scope="module")
def warehouse() -> Iterator[FakeWarehouse]:
    with running_warehouse(catalogs=("workspace", "finance")) as fake:
        for statement in SETUP:
            fake.run(statement)
        for statement in FINANCE_SETUP:
            fake.run(statement, catalog="finance")
        yield fake


@pytest.fixture(scope="module")
def live(warehouse: FakeWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("databricks")
    lake = duckdb_file(directory / "other.duckdb", "CREATE SCHEMA lake", "CREATE TABLE lake.events AS SELECT 42 AS n")
    config = {
        "server": {"host": "127.0.0.1", "port": 0},
        "audit": {"path": str(directory / "audit.jsonl")},
        "secrets": {"hash_key": HASH_KEY},
        "connections": {
            "dbx": warehouse.connection_config("workspace"),
            "fin": warehouse.connection_config("finance"),
            "baddbx": warehouse.connection_config("workspace", access_token="dapi-wrong",
                                                  naming={"schema": "bad_<schema>"}),
            "lake": {"type": "duckdb", "path": str(lake)},
        },
        "users": {
            "alice": {"password": make_scram_verifier(PASSWORDS["alice"]), "groups": ["Analytics"],
                      "attributes": {"region": ["EU"]}},
            "root": {"password": make_scram_verifier(PASSWORDS["root"]), "admin": True},
            "bob": {"password": make_scram_verifier(PASSWORDS["bob"])},
        },
        "tables": {"dbx.sales.visits": {"event_time": "at", "table_tags": ["Web"]}},
        "policies": [
            {"name": "Everyone reads", "subscription": {"tables": ["*"], "allow": {"users": ["alice", "root"]}}},
            # bob reads only the tables Unity Catalog tags domain = 'web', and only their last week.
            {"name": "Bob reads web", "subscription": {"table_tags": ["domain.web"], "allow": {"users": ["bob"]}}},
            {"name": "Bob's last week", "time_window": {"table_tags": ["domain"], "last": "7d", "for": {"users": ["bob"]}}},
            {"name": "Hash emails", "mask": {"column_tags": ["pii.email"], "with": "hash"}},
            {"name": "Own regions", "row_filter": {
                "tables": ["dbx.sales.customers"], "where": "@attributeValuesContains('region', region)",
                "except": {"users": ["root"]}}},
        ],
    }
    process, server = start_server(directory, config)
    try:
        yield Live(server, directory, warehouse)
    finally:
        stop_server(process)


def test_synced_tables_are_served(live: Live) -> None:
    listed = live.rows("SELECT connection, \"schema\", \"table\" FROM veil.tables WHERE connection IN ('dbx', 'fin') "
                       "ORDER BY 1, 2, 3", "root")
    assert listed == [("dbx", "sales", "all_types"), ("dbx", "sales", "changing"), ("dbx", "sales", "customers"),
                      ("dbx", "sales", "reborn"), ("dbx", "sales", "visits"), ("fin", "fx", "budgets")]
    types = dict(live.rows("SELECT \"column\", type FROM veil.columns WHERE connection = 'dbx' AND \"table\" = 'all_types'",
                           "root"))
    assert types == {
        "id": "integer", "ti": "smallint", "si": "smallint", "i": "integer", "bi": "bigint", "f": "real",
        "d": "double precision", "dec": "numeric(10,2)", "big": "numeric(38,10)", "s": "text", "b": "boolean",
        "dt": "date", "ts": "timestamp with time zone", "tn": "timestamp without time zone", "bin": "bytea",
        "arr": "text[]",
    }


EXPECTED = (
    1, -128, -32768, -2147483648, -9223372036854775807, 1.5, 0.1, Decimal("12345678.91"),
    Decimal("1234567890123456789012345678.0123456789"), "Zoë ünïcode ☃ 日本", True, dt.date(2024, 2, 29),
    dt.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=dt.UTC), dt.datetime(2024, 2, 29, 13, 14, 15, 500000),
    b"\x00\xff\x10", ["a", None, "b c"],
)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_every_common_type_arrives_intact(live: Live, binary: bool) -> None:
    found = live.rows("SELECT * FROM sales.all_types ORDER BY id", binary=binary)
    assert len(found) == 2
    first = list(found[0])
    first[12] = first[12].astimezone(dt.UTC)
    assert tuple(first) == EXPECTED
    assert found[1] == (2,) + (None,) * 15


def test_parameters_and_empty_results(live: Live) -> None:
    assert live.rows("SELECT id, s FROM sales.all_types WHERE id = %s AND s <> %s", params=(1, "$1")) == \
        [(1, "Zoë ünïcode ☃ 日本")]
    assert live.rows("SELECT id FROM sales.all_types WHERE bin = %s", params=(b"\x00\xff\x10",)) == [(1,)]
    assert live.rows("SELECT dec, ts FROM sales.all_types WHERE id < 0") == []
    sent = [s for s in live.warehouse.statements if "WHERE" in s and ":p1" in s]
    assert sent, "parameters travel as the connector's native named parameters"


def _hash(value: str) -> str:
    return hashlib.sha256(f"{HASH_KEY}:{value}".encode()).hexdigest()


def test_policy_hash_mask_from_a_unity_catalog_tag_and_row_filter(live: Live) -> None:
    found = live.rows("SELECT id, email, region FROM sales.customers ORDER BY id")
    assert found == [(1, _hash("ada@example.com"), "EU"), (3, _hash("linus@example.fi"), "EU"), (4, None, "EU")]
    everything = repr(live.rows("SELECT * FROM sales.customers"))
    assert "@example" not in everything and "Grace" not in everything and "US" not in everything
    # Predicates see the masked value, never the raw one.
    assert live.rows("SELECT id FROM sales.customers WHERE email = 'ada@example.com'") == []
    assert live.rows("SELECT id FROM sales.customers WHERE email LIKE '%example%'") == []
    # root is exempt from the row filter, not from the mask.
    assert sorted(r[0] for r in live.rows("SELECT region FROM sales.customers", "root")) == ["EU", "EU", "EU", "US"]
    assert "@example" not in repr(live.rows("SELECT email FROM sales.customers", "root"))
    tags = dict(live.rows("SELECT \"column\", tags FROM veil.columns WHERE connection = 'dbx' "
                          "AND \"table\" = 'customers'", "root"))
    assert tags["email"] == ["pii.email"] and tags["name"] == []


def test_unity_catalog_table_tags_drive_subscription_and_time_window(live: Live) -> None:
    listed = live.rows(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
        "bob",
    )
    assert listed == [("sales", "visits")]
    with pytest.raises(psycopg.errors.UndefinedTable):
        live.rows("SELECT id FROM sales.customers", "bob")
    # The time window keeps the last 7 days: visit 2 (2001) is not seen, not even counted.
    assert live.rows("SELECT id, page FROM sales.visits ORDER BY id", "bob") == [(1, "home"), (3, "cart")]
    assert live.rows("SELECT count(*) FROM sales.visits WHERE page = 'old'", "bob") == [(0,)]
    assert live.rows("SELECT count(*) FROM sales.visits") == [(3,)]  # the window is only for bob
    tags = dict(live.rows("SELECT \"table\", tags FROM veil.tables WHERE connection = 'dbx'", "root"))
    assert tags["visits"] == ["Web", "certified", "domain.web"]
    assert tags["customers"] == [] and tags["all_types"] == []


def test_join_across_catalogs_of_one_warehouse_is_one_statement(live: Live) -> None:
    before = len(live.warehouse.statements)
    found = live.rows("SELECT c.name, b.budget FROM sales.customers c JOIN fx.budgets b ON b.region = c.region "
                      "ORDER BY c.name")
    assert found == [("Ada", Decimal("100.50")), ("Linus", Decimal("100.50")), ("Nobody", Decimal("100.50"))]
    received = live.warehouse.statements[before:]
    # psycopg's extended protocol makes Veil describe the statement first (LIMIT 0, no rows).
    joined = [s for s in received if ("budgets" in s or "customers" in s) and "veil_describe" not in s]
    assert len(joined) == 1, received
    assert "`workspace`.`sales`.`customers`" in joined[0] and "`finance`.`fx`.`budgets`" in joined[0]
    record = [r for r in live.audit() if "JOIN fx.budgets" in r["statement"]][-1]
    assert sorted(record["connections"]) == ["dbx", "fin"] and len(record["pushed_sql"]) == 1


def test_wrong_token_fails_check_and_others_keep_serving(live: Live) -> None:
    checked = veil("check", "-c", str(live.server.config_path), cwd=live.directory)
    output = " ".join(checked.stdout.split())
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "baddbx" in output and "access token" in output and "connections.baddbx.access_token" in output
    assert "dapi-wrong" not in checked.stdout + checked.stderr
    assert live.rows("SELECT n FROM lake.events") == [(42,)]
    assert live.rows("SELECT count(*) FROM sales.all_types") == [(2,)]
    with pytest.raises(psycopg.errors.UndefinedTable):
        live.rows("SELECT * FROM bad_sales.customers")


def test_source_errors_reach_the_client_without_quoted_values(live: Live) -> None:
    with pytest.raises(psycopg.errors.UndefinedColumn):
        live.rows("SELECT nope FROM sales.customers")
    assert live.rows("SELECT 1 FROM sales.customers WHERE id = 1") == [(1,)]


def test_sync_detects_column_changes_and_recreated_tables(live: Live) -> None:
    warehouse = live.warehouse
    warehouse.run("ALTER TABLE sales.changing ADD COLUMN new_col STRING")
    warehouse.run("ALTER TABLE sales.changing DROP COLUMN old_col")
    warehouse.run("INSERT INTO sales.changing VALUES (1, 'secret')")
    warehouse.run("DROP TABLE sales.reborn")
    warehouse.run("CREATE TABLE sales.reborn (id INT)")
    warehouse.run("CREATE TABLE sales.fresh (x INT)")
    changes = {(kind, obj) for kind, obj, _ in live.rows("SELECT * FROM veil.sync('dbx')", "root")}
    assert changes == {
        ("column_added", "dbx.sales.changing.new_col"),
        ("column_dropped", "dbx.sales.changing.old_col"),
        ("table_recreated", "dbx.sales.reborn"),
        ("table_added", "dbx.sales.fresh"),
    }
    assert live.rows("SELECT * FROM sales.changing") == [(1, None)]  # New: NULL until approved
    eventually(lambda: live.rows("SELECT count(*) FROM sales.fresh") == [(0,)])
    assert live.rows("SELECT * FROM veil.sync('dbx')", "root") == []


# -- the source on its own -------------------------------------------------------------------------
def _source(warehouse: FakeWarehouse, **overrides: object) -> DatabricksSource:
    return DatabricksSource("dbx", ConnectionConfig.model_validate(warehouse.connection_config(**overrides)))


def test_placeholders_outside_literals_become_named_parameters() -> None:
    sql, params = to_named("SELECT '$1', `a$1`, ${1} -- $2\n FROM t WHERE b = $2", [5, b"\x01"])
    assert sql == "SELECT '$1', `a$1`, :p1 -- $2\n FROM t WHERE b = unhex(:p2)"
    assert params == {"p1": 5, "p2": "01"}


def test_interrupt_cancels_a_running_statement(warehouse: FakeWarehouse) -> None:
    with closing(_source(warehouse)) as source:
        cursor = source.cursor()
        threading.Timer(0.5, cursor.interrupt).start()
        try:
            with pytest.raises(VeilError) as raised:
                cursor.execute("SELECT count(*) FROM range(1000000000000) a").read_next_batch()
            assert raised.value.sqlstate == "57014"
        finally:
            cursor.close()
        assert read_all(source, "SELECT 1 AS one").to_pylist() == [{"one": 1}]


def test_a_session_the_warehouse_dropped_is_replaced_once(warehouse: FakeWarehouse) -> None:
    source = _source(warehouse)
    try:
        assert read_all(source, "SELECT 1 AS one").to_pylist() == [{"one": 1}]
        warehouse.expire_sessions()  # what an expired session or a restarted warehouse looks like
        assert read_all(source, "SELECT 2 AS two").to_pylist() == [{"two": 2}]
        with pytest.raises(VeilError) as raised:  # other errors on a pooled session are not retried
            read_all(source, "SELECT * FROM no_such_table")
        assert raised.value.sqlstate == "42P01"
    finally:
        source.close()


def test_results_stream_in_chunks_and_describe_reads_no_rows(warehouse: FakeWarehouse) -> None:
    with closing(_source(warehouse)) as source:
        cursor = source.cursor()
        try:
            reader = cursor.execute("SELECT * FROM range(200000) t(n)")
            sizes = []
            while True:
                try:
                    sizes.append(reader.read_next_batch().num_rows)
                except StopIteration:
                    break
        finally:
            cursor.close()
        assert sum(sizes) == 200000 and max(sizes) <= 65536 and len(sizes) >= 4
        schema = source.describe("SELECT dec, ts, arr FROM `sales`.`all_types` WHERE id = ${1}", 1)
        assert [str(f.type) for f in schema] == ["decimal128(10, 2)", "timestamp[us, tz=UTC]", "list<item: string>"]


@pytest.mark.parametrize(("overrides", "sqlstate", "words"), [
    ({"access_token": "nope"}, "28P01", "access_token"),
    ({"catalog": "missing"}, "3D000", "connections.dbx.catalog"),
    ({"http_path": "/wrong/path"}, "08001", "http_path"),
])
def test_check_gives_actionable_messages(warehouse: FakeWarehouse, overrides: dict[str, object], sqlstate: str,
                                         words: str) -> None:
    with closing(_source(warehouse, **overrides)) as source, pytest.raises(VeilError) as raised:
        source.check()
    assert raised.value.sqlstate == sqlstate
    assert words in f"{raised.value.message} {raised.value.hint}"
    assert "nope" not in raised.value.message


def test_unreachable_emulator_is_explained(warehouse: FakeWarehouse) -> None:
    from tests.conftest import free_port

    with closing(_source(warehouse, port=free_port())) as source, pytest.raises(VeilError) as raised:
        source.check()
    assert raised.value.sqlstate == "08001"
    assert "protocol: http is only for a local warehouse emulator" in (raised.value.hint or "")


def test_discovery_samples_with_tablesample(warehouse: FakeWarehouse) -> None:
    with closing(_source(warehouse)) as source:
        table = Table("dbx", "sales", "customers", "sales", "customers",
                      (Column("id", source.list_tables()[0].columns[0].arrow_type), Column("email", _string())),
                      source_database="workspace")
        sample = sample_table(source, table, rows=10)
    assert sample is not None and "TABLESAMPLE (10 ROWS)" in sample.plan.sql
    assert sorted(v for v in sample.data.column("email").to_pylist() if v) == [
        "ada@example.com", "grace@example.org", "linus@example.fi"]


def _string() -> Any:
    import pyarrow as pa

    return pa.string()


def test_a_warehouse_that_never_answers_fails_within_connect_timeout() -> None:
    with black_hole() as port, closing(DatabricksSource("dbx", ConnectionConfig.model_validate({
        "type": "databricks", "server_hostname": "127.0.0.1", "port": port, "protocol": "http",
        "http_path": "/sql/1.0/warehouses/fake", "access_token": "dapi-x", "connect_timeout": "1.5s",
    }))) as source:
        started = time.monotonic()
        with pytest.raises(VeilError) as raised:
            source.check()
        assert time.monotonic() - started < 1.5 + 4  # slack for a loaded machine
    assert raised.value.sqlstate == "08006"
    assert "1.5 s" in raised.value.message and "connect_timeout" in raised.value.message


def test_a_warehouse_that_stops_answering_mid_statement_fails_within_statement_timeout(warehouse: FakeWarehouse) -> None:
    proxy = TcpProxy(("127.0.0.1", warehouse.port)).start()
    try:
        with closing(_source(warehouse, port=proxy.port, statement_timeout="2s", connect_timeout="5s")) as source:
            assert read_all(source, "SELECT 1 AS one").to_pylist() == [{"one": 1}]
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(VeilError) as raised:
                read_all(source, "SELECT 2 AS two")
            # the connector's retries of the request (2 s in all), then once on a new session
            # (opening it: 5 s at most; its request: 2 s), and slack for a loaded machine
            assert time.monotonic() - started < 2 + 2 + 5 + 2 + 4
            assert raised.value.sqlstate.startswith("08") or raised.value.sqlstate == "57014"
    finally:
        proxy.close()
