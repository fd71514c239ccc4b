"""The Snowflake source end to end: fakesnow (server mode) behind the real connector, a running
`veil serve`, psycopg as the client.

fakesnow limits that shape these tests (each is noted where it matters):
* ``INFORMATION_SCHEMA.TABLES.CREATED`` is always 1970-01-01, so a recreated table cannot be told
  apart by its object id; the recreate test uses a changed shape instead.
* ``SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES`` does not exist: the fixture creates a table with the
  columns a real account's view has and fills it as ``ALTER TABLE ... SET TAG`` would.
* No query abort endpoint (``/queries/<id>/abort-request`` answers 404).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.catalog.sources.conftest import Fakesnow
from tests.catalog.support import LiveServer, duckdb_file, eventually, veil
from tests.conftest import PASSWORDS, free_port, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

DATABASE = "VEIL_SF"
OTHER_DATABASE = "VEIL_SF_REF"
HASH_KEY = "sf-test-key"

SETUP = (
    "CREATE SCHEMA IF NOT EXISTS SALES",
    """CREATE OR REPLACE TABLE SALES.ALL_TYPES (
        ID NUMBER(4,0), N NUMBER(12,2), BIG NUMBER(38,0), F FLOAT, S VARCHAR(40), B BOOLEAN, D DATE,
        TM TIME, TS TIMESTAMP_NTZ, TZ TIMESTAMP_TZ, BIN BINARY, V VARIANT)""",
    """INSERT INTO SALES.ALL_TYPES SELECT 1, 12345.67, 9223372036854775807::NUMBER(38,0), 0.1,
        'Zoë ünïcode ☃ 日本', TRUE, '2024-02-29'::DATE, '13:14:15.5'::TIME,
        '2024-02-29 13:14:15.123456'::TIMESTAMP_NTZ, '2024-02-29 13:14:15.5 +02:00'::TIMESTAMP_TZ,
        TO_BINARY('00FF', 'HEX'), PARSE_JSON('{"k": [1, 2], "s": "x"}')""",
    "INSERT INTO SALES.ALL_TYPES (ID) VALUES (2)",
    """CREATE OR REPLACE TABLE SALES.CUSTOMERS (
        ID NUMBER(9,0), NAME VARCHAR, EMAIL VARCHAR, PHONE VARCHAR, COUNTRY VARCHAR)""",
    """INSERT INTO SALES.CUSTOMERS VALUES
        (1, 'Ada', 'ada@example.com', '+1 555 0101', 'US'),
        (2, 'Grace', 'grace@example.org', '+1 555 0102', 'US'),
        (3, 'Linus', 'linus@example.fi', '+358 40 0103', 'FI'),
        (4, 'Nobody', NULL, NULL, 'US')""",
    "CREATE OR REPLACE TABLE SALES.ORDERS (ID NUMBER(9,0), CUSTOMER_ID NUMBER(9,0), AMOUNT NUMBER(10,2))",
    "INSERT INTO SALES.ORDERS VALUES (10, 1, 12.50), (11, 1, 7.25), (12, 3, 99.00), (13, 2, 1.00)",
    "CREATE OR REPLACE TABLE SALES.CHANGING (ID NUMBER(9,0), OLD_COL VARCHAR)",
    "CREATE OR REPLACE TABLE SALES.REBORN (ID NUMBER(9,0))",
    # A column created quoted keeps its spelling ("NAME" next to "name" cannot be shown here:
    # fakesnow's DuckDB refuses two names that differ only in case; see tests/catalog/test_column_names.py).
    "CREATE SCHEMA IF NOT EXISTS MISC",
    'CREATE OR REPLACE TABLE MISC.ODD (ID NUMBER(9,0), "MixedCase" VARCHAR, SECRET VARCHAR)',
    "INSERT INTO MISC.ODD VALUES (1, 'm1', 's1'), (2, 'm2', 's2'), (3, 'm3', 's3')",
    # fakesnow has no SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES: create it with a real account's
    # columns, holding what `ALTER TABLE SALES.CUSTOMERS MODIFY COLUMN PHONE SET TAG PII = 'Phone'`,
    # `ALTER TABLE SALES.ORDERS SET TAG DOMAIN = 'Sales', CERTIFIED = ''` and a dropped table's
    # stale reference would leave there.
    "CREATE DATABASE IF NOT EXISTS SNOWFLAKE",
    "CREATE SCHEMA IF NOT EXISTS SNOWFLAKE.ACCOUNT_USAGE",
    """CREATE OR REPLACE TABLE SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES (
        TAG_DATABASE VARCHAR, TAG_SCHEMA VARCHAR, TAG_ID NUMBER, TAG_NAME VARCHAR, TAG_VALUE VARCHAR,
        OBJECT_DATABASE VARCHAR, OBJECT_SCHEMA VARCHAR, OBJECT_ID NUMBER, OBJECT_NAME VARCHAR,
        OBJECT_DELETED TIMESTAMP_LTZ, DOMAIN VARCHAR, COLUMN_ID NUMBER, COLUMN_NAME VARCHAR)""",
    f"""INSERT INTO SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES VALUES
        ('GOV', 'TAGS', 1, 'PII', 'Phone', '{DATABASE}', 'SALES', 2, 'CUSTOMERS', NULL, 'COLUMN', 4, 'PHONE'),
        ('GOV', 'TAGS', 1, 'PII', 'Email', '{DATABASE}', 'SALES', 9, 'GONE', '2024-01-01'::TIMESTAMP_LTZ,
         'COLUMN', 1, 'EMAIL'),
        ('GOV', 'TAGS', 1, 'PII', 'Phone', 'OTHER_DB', 'SALES', 7, 'CUSTOMERS', NULL, 'COLUMN', 4, 'NAME'),
        ('GOV', 'TAGS', 2, 'DOMAIN', 'Sales', '{DATABASE}', 'SALES', 3, 'ORDERS', NULL, 'TABLE', NULL, NULL),
        ('GOV', 'TAGS', 3, 'CERTIFIED', '', '{DATABASE}', 'SALES', 3, 'ORDERS', NULL, 'TABLE', NULL, NULL),
        ('GOV', 'TAGS', 2, 'DOMAIN', 'Sales', '{DATABASE}', 'SALES', 9, 'GONE', '2024-01-01'::TIMESTAMP_LTZ,
         'TABLE', NULL, NULL),
        ('GOV', 'TAGS', 2, 'DOMAIN', 'Sales', 'OTHER_DB', 'SALES', 7, 'CUSTOMERS', NULL, 'TABLE', NULL, NULL)""",
)


@dataclass
class Live(LiveServer):
    fakesnow: Fakesnow


def _users() -> dict[str, Any]:
    return {
        "alice": {"password": make_scram_verifier(PASSWORDS["alice"]), "groups": ["Analytics"],
                  "attributes": {"country": ["US"]}},
        "root": {"password": make_scram_verifier(PASSWORDS["root"]), "admin": True},
        "bob": {"password": make_scram_verifier(PASSWORDS["bob"])},
    }


@pytest.fixture(scope="module")
def live(fakesnow: Fakesnow, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    fakesnow.run(DATABASE, *SETUP)
    fakesnow.run(
        OTHER_DATABASE,
        "CREATE SCHEMA IF NOT EXISTS REF",
        "CREATE OR REPLACE TABLE REF.COUNTRIES (CODE VARCHAR, NAME VARCHAR)",
        "INSERT INTO REF.COUNTRIES VALUES ('US', 'United States'), ('FI', 'Finland')",
    )
    directory = tmp_path_factory.mktemp("snowflake")
    lake = duckdb_file(directory / "other.duckdb", "CREATE SCHEMA lake", "CREATE TABLE lake.events AS SELECT 42 AS n")
    config = {
        "server": {"host": "127.0.0.1", "port": 0},
        "audit": {"path": str(directory / "audit.jsonl")},
        "secrets": {"hash_key": HASH_KEY},
        "connections": {
            "snow": fakesnow.connection(DATABASE),
            "snow2": fakesnow.connection(OTHER_DATABASE),  # same account and user, another database
            # Nothing listens there: this connection fails, the others are served.
            "badsnow": fakesnow.connection(DATABASE, port=free_port(), naming={"schema": "bad_<schema>"}),
            "lake": {"type": "duckdb", "path": str(lake)},
        },
        "tables": {"snow.SALES.CUSTOMERS": {"tags": {"EMAIL": ["PII.Email"]}},
                   "snow.SALES.ORDERS": {"table_tags": ["Finance"]}},
        "users": _users(),
        "policies": [
            {"name": "Everyone reads", "subscription": {"tables": ["*"], "allow": {"users": ["alice", "root"]}}},
            # bob reads only the tables tagged DOMAIN = 'Sales' in Snowflake, their big rows only.
            {"name": "Bob reads sales", "subscription": {"table_tags": ["DOMAIN.Sales"], "allow": {"users": ["bob"]}}},
            {"name": "Bob's big rows", "row_filter": {
                "table_tags": ["DOMAIN.Sales"], "where": "amount > 5", "for": {"users": ["bob"]}}},
            {"name": "Hash emails", "mask": {"column_tags": ["PII.Email"], "with": "hash"}},
            {"name": "Hide phones", "mask": {"column_tags": ["PII.Phone"], "with": "show_last", "n": 4}},
            {"name": "Own countries", "row_filter": {
                "tables": ["snow.SALES.CUSTOMERS"], "where": "@attributeValuesContains('country', \"COUNTRY\")",
                "except": {"users": ["root"]}}},
            {"name": "Odd rows", "row_filter": {
                "tables": ["snow.MISC.ODD"], "where": "id > 1 AND \"MixedCase\" <> 'm3'"}},
            {"name": "No secrets", "mask": {"columns": ["secret"], "with": "null"}},
        ],
    }
    process, server = start_server(directory, config)
    try:
        yield Live(server, directory, fakesnow)
    finally:
        stop_server(process)


def test_tables_are_listed_like_dt(live: Live) -> None:
    listed = live.rows(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname IN ('sales', 'lake') ORDER BY 1, 2"
    )
    assert listed == [("lake", "events"), ("sales", "all_types"), ("sales", "changing"),
                      ("sales", "customers"), ("sales", "orders"), ("sales", "reborn")]
    columns = live.rows(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_schema = 'sales' AND table_name = 'all_types' ORDER BY ordinal_position"
    )
    assert columns == [
        ("id", "bigint", 64, 0), ("n", "numeric", 12, 2), ("big", "numeric", 38, 0),
        ("f", "double precision", 53, None), ("s", "text", None, None), ("b", "boolean", None, None),
        ("d", "date", None, None), ("tm", "time without time zone", None, None),
        ("ts", "timestamp without time zone", None, None), ("tz", "timestamp with time zone", None, None),
        ("bin", "bytea", None, None), ("v", "json", None, None),
    ]


EXPECTED_VALUES = (
    1, Decimal("12345.67"), Decimal(9223372036854775807), 0.1, "Zoë ünïcode ☃ 日本", True,
    dt.date(2024, 2, 29), dt.time(13, 14, 15, 500000), dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
    dt.datetime(2024, 2, 29, 11, 14, 15, 500000, tzinfo=dt.UTC), b"\x00\xff", {"k": [1, 2], "s": "x"},
)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_every_common_type_arrives_intact(live: Live, binary: bool) -> None:
    found = live.rows('SELECT * FROM sales.all_types ORDER BY id', binary=binary)
    assert found[0] == EXPECTED_VALUES
    # NULL in every column, timestamps included (fakesnow's 1970-01-01 bug is patched in the server).
    assert found[1] == (2, *([None] * (len(EXPECTED_VALUES) - 1)))


def test_parameters_and_empty_results(live: Live) -> None:
    with psycopg.connect(live.server.dsn(), autocommit=True) as connection:
        found = connection.execute(
            "SELECT name, %s::text AS echo FROM sales.customers WHERE id = %s", ["it's 100% 'quoted'", 1]
        ).fetchall()
        assert found == [("Ada", "it's 100% 'quoted'")]
        cursor = connection.execute("SELECT id, n, ts FROM sales.all_types WHERE id > %s", [99])
        assert cursor.fetchall() == []
        # fakesnow (DuckDB) names a column reference after the underlying column ("ID"); Snowflake
        # names it as the pushed SQL quotes it: "id".
        assert [(c.name.lower(), c.type_code) for c in cursor.description] == [("id", 20), ("n", 1700), ("ts", 1114)]
    pushed = [r for r in live.audit() if r["statement"].startswith("SELECT id, n, ts")][-1]["pushed_sql"][0]
    assert pushed.startswith('SELECT "id", "n", "ts" FROM (SELECT "ID" AS "id", "N" AS "n"')


def _hash(value: str) -> str:
    return hashlib.sha256(f"{HASH_KEY}:{value}".encode()).hexdigest()


def test_policies_are_enforced_at_the_source(live: Live) -> None:
    found = live.rows("SELECT id, name, email, country FROM sales.customers ORDER BY id")
    # Row filter: alice (country US) never sees Linus (FI); hash mask: keyed SHA-256 as in Python.
    assert found == [
        (1, "Ada", _hash("ada@example.com"), "US"),
        (2, "Grace", _hash("grace@example.org"), "US"),
        (4, "Nobody", None, "US"),
    ]
    everything = repr(live.rows('SELECT * FROM sales.customers'))
    for raw in ("ada@example.com", "grace@example.org", "Linus", "linus@example.fi", "FI"):
        assert raw not in everything
    # Filtering on the masked column sees masked values only.
    assert live.rows("SELECT count(*) FROM sales.customers WHERE email LIKE '%@%'") == [(0,)]
    pushed = [r for r in live.audit() if r["statement"].startswith("SELECT id, name, email")][-1]
    assert pushed["connections"] == ["snow"] and len(pushed["pushed_sql"]) == 1
    # Snowflake is read by its own spelling and serves the lower-case names.
    sql = pushed["pushed_sql"][0]
    assert "SHA2" in sql.upper() and '"COUNTRY"' in sql and '"EMAIL"' in sql and 'AS "email"' in sql


def test_columns_are_served_lower_case_unless_created_quoted(live: Live) -> None:
    columns = live.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'misc' AND table_name = 'odd' "
        "ORDER BY ordinal_position"
    )
    assert columns == [("id",), ("MixedCase",), ("secret",)]
    # The row filter and the mask name the served columns; Snowflake is read by its own spelling.
    assert live.rows('SELECT id, "MixedCase", secret FROM misc.odd ORDER BY id') == [(2, "m2", None)]
    everything = repr(live.rows("SELECT * FROM misc.odd")) + repr(live.rows("SELECT secret FROM misc.odd"))
    for hidden in ("s1", "s2", "s3", "m1", "m3"):
        assert hidden not in everything
    pushed = [r for r in live.audit() if r["statement"] == "SELECT * FROM misc.odd"][-1]["pushed_sql"][0]
    assert '"veil_raw"."SECRET"' in pushed and '"veil_raw"."ID" > 1' in pushed and '"MixedCase"' in pushed


def test_explain_shows_the_source_spelling(live: Live) -> None:
    explained = veil("explain", "-c", str(live.server.config_path), "--user", "alice",
                     "SELECT name, email FROM sales.customers", cwd=live.directory)
    assert explained.returncode == 0, explained.stderr
    text = " ".join(explained.stdout.split())
    assert '"EMAIL"' in text and '"NAME"' in text and '"veil_raw"."COUNTRY"' in text
    assert 'SELECT "name", "email" FROM' in text


def test_source_tags_are_picked_up(live: Live) -> None:
    phones = live.rows("SELECT id, phone FROM sales.customers ORDER BY id")
    assert phones == [(1, "*******0101"), (2, "*******0102"), (4, None)]
    assert "+1 555" not in repr(live.rows('SELECT * FROM sales.customers'))
    tags = dict(live.rows(
        "SELECT \"column\", tags FROM veil.columns WHERE connection = 'snow' AND \"table\" = 'customers'", "root"
    ))
    assert tags["phone"] == ["PII.Phone"] and tags["email"] == ["PII.Email"]
    # A deleted table's reference and another database's tag do not leak onto these columns.
    assert tags["name"] == [] and tags["id"] == []


def test_source_table_tags_drive_subscription_and_row_filter(live: Live) -> None:
    listed = live.rows(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
        "bob",
    )
    assert listed == [("sales", "orders")]  # not customers: its DOMAIN tag is another database's
    with pytest.raises(psycopg.errors.UndefinedTable):
        live.rows("SELECT id FROM sales.customers", "bob")
    assert live.rows("SELECT id, amount FROM sales.orders ORDER BY id", "bob") == [
        (10, Decimal("12.50")), (11, Decimal("7.25")), (12, Decimal("99.00"))]
    assert live.rows("SELECT count(*) FROM sales.orders WHERE amount < 5", "bob") == [(0,)]  # order 13 is hidden
    assert live.rows("SELECT count(*) FROM sales.orders") == [(4,)]  # the filter is only for bob
    tags = dict(live.rows("SELECT \"table\", tags FROM veil.tables WHERE connection = 'snow'", "root"))
    # Config table tags first, then the source's; a key-only tag is its name.
    assert tags["orders"] == ["Finance", "CERTIFIED", "DOMAIN.Sales"]
    assert tags["customers"] == [] and tags["all_types"] == []


def test_join_of_two_snowflake_tables_is_one_pushed_statement(live: Live) -> None:
    found = live.rows(
        "SELECT c.name, sum(o.amount) FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id "
        "GROUP BY c.name ORDER BY 1"
    )
    assert found == [("Ada", Decimal("19.75")), ("Grace", Decimal("1.00"))]  # Linus filtered out
    record = [r for r in live.audit() if "JOIN sales.orders" in r["statement"]][-1]
    assert record["connections"] == ["snow"]
    assert len(record["pushed_sql"]) == 1
    assert '"CUSTOMERS"' in record["pushed_sql"][0] and '"ORDERS"' in record["pushed_sql"][0]


def test_join_across_databases_of_one_account_is_one_pushed_statement(live: Live) -> None:
    found = live.rows(
        "SELECT c.name, k.name FROM sales.customers c JOIN ref.countries k ON k.code = c.country ORDER BY 1"
    )
    assert found == [("Ada", "United States"), ("Grace", "United States"), ("Nobody", "United States")]
    record = [r for r in live.audit() if "JOIN ref.countries" in r["statement"]][-1]
    assert sorted(record["connections"]) == ["snow", "snow2"]
    assert len(record["pushed_sql"]) == 1
    assert f'"{DATABASE}"."SALES"."CUSTOMERS"' in record["pushed_sql"][0]
    assert f'"{OTHER_DATABASE}"."REF"."COUNTRIES"' in record["pushed_sql"][0]


def test_bad_connection_settings_fail_check_and_others_keep_serving(live: Live) -> None:
    checked = veil("check", "-c", str(live.server.config_path), cwd=live.directory)
    assert checked.returncode == 1
    assert "badsnow" in checked.stdout and "cannot connect to Snowflake" in checked.stdout
    assert "Check connections.badsnow.host" in checked.stdout.replace("\n", " ").replace("  ", " ") or \
        "connections.badsnow.port" in checked.stdout
    ok_line = next(line for line in checked.stdout.splitlines() if line.strip("│ ").startswith("snow "))
    assert "ok" in ok_line
    assert live.rows("SELECT n FROM lake.events") == [(42,)]
    assert live.rows('SELECT count(*) FROM sales.orders') == [(4,)]
    with pytest.raises(psycopg.errors.UndefinedTable):
        live.rows('SELECT * FROM bad_sales.orders')


def test_sync_detects_column_changes_and_recreated_tables(live: Live) -> None:
    live.fakesnow.run(
        DATABASE,
        "ALTER TABLE SALES.CHANGING ADD COLUMN NEW_COL VARCHAR",
        "ALTER TABLE SALES.CHANGING DROP COLUMN OLD_COL",
        "INSERT INTO SALES.CHANGING VALUES (1, 'secret')",
        # fakesnow reports CREATED as 1970-01-01 for every table, so the recreation shows through
        # its new shape (on a real account CREATED changes too: reported as table_recreated).
        "CREATE OR REPLACE TABLE SALES.REBORN (ID VARCHAR, EXTRA NUMBER(5,1))",
        "CREATE OR REPLACE TABLE SALES.FRESH (X NUMBER(3,0))",
    )
    changes = {(kind, obj) for kind, obj, _ in live.rows("SELECT * FROM veil.sync('snow')", "root")}
    assert changes == {
        ("column_added", "snow.SALES.CHANGING.NEW_COL"),
        ("column_dropped", "snow.SALES.CHANGING.OLD_COL"),
        ("column_type_changed", "snow.SALES.REBORN.ID"),
        ("column_added", "snow.SALES.REBORN.EXTRA"),
        ("table_added", "snow.SALES.FRESH"),
    }
    # The new column is NULL for everyone until approved; the dropped one is gone.
    assert live.rows('SELECT * FROM sales.changing') == [(1, None)]
    assert live.rows("SELECT new_col FROM sales.changing") == [(None,)]
    eventually(lambda: live.rows("SELECT count(*) FROM sales.fresh") == [(0,)])
    second = live.rows("SELECT * FROM veil.sync('snow')", "root")
    assert second == []

    # `veil approve` takes the served name and clears the New tag of the source's NEW_COL.
    approved = veil("approve", "-c", str(live.server.config_path), "sales.changing.new_col", cwd=live.directory)
    assert approved.returncode == 0, approved.stderr
    assert "snow.SALES.CHANGING.NEW_COL" in approved.stdout
    eventually(lambda: live.rows("SELECT new_col FROM sales.changing") == [("secret",)])
