"""The latency cache, end to end: real `veil serve`, real PostgreSQL, and PostgreSQL's own
statement log as the witness of what reached the source.

Data changes behind Veil's back (an UPDATE through another connection) are invisible while the
cached result is fresh and visible once the latency has passed; users whose row filters differ
never share an entry; ``latency: 0`` never caches; ``veil.cache`` counts hits and misses and the
audit record says which statements were served from cache.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml

from tests.conftest import (
    VeilServer,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.pglog import StatementLog
from veil.proxy.auth import make_scram_verifier

DATABASE = "veil_latency"
LATENCY = 1.5  # seconds, for every table of the PostgreSQL connection
PASSWORD = "pw"
READINGS = [(i, "EU" if i % 2 else "US", i * 10) for i in range(1, 13)]


def write_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA lat")
        connection.execute("CREATE TABLE lat.readings (id int, region text, value int)")
        connection.execute("CREATE TABLE lat.counter (id int, value int)")
        connection.execute("CREATE TABLE lat.live (id int, value int)")
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO lat.readings VALUES (%s, %s, %s)", READINGS)
        connection.execute("INSERT INTO lat.counter VALUES (1, 1)")
        connection.execute("INSERT INTO lat.live VALUES (1, 1)")


def latency_config(pg: dict[str, object], duckdb_path: Path) -> dict[str, object]:
    user = {"password": make_scram_verifier(PASSWORD)}
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": "lat, public"},
        "cache": {"default_latency": "1h"},
        "connections": {
            "warehouse": {"type": "duckdb", "path": str(duckdb_path)},
            "pg": {"type": "postgres", "latency": LATENCY, **pg},
        },
        "tables": {"pg.lat.live": {"latency": 0}},
        "users": {
            "eu": {**user, "groups": ["Readers"], "attributes": {"region": ["EU"]}},
            "us": {**user, "groups": ["Readers"], "attributes": {"region": ["US"]}},
            "root": {**user, "admin": True, "groups": ["Readers"], "attributes": {"region": ["EU", "US"]}},
        },
        "policies": [
            {"name": "Readers", "subscription": {"tables": ["*"], "allow": {"groups": ["Readers"]}}},
            {"name": "Own region", "row_filter": {"tables": ["pg.lat.readings"],
                                                  "where": "@attributeValuesContains('region', region)"}},
        ],
    }


@dataclass
class Deployment:
    server: VeilServer
    log: StatementLog
    dsn: str

    def rows(self, sql: str, user: str = "eu") -> list[tuple[object, ...]]:
        with psycopg.connect(**self.server.kwargs(user, PASSWORD), autocommit=True) as connection:
            return connection.execute(sql).fetchall()

    def behind_veils_back(self, sql: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(sql)

    def cache(self) -> dict[str, int]:
        with psycopg.connect(**self.server.kwargs("root", PASSWORD), autocommit=True) as connection:
            cursor = connection.execute("SELECT * FROM veil.cache")
            names = [c.name for c in cursor.description or []]
            return dict(zip(names, cursor.fetchone() or (), strict=True))

    def cache_hits(self, user: str, statement: str) -> list[bool]:
        audit = self.rows("SELECT \"user\", statement, cache_hit FROM veil.audit", user="root")
        return [hit for who, sql, hit in audit if who == user and sql == statement]


@pytest.fixture(scope="module")
def deployment(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("latency")
    dsn = scratch_database(postgres_dsn, DATABASE)
    write_postgres(dsn)
    log = StatementLog(postgres_dsn, DATABASE)
    duck = duckdb.connect(str(directory / "wh.duckdb"))
    duck.execute("CREATE SCHEMA ref; CREATE TABLE ref.regions AS SELECT * FROM (VALUES ('EU', 'Europe'), ('US', 'United States')) t(code, name)")
    duck.close()
    pg = postgres_connection(dsn)
    process, server = start_server(directory, latency_config(pg, directory / "wh.duckdb"))
    try:
        yield Deployment(server, log, dsn)
    finally:
        stop_server(process)


def test_a_repeat_within_latency_does_not_reach_the_source(deployment: Deployment) -> None:
    sql = "SELECT value FROM lat.counter WHERE id = 1"
    mark = deployment.log.mark()
    assert deployment.rows(sql) == [(1,)]
    deployment.behind_veils_back("UPDATE lat.counter SET value = 2")
    assert deployment.rows(sql) == [(1,)], "a repeat within latency must be served from cache"
    assert len(deployment.log.reading(mark, '"counter"')) == 1
    time.sleep(LATENCY + 0.3)
    assert deployment.rows(sql) == [(2,)], "after the latency the source is read again"
    assert len(deployment.log.reading(mark, '"counter"')) == 2
    assert deployment.cache_hits("eu", sql) == [False, True, False]


def test_users_with_different_row_filters_never_share_entries(deployment: Deployment) -> None:
    sql = "SELECT id, region FROM lat.readings ORDER BY id"
    mark = deployment.log.mark()
    eu = deployment.rows(sql, user="eu")
    us = deployment.rows(sql, user="us")
    again = deployment.rows(sql, user="eu")
    assert {region for _, region in eu} == {"EU"} and eu == again
    assert {region for _, region in us} == {"US"}
    assert len(deployment.log.reading(mark, '"readings"')) == 2  # one per policy, the repeat is a hit
    assert deployment.cache_hits("us", sql) == [False]
    assert deployment.cache_hits("eu", sql) == [False, True]


def test_latency_zero_never_caches(deployment: Deployment) -> None:
    sql = "SELECT value FROM lat.live"
    before = deployment.cache()
    mark = deployment.log.mark()
    for _ in range(3):
        assert deployment.rows(sql) == [(1,)]
    assert len(deployment.log.reading(mark, '"live"')) == 3
    after = deployment.cache()
    assert after["stores"] == before["stores"] and after["entries"] == before["entries"]
    assert deployment.cache_hits("eu", sql) == [False, False, False]


def test_cache_view_counts_hits_and_misses(deployment: Deployment) -> None:
    sql = "SELECT count(*) FROM lat.readings WHERE value > 30"
    before = deployment.cache()
    deployment.rows(sql)
    deployment.rows(sql)
    after = deployment.cache()
    assert after["misses"] - before["misses"] == 1
    assert after["hits"] - before["hits"] == 1
    assert after["stores"] - before["stores"] == 1
    assert after["entries"] - before["entries"] == 1
    assert after["bytes"] > before["bytes"]


def test_a_federated_repeat_reads_no_source(deployment: Deployment) -> None:
    sql = "SELECT r.name, sum(x.value) FROM lat.readings x JOIN ref.regions r ON r.code = x.region GROUP BY 1"
    mark = deployment.log.mark()
    first = deployment.rows(sql)
    second = deployment.rows(sql)
    assert first == second == [("Europe", sum(v for _, region, v in READINGS if region == "EU"))]
    assert len(deployment.log.reading(mark, '"readings"')) == 1
    assert deployment.cache_hits("eu", sql) == [False, True]


def test_a_lowered_latency_applies_at_once(
    postgres_dsn: str, deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A config reload that lowers a table's latency makes entries already cached too old."""
    directory = tmp_path_factory.mktemp("latency-reload")
    deployment.behind_veils_back("CREATE TABLE IF NOT EXISTS lat.settled AS SELECT 1 AS value")
    pg = postgres_connection(deployment.dsn)
    duckdb.connect(str(directory / "wh.duckdb")).close()
    config = latency_config(pg, directory / "wh.duckdb")
    config["tables"] = {"pg.lat.settled": {"latency": "1h"}}
    process, server = start_server(directory, config)
    try:
        other = Deployment(server, deployment.log, deployment.dsn)
        sql = "SELECT value FROM lat.settled"
        assert other.rows(sql) == [(1,)]
        deployment.behind_veils_back("UPDATE lat.settled SET value = 2")
        assert other.rows(sql) == [(1,)], "within the latency of one hour"
        config["tables"] = {"pg.lat.settled": {"latency": "200ms"}}
        server.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "configuration reloaded" in server.log_path.read_text()
        time.sleep(0.3)
        assert other.rows(sql) == [(2,)], "the entry is older than the new latency"
    finally:
        stop_server(process)
