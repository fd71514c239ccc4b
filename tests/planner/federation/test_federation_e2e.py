"""Pushdown and cross-source joins, end to end: real `veil serve`, real PostgreSQL, real psycopg.

PostgreSQL's own statement log (``log_statement = 'all'`` on the scratch database) proves what
reached it: a join of two tables behind one connection key arrives as ONE statement, even when
Veil reaches them through two connections; the same join through a second connection with other
credentials arrives as two single-table statements and is joined by Veil. Every answer is
compared with the same SQL run directly on an in-memory DuckDB holding exactly what the user may
see (masked e-mails, filtered rows), so pushdown, federation and policies are checked together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from hashlib import sha256
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import (
    VeilServer,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.pglog import StatementLog
from veil.proxy.auth import make_scram_verifier

DATABASE = "veil_federation"
READER, READER_PASSWORD = "veil_fed_reader", "reader-secret"
HASH_KEY = "federation-key"
PASSWORD = "pw"
REGIONS = {"DE": "Europe", "FR": "Europe", "US": "Americas", "CA": "Americas", "JP": "Asia"}
COUNTRY_CODES = list(REGIONS)
ORDERS = [
    (i, i % 30 + 1, Decimal(i * 7 % 1000) / 10, "void" if i % 10 == 0 else "ok") for i in range(1, 301)
]
CUSTOMERS = [(i, f"customer {i}", f"c{i}@mail{i % 3}.example", COUNTRY_CODES[i % 5]) for i in range(1, 31)]
COUNTRIES = [(code, f"country {code}", region) for code, region in REGIONS.items()]
ANALYST_REGIONS = {"Europe", "Americas"}


def hashed(value: str) -> str:
    return sha256(f"{HASH_KEY}:{value}".encode()).hexdigest()


def write_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA fed")
        connection.execute("CREATE TABLE fed.orders (id int PRIMARY KEY, customer_id int, amount numeric(10, 2), status text)")
        connection.execute("CREATE TABLE fed.customers (id int PRIMARY KEY, name text, email text, country text)")
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO fed.orders VALUES (%s, %s, %s, %s)", ORDERS)
            cursor.executemany("INSERT INTO fed.customers VALUES (%s, %s, %s, %s)", CUSTOMERS)
        # Slow reads of the same rows, for the race and cancel tests: Veil refuses pg_sleep in a
        # client's statement, so the source itself sleeps (10 ms, or 5 s, per row).
        connection.execute("CREATE SCHEMA slow")
        connection.execute("CREATE VIEW slow.orders AS SELECT * FROM fed.orders WHERE pg_sleep(id * 0 + 0.01) IS NOT NULL")
        connection.execute("CREATE VIEW slow.stalled AS SELECT * FROM fed.orders WHERE pg_sleep(id * 0 + 5) IS NOT NULL")
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone()
        connection.execute(f"{'ALTER' if exists else 'CREATE'} ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
        connection.execute(f"GRANT USAGE ON SCHEMA fed TO {READER}")
        connection.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA fed TO {READER}")


def write_duckdb(path: Path) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA ref")
    connection.execute("CREATE TABLE ref.countries (code VARCHAR, name VARCHAR, region VARCHAR)")
    connection.executemany("INSERT INTO ref.countries VALUES (?, ?, ?)", COUNTRIES)
    connection.close()


def oracle() -> duckdb.DuckDBPyConnection:
    """What the analyst may see, as plain tables: the same SQL over them is the expected answer."""
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA fed; CREATE SCHEMA ref; CREATE SCHEMA reader")
    connection.execute("CREATE TABLE fed.orders (id INT, customer_id INT, amount DECIMAL(10, 2), status VARCHAR)")
    connection.executemany("INSERT INTO fed.orders VALUES (?, ?, ?, ?)", [o for o in ORDERS if o[3] != "void"])
    connection.execute("CREATE TABLE fed.customers (id INT, name VARCHAR, email VARCHAR, country VARCHAR)")
    connection.executemany(
        "INSERT INTO fed.customers VALUES (?, ?, ?, ?)", [(i, n, hashed(e), c) for i, n, e, c in CUSTOMERS]
    )
    connection.execute("CREATE TABLE reader.customers AS SELECT * FROM fed.customers")
    connection.execute("CREATE TABLE ref.countries (code VARCHAR, name VARCHAR, region VARCHAR)")
    connection.executemany("INSERT INTO ref.countries VALUES (?, ?, ?)", [c for c in COUNTRIES if c[2] in ANALYST_REGIONS])
    return connection


def federation_config(pg: dict[str, object], duckdb_path: Path) -> dict[str, object]:
    admin = {"type": "postgres", "latency": 0, **pg}
    email_tag = {"tags": {"email": ["PII.Email"]}}
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": "fed, ref, public"},
        "secrets": {"hash_key": HASH_KEY},
        "connections": {
            "warehouse": {"type": "duckdb", "path": str(duckdb_path), "latency": 0},
            # Two connections with one connection key: their tables are joined by PostgreSQL.
            "pg_orders": {**admin, "population": {"tables": ["fed.orders", "slow.orders", "slow.stalled"]}},
            "pg_customers": {**admin, "population": {"tables": ["fed.customers"]}},
            # Same server and database, other credentials: a different key, joined by Veil.
            "pg_reader": {
                **admin, "user": READER, "password": READER_PASSWORD,
                "population": {"tables": ["fed.customers"]}, "naming": {"schema": "reader"},
            },
        },
        "tables": {"pg_customers.fed.customers": email_tag, "pg_reader.fed.customers": email_tag},
        "users": {
            "analyst": {
                "password": make_scram_verifier(PASSWORD), "groups": ["Analytics"],
                "attributes": {"region": sorted(ANALYST_REGIONS)},
            },
            "root": {"password": make_scram_verifier(PASSWORD), "admin": True, "groups": ["Analytics"],
                     "attributes": {"region": sorted(ANALYST_REGIONS)}},
        },
        "policies": [
            {"name": "Analysts read all", "subscription": {"tables": ["*"], "allow": {"groups": ["Analytics"]}}},
            {"name": "Hash e-mails", "mask": {"column_tags": ["PII.Email"], "with": "hash"}},
            {"name": "No void orders", "row_filter": {"tables": ["pg_orders.fed.orders", "pg_orders.slow.orders"],
                                                      "where": "status <> 'void'"}},
            {"name": "Own regions", "row_filter": {"tables": ["warehouse.ref.countries"],
                                                   "where": "@attributeValuesContains('region', region)"}},
        ],
    }


@dataclass
class Federation:
    server: VeilServer
    log: StatementLog
    oracle: duckdb.DuckDBPyConnection

    def rows(self, sql: str, params: tuple[object, ...] = (), user: str = "analyst") -> list[tuple[object, ...]]:
        with psycopg.connect(**self.server.kwargs(user, PASSWORD), autocommit=True) as connection:
            return connection.execute(sql, params or None).fetchall()

    def expected(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return self.oracle.execute(sql.replace("%s", "?"), list(params)).fetchall()


@pytest.fixture(scope="module")
def federation(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    directory = tmp_path_factory.mktemp("federation")
    dsn = scratch_database(postgres_dsn, DATABASE)
    write_postgres(dsn)
    log = StatementLog(postgres_dsn, DATABASE)
    write_duckdb(directory / "wh.duckdb")
    pg = postgres_connection(dsn)
    process, server = start_server(directory, federation_config(pg, directory / "wh.duckdb"))
    try:
        yield Federation(server, log, oracle())
    finally:
        stop_server(process)


def same(actual: list[tuple[object, ...]], expected: list[tuple[object, ...]], ordered: bool = False) -> bool:
    if ordered:
        return actual == expected
    return sorted(actual, key=repr) == sorted(expected, key=repr)


JOIN = (
    "SELECT c.country, count(*), sum(o.amount) FROM fed.orders o JOIN {customers} c ON c.id = o.customer_id "
    "WHERE o.amount > 10 GROUP BY c.country ORDER BY c.country"
)


def test_one_connection_key_join_reaches_postgres_as_one_statement(federation: Federation) -> None:
    mark = federation.log.mark()
    sql = JOIN.format(customers="fed.customers")
    result = federation.rows(sql)
    assert same(result, federation.expected(sql), ordered=True)
    logged = federation.log.statements_since(mark)
    both = [s for s in logged if '"orders"' in s and '"customers"' in s]
    alone = [s for s in logged if ('"orders"' in s) != ('"customers"' in s)]
    assert len(both) == 1, logged
    assert alone == [], "a table was read on its own: the join did not run in PostgreSQL"
    assert "GROUP BY" in both[0] and "JOIN" in both[0]


def test_other_credentials_are_joined_by_veil_with_the_same_answer(federation: Federation) -> None:
    mark = federation.log.mark()
    result = federation.rows(JOIN.format(customers="reader.customers"))
    logged = federation.log.statements_since(mark)
    orders_only = [s for s in logged if '"orders"' in s and '"customers"' not in s]
    customers_only = [s for s in logged if '"customers"' in s and '"orders"' not in s]
    assert [s for s in logged if '"orders"' in s and '"customers"' in s] == [], "joined remotely"
    assert len(orders_only) == 1 and len(customers_only) == 1, logged
    assert "amount > 10" in orders_only[0], "the single-table condition was not pushed down"
    assert '"status"' not in orders_only[0].split("FROM")[0], "a column the statement does not use was read"
    assert same(result, federation.expected(JOIN.format(customers="reader.customers")), ordered=True)
    assert same(result, federation.rows(JOIN.format(customers="fed.customers")), ordered=True)


CROSS_SOURCE = [
    ("SELECT k.region, c.email, o.id, o.amount FROM fed.orders o JOIN fed.customers c ON c.id = o.customer_id "
    "JOIN ref.countries k ON k.code = c.country WHERE o.amount > 50"),
    ("SELECT k.region, count(DISTINCT c.email), sum(o.amount) FROM fed.orders o JOIN reader.customers c "
    "ON c.id = o.customer_id JOIN ref.countries k ON k.code = c.country GROUP BY k.region"),
    "SELECT c.id, c.email, k.name FROM fed.customers c LEFT JOIN ref.countries k ON k.code = c.country",
    "SELECT * FROM ref.countries k WHERE EXISTS (SELECT 1 FROM fed.customers c WHERE c.country = k.code AND c.id > 25)",
    ("SELECT email FROM fed.customers WHERE country IN (SELECT code FROM ref.countries WHERE region = 'Europe') "
    "UNION ALL SELECT name FROM ref.countries"),
    "SELECT o.id, k.code FROM fed.orders o, ref.countries k WHERE o.id < %s AND k.code = %s",
]


@pytest.mark.parametrize("sql", CROSS_SOURCE)
def test_duckdb_by_postgres_join_is_correct_and_keeps_policies(federation: Federation, sql: str) -> None:
    params: tuple[object, ...] = (20, "US") if "%s" in sql else ()
    result = federation.rows(sql, params)
    assert same(result, federation.expected(sql, params))
    seen = {str(value) for row in result for value in row}
    assert not seen & {c[2] for c in CUSTOMERS}, "a raw e-mail address left PostgreSQL"
    assert "Asia" not in seen and "country JP" not in seen, "a row hidden by the DuckDB row filter"


def test_hidden_rows_never_join(federation: Federation) -> None:
    void = {o[0] for o in ORDERS if o[3] == "void"}
    result = federation.rows(
        "SELECT o.id FROM fed.orders o JOIN ref.countries k ON k.code = 'DE' WHERE o.status = 'void' OR o.id % 10 = 0"
    )
    assert result == []
    assert not void & {r[0] for r in federation.rows("SELECT o.id FROM fed.orders o CROSS JOIN ref.countries k")}
    assert federation.rows("SELECT count(*) FROM reader.customers c JOIN ref.countries k ON k.code = c.country "
                           "WHERE k.region = 'Asia'") == [(0,)]


def test_explain_and_audit_show_every_source_query(federation: Federation) -> None:
    sql = "SELECT o.id, k.region FROM fed.orders o JOIN fed.customers c ON c.id = o.customer_id JOIN ref.countries k ON k.code = c.country"
    plan = [r[0] for r in federation.rows(f"EXPLAIN {sql}", user="root")]
    text = "\n".join(plan)
    assert "SQL sent to connection warehouse (duckdb)" in text
    assert "SQL sent to connection pg_orders (postgres)" in text
    assert "Local part (Veil's in-memory DuckDB)" in text
    assert 'row_filter "No void orders" on fed.orders' in text
    assert 'mask "Hash e-mails" on fed.customers on email' in text
    assert 'row_filter "Own regions" on ref.countries' in text
    federation.rows(sql, user="analyst")
    audit = federation.rows(
        "SELECT statement, connections, pushed_sql, cache_hit FROM veil.audit WHERE \"user\" = 'analyst'", user="root"
    )
    _, connections, pushed, cache_hit = [record for record in audit if record[0] == sql][-1]
    assert set(connections) == {"warehouse", "pg_orders"}
    assert len(pushed) == 2
    assert any('"orders"' in s and '"customers"' in s for s in pushed)
    assert any('"countries"' in s for s in pushed)
    assert cache_hit is False


def test_a_federated_statement_can_be_canceled(federation: Federation, postgres_dsn: str) -> None:
    sql = "SELECT o.id FROM slow.stalled o JOIN ref.countries k ON k.code = 'DE'"
    with psycopg.connect(**federation.server.kwargs("analyst", PASSWORD), autocommit=True) as connection:
        timer = threading.Timer(1.0, connection.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            connection.execute(sql)
        assert time.monotonic() - started < 5
        assert connection.execute("SELECT count(*) FROM ref.countries").fetchone() == (4,)
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        for _ in range(50):
            running = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND query LIKE %s",
                (DATABASE, '%"slow"."stalled"%'),
            ).fetchone()
            if running == (0,):
                break
            time.sleep(0.1)
        assert running == (0,), "the source query kept running after the cancel"
