"""One statement over three source types: DuckDB × PostgreSQL × Snowflake (fakesnow).

Orders live in PostgreSQL, customers in Snowflake, countries in a DuckDB file. Veil sends each
source the part that belongs to it alone, with that table's masks and row filters inside the SQL
in the source's own dialect, and joins the parts in its local engine. Every answer is compared
with the same SQL over plain tables holding exactly what the analyst may see; raw e-mails and the
rows the filters remove must appear nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.catalog.sources.conftest import Fakesnow
from tests.catalog.support import ddl, duckdb_file, private_database
from tests.conftest import VeilServer, postgres_connection, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

SNOWFLAKE_DATABASE = "VEIL_XSRC"
HASH_KEY = "three-sources"
PASSWORD = "pw"
REGIONS = {"DE": "Europe", "FR": "Europe", "US": "Americas", "JP": "Asia"}
CUSTOMERS = [(i, f"customer {i}", f"c{i}@mail.example", list(REGIONS)[i % 4]) for i in range(1, 21)]
ORDERS = [(i, i % 20 + 1, Decimal(i * 37 % 1000) / 10, "void" if i % 7 == 0 else "ok") for i in range(1, 151)]
ANALYST_REGIONS = ("Americas", "Europe")


def hashed(value: str) -> str:
    return sha256(f"{HASH_KEY}:{value}".encode()).hexdigest()


def _snowflake_setup() -> tuple[str, ...]:
    values = ", ".join(f"({i}, '{name}', '{email}', '{country}')" for i, name, email, country in CUSTOMERS)
    return (
        "CREATE SCHEMA IF NOT EXISTS CRM",
        "CREATE OR REPLACE TABLE CRM.CUSTOMERS (ID NUMBER(9,0), NAME VARCHAR, EMAIL VARCHAR, COUNTRY VARCHAR)",
        f"INSERT INTO CRM.CUSTOMERS VALUES {values}",
    )


def _oracle() -> duckdb.DuckDBPyConnection:
    """What the analyst may see, as plain tables under the names Veil serves."""
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA shop; CREATE SCHEMA crm; CREATE SCHEMA ref")
    connection.execute("CREATE TABLE shop.orders (id INT, customer_id INT, amount DECIMAL(10, 2), status VARCHAR)")
    connection.executemany("INSERT INTO shop.orders VALUES (?, ?, ?, ?)", [o for o in ORDERS if o[3] != "void"])
    connection.execute("CREATE TABLE crm.customers (id BIGINT, name VARCHAR, email VARCHAR, country VARCHAR)")
    connection.executemany(
        "INSERT INTO crm.customers VALUES (?, ?, ?, ?)", [(i, n, hashed(e), c) for i, n, e, c in CUSTOMERS]
    )
    connection.execute("CREATE TABLE ref.countries (code VARCHAR, region VARCHAR)")
    connection.executemany(
        "INSERT INTO ref.countries VALUES (?, ?)", [(c, r) for c, r in REGIONS.items() if r in ANALYST_REGIONS]
    )
    return connection


@dataclass
class ThreeSources:
    server: VeilServer
    directory: Path
    oracle: duckdb.DuckDBPyConnection

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(**self.server.kwargs("analyst", PASSWORD), autocommit=True) as connection:
            return connection.execute(sql, params or None).fetchall()

    def expected(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return self.oracle.execute(sql.replace("%s", "?"), list(params)).fetchall()

    def last_audit(self, fragment: str) -> dict[str, Any]:
        lines = (self.directory / "audit.jsonl").read_text().splitlines()
        return [record for record in map(json.loads, lines) if fragment in record["statement"]][-1]


@pytest.fixture(scope="module")
def three(fakesnow: Fakesnow, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreeSources]:
    fakesnow.run(SNOWFLAKE_DATABASE, *_snowflake_setup())
    directory = tmp_path_factory.mktemp("three_sources")
    lake = duckdb_file(
        directory / "lake.duckdb",
        "CREATE SCHEMA ref",
        "CREATE TABLE ref.countries (code VARCHAR, region VARCHAR)",
        "INSERT INTO ref.countries VALUES " + ", ".join(f"('{c}', '{r}')" for c, r in REGIONS.items()),
    )
    with private_database(postgres_dsn, "veil_three_sources") as dsn:
        ddl(
            dsn,
            "CREATE SCHEMA shop",
            "CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int, amount numeric(10, 2), status text)",
            "INSERT INTO shop.orders VALUES " + ", ".join(f"({i}, {c}, {a}, '{s}')" for i, c, a, s in ORDERS),
        )
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "audit": {"path": str(directory / "audit.jsonl")},
            "secrets": {"hash_key": HASH_KEY},
            "connections": {
                "pg": postgres_connection(dsn, latency=0, population={"schemas": ["shop"]}),
                "snow": fakesnow.connection(SNOWFLAKE_DATABASE, latency=0, population={"schemas": ["CRM"]}),
                "lake": {"type": "duckdb", "path": str(lake), "latency": 0},
            },
            # Tagged by its served name (test_snowflake.py tags by the source's spelling, EMAIL).
            "tables": {"snow.CRM.CUSTOMERS": {"tags": {"email": ["PII.Email"]}}},
            "users": {"analyst": {"password": make_scram_verifier(PASSWORD), "groups": ["Analytics"],
                                  "attributes": {"region": list(ANALYST_REGIONS)}}},
            "policies": [
                {"name": "Analysts read all", "subscription": {"tables": ["*"], "allow": {"groups": ["Analytics"]}}},
                {"name": "Hash e-mails", "mask": {"column_tags": ["PII.Email"], "with": "hash"}},
                {"name": "No void orders", "row_filter": {"tables": ["pg.shop.orders"], "where": "status <> 'void'"}},
                {"name": "Own regions", "row_filter": {"tables": ["lake.ref.countries"],
                                                       "where": "@attributeValuesContains('region', region)"}},
            ],
        }
        process, server = start_server(directory, config)
        try:
            yield ThreeSources(server, directory, _oracle())
        finally:
            stop_server(process)


JOIN = (
    "SELECT o.id, c.name, c.email, r.region, o.amount FROM shop.orders o "
    "JOIN crm.customers c ON c.id = o.customer_id JOIN ref.countries r ON r.code = c.country "
    "WHERE o.amount > %s ORDER BY o.id"
)
AGGREGATE = (
    "SELECT r.region, count(*) AS n, sum(o.amount) AS total, count(DISTINCT c.email) AS people "
    "FROM shop.orders o JOIN crm.customers c ON c.id = o.customer_id "
    "JOIN ref.countries r ON r.code = c.country GROUP BY r.region ORDER BY r.region"
)


def test_join_across_duckdb_postgres_and_snowflake_is_correct(three: ThreeSources) -> None:
    found = three.rows(JOIN, (Decimal("10.00"),))
    assert found == three.expected(JOIN, (Decimal("10.00"),))
    assert found, "the join must return rows"
    record = three.last_audit("JOIN ref.countries r ON r.code")
    assert sorted(record["connections"]) == ["lake", "pg", "snow"]
    assert len(record["pushed_sql"]) == 3


def test_aggregate_across_three_sources_sees_only_permitted_rows(three: ThreeSources) -> None:
    found = three.rows(AGGREGATE)
    assert found == three.expected(AGGREGATE)
    assert {region for region, *_ in found} == set(ANALYST_REGIONS)  # Asia is filtered out
    assert sum(n for _, n, *_ in found) == len(three.expected(
        "SELECT 1 FROM shop.orders o JOIN crm.customers c ON c.id = o.customer_id "
        "JOIN ref.countries r ON r.code = c.country"
    ))


def test_masks_and_filters_travel_to_each_source(three: ThreeSources) -> None:
    found = three.rows(JOIN, (Decimal("0"),))
    emails = {email for _, _, email, _, _ in found}
    raw_emails = {email for _, _, email, _ in CUSTOMERS}
    assert emails and emails.isdisjoint(raw_emails)
    assert emails <= {hashed(e) for e in raw_emails}
    void_ids = {i for i, _, _, status in ORDERS if status == "void"}
    assert void_ids.isdisjoint({order_id for order_id, *_ in found})
    assert "Asia" not in {region for *_, region, _ in found}
    record = three.last_audit("JOIN ref.countries r ON r.code")
    pushed = " ".join(record["pushed_sql"])
    # The hash runs in Snowflake's dialect inside the SQL sent there; raw e-mails never come back.
    assert "SHA2" in pushed.upper() and "void" in pushed and "Americas" in pushed
    # Snowflake's fragment reads its columns by their source spelling and delivers served names.
    snowflake = next(sql for sql in record["pushed_sql"] if '"CUSTOMERS"' in sql)
    assert '"veil_raw"."EMAIL"' in snowflake and 'AS "email"' in snowflake and '"ID" AS "id"' in snowflake
