"""Object sync end to end: DDL on a real PostgreSQL between syncs, a running `veil serve`, psycopg.

Each DDL is followed by one sync (the CLI, or `veil.sync(...)` over SQL) and the test checks that
exactly the expected changes are reported and served: a new column is NULL for everyone until
`veil approve`, a dropped table fails with 42P01, a changed type is what clients are told.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.catalog.support import (
    ddl,
    duckdb_file,
    eventually,
    private_database,
    rows,
    veil,
)
from tests.config.support import users_and_policies
from tests.conftest import VeilServer, postgres_connection, start_server, stop_server

DATABASE = "veil_catalog_sync"


@dataclass
class Live:
    server: VeilServer
    dsn: str
    config: Path

    def sync_sql(self, connection: str = "pg") -> set[tuple[str, str, str]]:
        return {tuple(r) for r in rows(self.server, f"SELECT * FROM veil.sync('{connection}')", "root")}  # type: ignore[misc]

    def kinds(self, connection: str = "pg") -> set[tuple[str, str]]:
        return {(kind, obj) for kind, obj, _ in self.sync_sql(connection)}


@pytest.fixture(scope="module")
def live(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("catalog_sync")
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(
            dsn,
            "CREATE SCHEMA sales",
            "CREATE TABLE sales.orders (id int, amount numeric(10,2), note text)",
            "INSERT INTO sales.orders VALUES (1, 10.50, 'a'), (2, 20.25, 'b')",
            "CREATE TABLE sales.customers (id int, name text)",
            "INSERT INTO sales.customers VALUES (1, 'Ada')",
        )
        one = duckdb_file(directory / "one.duckdb", "CREATE SCHEMA ref", "CREATE TABLE ref.countries AS SELECT 'DE' AS code")
        two = duckdb_file(directory / "two.duckdb", "CREATE SCHEMA lake", "CREATE TABLE lake.events AS SELECT 42 AS n")
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "connections": {
                "pg": postgres_connection(dsn),
                "warehouse": {"type": "duckdb", "path": str(one)},
                "lake": {"type": "duckdb", "path": str(two)},
            },
            **users_and_policies(),
        }
        process, server = start_server(directory, config)
        try:
            yield Live(server, dsn, server.config_path)
        finally:
            stop_server(process)


def test_every_source_is_served_from_the_store(live: Live) -> None:
    assert rows(live.server, "SELECT id, amount FROM sales.orders ORDER BY id")[0][0] == 1
    assert rows(live.server, "SELECT code FROM ref.countries") == [("DE",)]
    assert rows(live.server, "SELECT n FROM lake.events") == [(42,)]
    listed = rows(live.server, 'SELECT connection, "schema", "table", status FROM veil.tables ORDER BY 1, 2, 3', "root")
    assert listed == [
        ("lake", "lake", "events", "active"), ("pg", "sales", "customers", "active"),
        ("pg", "sales", "orders", "active"), ("warehouse", "ref", "countries", "active"),
    ]
    assert live.sync_sql("lake") == set(), "nothing changed since the server started"


def test_new_column_is_null_until_approved_and_a_cli_sync_reaches_the_server(live: Live) -> None:
    ddl(live.dsn, "ALTER TABLE sales.orders ADD COLUMN card text", "UPDATE sales.orders SET card = 'c' || id")
    result = veil("sync", "-c", str(live.config), "pg")
    assert result.returncode == 0, result.stderr
    assert "column_added" in result.stdout and "pg.sales.orders.card" in result.stdout
    assert result.stdout.count("pg.sales.") == 1, result.stdout

    waited = eventually(lambda: rows(live.server, "SELECT card FROM sales.orders ORDER BY id") == [(None,), (None,)])
    assert waited < 5
    assert rows(live.server, "SELECT id, card FROM sales.orders WHERE card IS NULL ORDER BY id") == [(1, None), (2, None)]
    assert rows(live.server, "SELECT count(*) FROM sales.orders WHERE card = 'c1'") == [(0,)], "filters see NULL too"
    assert rows(live.server, "SELECT card FROM sales.orders", "root") == [(None,), (None,)], "admins too"
    tags = rows(live.server, "SELECT tags FROM veil.columns WHERE \"table\" = 'orders' AND \"column\" = 'card'", "root")
    assert tags == [(["New"],)]

    explained = veil("explain", "-c", str(live.config), "--user", "alice", "SELECT card FROM sales.orders")
    assert 'mask "New Column Added" on sales.orders on card' in explained.stdout, explained.stdout
    audit = [json.loads(line) for line in (live.config.parent / ".veil" / "audit.jsonl").read_text().splitlines()]
    applied = [p for r in audit if "card" in r["statement"] for p in r["policies"]]
    assert any(p["name"] == "New Column Added" and p["columns"] == ["card"] for p in applied)

    approved = veil("approve", "-c", str(live.config), "sales.orders.card")
    assert approved.returncode == 0, approved.stderr
    assert "pg.sales.orders.card" in approved.stdout
    eventually(lambda: rows(live.server, "SELECT card FROM sales.orders ORDER BY id") == [("c1",), ("c2",)])
    again = veil("approve", "-c", str(live.config), "pg.sales.orders.nothing")
    assert again.returncode == 1 and "no such table or column" in again.stderr


def test_prepared_statement_replans_after_a_sync(live: Live) -> None:
    with psycopg.connect(live.server.dsn("alice"), autocommit=True) as connection:
        query = "SELECT id FROM sales.customers WHERE id = %s"
        assert connection.execute(query, (1,), prepare=True).fetchall() == [(1,)]
        ddl(live.dsn, "ALTER TABLE sales.customers ADD COLUMN email text", "UPDATE sales.customers SET email = 'x'")
        assert live.kinds() == {("column_added", "pg.sales.customers.email")}
        assert connection.execute(query, (1,), prepare=True).fetchall() == [(1,)]
        assert connection.execute("SELECT email FROM sales.customers").fetchall() == [(None,)]


def test_drop_column_and_type_change(live: Live) -> None:
    ddl(live.dsn, "ALTER TABLE sales.orders DROP COLUMN note", "ALTER TABLE sales.orders ALTER id TYPE bigint")
    changes = live.sync_sql()
    assert changes == {
        ("column_dropped", "pg.sales.orders.note", "was text"),
        ("column_type_changed", "pg.sales.orders.id", "integer -> bigint"),
    }
    with psycopg.connect(live.server.dsn("alice"), autocommit=True) as connection:
        cursor = connection.execute("SELECT * FROM sales.orders ORDER BY id")
        assert [c.name for c in cursor.description] == ["id", "amount", "card"]
        assert cursor.description[0].type_code == 20  # int8
        with pytest.raises(psycopg.errors.UndefinedColumn):
            connection.execute("SELECT note FROM sales.orders")
    assert live.sync_sql() == set()


def test_type_modifier_and_domain_changes_are_type_changes(live: Live) -> None:
    ddl(
        live.dsn,
        "CREATE DOMAIN short_code AS varchar(3)",
        "CREATE TABLE sales.items (sku varchar(40) NOT NULL, price numeric(10,2), code short_code)",
    )
    assert live.kinds() == {("table_added", "pg.sales.items")}
    ddl(
        live.dsn,
        "ALTER TABLE sales.items ALTER sku TYPE text",
        "ALTER TABLE sales.items ALTER price TYPE numeric(12,2)",
        "CREATE DOMAIN long_code AS varchar(8)",
        "ALTER TABLE sales.items ALTER code TYPE long_code",
    )
    assert live.sync_sql() == {
        ("column_type_changed", "pg.sales.items.sku", "character varying(40) -> text"),
        ("column_type_changed", "pg.sales.items.price", "numeric(10,2) -> numeric(12,2)"),
        ("column_type_changed", "pg.sales.items.code", "character varying(3) (short_code) -> character varying(8) (long_code)"),
    }
    with psycopg.connect(live.server.dsn("alice"), autocommit=True) as connection:
        described = connection.execute(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, is_nullable "
            "FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position"
        ).fetchall()
    assert described == [
        ("sku", "text", None, None, "NO"),
        ("price", "numeric", None, 12, "YES"),
        ("code", "character varying", 8, None, "YES"),
    ]
    ddl(live.dsn, "ALTER TABLE sales.items ALTER sku DROP NOT NULL")
    assert live.sync_sql() == set()  # nullability is saved and served, not reported as a type change
    with psycopg.connect(live.server.dsn("alice"), autocommit=True) as connection:
        nullable = connection.execute(
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'sku'"
        ).fetchall()
    assert nullable == [("YES",)]
    assert live.sync_sql() == set()


def test_create_drop_recreate_table_and_new_schema(live: Live) -> None:
    ddl(live.dsn, "CREATE TABLE sales.tmp (k int)", "INSERT INTO sales.tmp VALUES (1)",
        "CREATE SCHEMA marketing", "CREATE TABLE marketing.leads (email text)")
    assert live.kinds() == {
        ("table_added", "pg.sales.tmp"), ("schema_added", "pg.marketing"), ("table_added", "pg.marketing.leads"),
    }
    assert rows(live.server, "SELECT k FROM sales.tmp") == [(1,)]
    assert rows(live.server, "SELECT count(*) FROM marketing.leads") == [(0,)]

    ddl(live.dsn, "DROP TABLE sales.tmp", "CREATE TABLE sales.tmp (k int)", "INSERT INTO sales.tmp VALUES (2)")
    assert live.kinds() == {("table_recreated", "pg.sales.tmp")}, "same columns, new object id"
    assert rows(live.server, "SELECT k FROM sales.tmp") == [(2,)]

    ddl(live.dsn, "DROP TABLE marketing.leads")
    assert live.kinds() == {("table_dropped", "pg.marketing.leads"), ("schema_dropped", "pg.marketing")}
    with pytest.raises(psycopg.errors.UndefinedTable):
        rows(live.server, "SELECT * FROM marketing.leads")
    catalog_views = [
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'leads'",
        "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'leads'",
    ]
    for sql in catalog_views:
        assert rows(live.server, sql) == [(0,)], sql
    assert rows(live.server, "SELECT count(*) FROM veil.tables WHERE \"table\" = 'leads'", "root") == [(0,)]
    assert rows(live.server, "SELECT count(*) FROM veil.columns WHERE \"table\" = 'leads'", "root") == [(0,)]


def test_only_admins_may_sync_and_unknown_connections_are_errors(live: Live) -> None:
    with pytest.raises(psycopg.errors.UndefinedFunction):
        rows(live.server, "SELECT * FROM veil.sync('pg')", "alice")
    with pytest.raises(psycopg.errors.UndefinedObject):
        rows(live.server, "SELECT * FROM veil.sync('nope')", "root")
    everything = rows(live.server, "SELECT count(*) FROM veil.sync()", "root")
    assert everything == [(0,)]
    history = rows(live.server, "SELECT connection, kind, object FROM veil.sync_history WHERE kind IS NOT NULL", "root")
    assert ("pg", "table_recreated", "pg.sales.tmp") in history
    assert ("pg", "column_added", "pg.sales.orders.card") in history
    with pytest.raises(psycopg.errors.UndefinedTable):
        rows(live.server, "SELECT * FROM veil.sync_history", "alice")
