"""Samples are bounded, random and pushed to the source: DuckDB and PostgreSQL."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import postgres_connection, scratch_database
from veil.catalog.registry import build_catalog
from veil.config import parse_config
from veil.discovery.run import DiscoverySettings, run_discovery, select_tables
from veil.discovery.sampling import OVERSAMPLE, sample_table
from veil.state.tagstore import TagStore

DUCKDB_SQL = """
CREATE SCHEMA shop;
CREATE TABLE shop.small AS SELECT i AS id, 'user' || i || '@example.com' AS email, i * 1.5 AS score,
    i % 2 = 0 AS flag, [i] AS list FROM range(1000) t(i);
CREATE TABLE shop.large AS SELECT i AS id,
    '4111' || lpad((i * 7919 % 1000000000000)::VARCHAR, 12, '0') AS reference,
    'note ' || i AS notes FROM range(2000000) t(i);
CREATE VIEW shop.recent AS SELECT * FROM shop.large WHERE id % 3 = 0;
"""


@pytest.fixture(scope="module")
def duckdb_catalog(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("sampling") / "warehouse.duckdb"
    connection = duckdb.connect(str(path))
    for statement in DUCKDB_SQL.split(";"):
        if statement.strip():
            connection.execute(statement)
    connection.close()
    config = parse_config({"connections": {"shop": {"type": "duckdb", "path": str(path)}}})
    catalog = build_catalog(config)
    yield config, catalog
    for source in catalog.sources.values():
        source.close()


def table(catalog, name: str):
    return next(t for t in catalog.snapshot if t.qualified_name == name)


def test_duckdb_small_table_reservoir(duckdb_catalog) -> None:
    _, catalog = duckdb_catalog
    small = table(catalog, "shop.small")
    sample = sample_table(catalog.source_for(small), small, rows=200)
    assert sample.plan.method == "reservoir"
    assert "USING SAMPLE reservoir(200 ROWS)" in sample.plan.sql
    assert sample.data.num_rows == 200
    assert sample.data.column_names == ["id", "email"]  # floats, booleans and lists cannot be entities
    assert {str(f.type) for f in sample.data.schema} == {"string"}
    ids = [int(v) for v in sample.data.column("id").to_pylist()]
    assert len(set(ids)) == 200 and max(ids) > 500  # random rows, not the first 200


def test_duckdb_large_table_is_sampled_block_wise(duckdb_catalog) -> None:
    _, catalog = duckdb_catalog
    large = table(catalog, "shop.large")
    started = time.perf_counter()
    sample = sample_table(catalog.source_for(large), large, rows=1000)
    assert time.perf_counter() - started < 2
    assert sample.plan.method == "system+reservoir" and sample.plan.estimated_rows == 2_000_000
    percent = re.search(r"TABLESAMPLE system\(([0-9.]+) PERCENT\)", sample.plan.sql)
    assert percent and float(percent.group(1)) == pytest.approx(100 * OVERSAMPLE * 1000 / 2_000_000)
    assert 0 < sample.data.num_rows <= 1000


def test_duckdb_views_read_a_bounded_prefix(duckdb_catalog) -> None:
    _, catalog = duckdb_catalog
    view = table(catalog, "shop.recent")
    sample = sample_table(catalog.source_for(view), view, rows=100)
    assert sample.plan.method == "bounded"
    assert "LIMIT 2000" in sample.plan.sql
    assert sample.data.num_rows == 100


def test_run_discovery_on_duckdb(duckdb_catalog, tmp_path: Path) -> None:
    config, catalog = duckdb_catalog
    with TagStore.open(tmp_path) as store:
        results = run_discovery(catalog, config, select_tables(catalog.snapshot, ["shop.*"]), DiscoverySettings(), store)
        found = {(r.table.name, c.column): c.winner.entity for r in results for c in r.tagged}
        assert found == {("small", "email"): "EmailAddress"}  # references fail Luhn nine times in ten
        again = run_discovery(catalog, config, select_tables(catalog.snapshot, ["shop.small"]),
                              DiscoverySettings(only_new=True), store)
        assert again[0].columns == ()  # nothing new to scan


PG_SQL = [
    "CREATE SCHEMA crm",
    """CREATE TABLE crm.people AS SELECT i AS id, 'person' || i || '@example.org' AS email,
       lpad((100 + i % 800)::text, 3, '0') || '-' || lpad((1 + i % 98)::text, 2, '0') || '-'
       || lpad((1 + i % 9998)::text, 4, '0') AS ssn, now() AS created
       FROM generate_series(1, 200000) AS t(i)""",
    "CREATE TABLE crm.tiny AS SELECT i AS id, 'DE89370400440532013000' AS iban FROM generate_series(1, 50) AS t(i)",
    "CREATE VIEW crm.people_view AS SELECT * FROM crm.people",
    "ANALYZE crm.people",
    "ANALYZE crm.tiny",
]


@pytest.fixture(scope="module")
def postgres_catalog(postgres_dsn: str):
    dsn = scratch_database(postgres_dsn, "veil_discovery_sampling")
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in PG_SQL:
            connection.execute(statement)
    config = parse_config({"connections": {"crm": postgres_connection(dsn)}})
    catalog = build_catalog(config)
    assert not catalog.errors
    yield config, catalog


def test_postgres_large_table_uses_tablesample(postgres_catalog) -> None:
    _, catalog = postgres_catalog
    people = table(catalog, "crm.people")
    sample = sample_table(catalog.source_for(people), people, rows=1000)
    assert sample.plan.method == "tablesample"
    percent = re.search(r"TABLESAMPLE SYSTEM \(([0-9.]+)\) REPEATABLE", sample.plan.sql)
    assert percent and float(percent.group(1)) == pytest.approx(100 * OVERSAMPLE * 1000 / 200_000)
    assert 0 < sample.data.num_rows <= 1000
    assert sample.data.column_names == ["id", "email", "ssn", "created"]


def test_postgres_small_tables_and_views(postgres_catalog) -> None:
    _, catalog = postgres_catalog
    tiny = table(catalog, "crm.tiny")
    sample = sample_table(catalog.source_for(tiny), tiny, rows=1000)
    assert sample.plan.method == "random" and "ORDER BY random() LIMIT 1000" in sample.plan.sql
    assert sample.data.num_rows == 50
    view = table(catalog, "crm.people_view")
    sample = sample_table(catalog.source_for(view), view, rows=100)
    assert sample.plan.method == "bounded" and sample.data.num_rows == 100


def test_run_discovery_on_postgres(postgres_catalog) -> None:
    config, catalog = postgres_catalog
    results = run_discovery(catalog, config, list(catalog.snapshot), DiscoverySettings(sample_rows=2000))
    assert all(r.error is None for r in results)
    found = {(r.table.name, c.column): c.winner.entity for r in results for c in r.tagged}
    assert found == {
        ("people", "email"): "EmailAddress", ("people", "ssn"): "USSocialSecurityNumber",
        ("people_view", "email"): "EmailAddress", ("people_view", "ssn"): "USSocialSecurityNumber",
        ("tiny", "iban"): "IBAN",
    }
