"""A locked source cannot take every worker: real `veil serve`, real PostgreSQL, real psycopg.

A plain PostgreSQL session holds an ACCESS EXCLUSIVE lock on a table, so every statement that
reads it blocks inside PostgreSQL. More such statements are fired through Veil than the
connection's ``max_concurrency`` (2); at most that many reach PostgreSQL, the rest wait in the
source's queue without a worker thread (so even more than Veil's 64 workers could not starve the
other sources). A
DuckDB-source query and ``SELECT 1`` answer while the locked statements wait, and once the lock
is released every waiting statement completes with the table's rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import VeilServer, postgres_connection, scratch_database, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

DATABASE = "veil_fairness"
PASSWORD = "pw"
LIMIT = 2
BLOCKED = 3 * LIMIT + 2


@dataclass
class Fairness:
    server: VeilServer
    dsn: str


@pytest.fixture(scope="module")
def fairness(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fairness]:
    directory = tmp_path_factory.mktemp("fairness")
    dsn = scratch_database(postgres_dsn, DATABASE)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA busy")
        connection.execute("CREATE TABLE busy.accounts (id int PRIMARY KEY, owner text)")
        connection.execute("INSERT INTO busy.accounts SELECT i, 'owner ' || i FROM generate_series(1, 5) i")
    warehouse = directory / "wh.duckdb"
    local = duckdb.connect(str(warehouse))
    local.execute("CREATE SCHEMA ref; CREATE TABLE ref.colours AS SELECT * FROM (VALUES ('red'), ('blue')) t(name)")
    local.close()
    config = {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": "busy, ref, public"},
        "connections": {
            "pg": postgres_connection(dsn, latency=0, max_concurrency=LIMIT),
            "warehouse": {"type": "duckdb", "path": str(warehouse), "latency": 0},
        },
        "users": {"analyst": {"password": make_scram_verifier(PASSWORD), "groups": ["Analytics"]}},
        "policies": [{"name": "all", "subscription": {"tables": ["*"], "allow": {"groups": ["Analytics"]}}}],
    }
    process, server = start_server(Path(directory), config)
    try:
        yield Fairness(server, dsn)
    finally:
        stop_server(process)


@dataclass
class Outcomes:
    rows: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read_locked(server: VeilServer, outcomes: Outcomes) -> None:
    try:
        with psycopg.connect(**server.kwargs("analyst", PASSWORD), autocommit=True, connect_timeout=30) as connection:
            count = len(connection.execute("SELECT id, owner FROM busy.accounts").fetchall())
        with outcomes.lock:
            outcomes.rows.append(count)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        with outcomes.lock:
            outcomes.errors.append(exc)


def test_locked_source_leaves_other_sources_and_catalog_running(fairness: Fairness) -> None:
    holder = psycopg.connect(fairness.dsn)
    holder.execute("LOCK TABLE busy.accounts IN ACCESS EXCLUSIVE MODE")
    outcomes = Outcomes()
    threads = [threading.Thread(target=_read_locked, args=(fairness.server, outcomes)) for _ in range(BLOCKED)]
    try:
        for thread in threads:
            thread.start()
        with psycopg.connect(dbname=DATABASE, **_admin(fairness.dsn), autocommit=True) as admin:
            waiting = 0
            for _ in range(300):  # until the per-source limit's worth of statements wait on the lock
                waiting = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
                    (DATABASE,),
                ).fetchone()[0]
                if waiting >= LIMIT:
                    break
                threading.Event().wait(0.1)
            assert waiting >= LIMIT
        with psycopg.connect(**fairness.server.kwargs("analyst", PASSWORD), autocommit=True) as client:
            assert client.execute("SELECT 1").fetchone() == (1,)
            colours = client.execute("SELECT name FROM ref.colours ORDER BY name").fetchall()
            assert colours == [("blue",), ("red",)]
        assert not outcomes.rows, "a statement on the locked table finished while the lock was held"
        with psycopg.connect(dbname=DATABASE, **_admin(fairness.dsn), autocommit=True) as admin:
            on_source = [row[0] for row in admin.execute(
                "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s", (DATABASE,)
            )]
        assert len(on_source) <= LIMIT, f"{on_source} reached the source, max_concurrency is {LIMIT}"
    finally:
        holder.rollback()
        holder.close()
        for thread in threads:
            thread.join(timeout=120)
    assert not outcomes.errors, outcomes.errors[:3]
    assert outcomes.rows == [5] * BLOCKED


def _admin(dsn: str) -> dict[str, str]:
    return {key: str(value) for key, value in conninfo_to_dict(dsn).items() if key != "dbname"}
