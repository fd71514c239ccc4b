"""A pooled PostgreSQL connection carries nothing from one query to the next.

The allow-list refuses session-changing functions, but the pool must not depend on it: here the
first query calls them directly through the source (as a function that slipped past the lists
would), and the next query on the same pooled connection (same backend pid) must find a fresh
session: default settings, no custom variables, no advisory locks held.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import scratch_database
from veil.catalog.sources.base import drain
from veil.catalog.sources.postgres.source import PostgresSource
from veil.config.models import ConnectionConfig

DATABASE = "veil_security_pool_reset"


@pytest.fixture(scope="module")
def source(postgres_dsn: str) -> Iterator[tuple[PostgresSource, str]]:
    dsn = scratch_database(postgres_dsn, DATABASE)
    params = conninfo_to_dict(dsn)
    config = ConnectionConfig(
        type="postgres", host=params.get("host", "127.0.0.1"), port=int(params.get("port", 5432)),
        database=DATABASE, user=params.get("user", "postgres"), password=params.get("password"),
    )
    source = PostgresSource("pg", config)
    try:
        yield source, dsn
    finally:
        source.close()


def run(source: PostgresSource, sql: str) -> list[dict[str, object]]:
    cursor = source.cursor()
    try:
        return drain(cursor.execute(sql)).to_pylist()
    finally:
        cursor.close()


def test_settings_and_locks_do_not_reach_the_next_query(source: tuple[PostgresSource, str]) -> None:
    pg, dsn = source
    (first,) = run(
        pg,
        "SELECT pg_backend_pid() AS pid, set_config('statement_timeout', '1234', false) AS t, "
        "set_config('veil.probe', 'leaked-secret', false) AS p, set_config('search_path', 'pg_temp', false) AS s, "
        "pg_advisory_lock(4242) IS NOT NULL AS locked",
    )
    (second,) = run(
        pg,
        "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS t, "
        "current_setting('veil.probe', true) AS p, current_setting('search_path') AS s",
    )
    assert second["pid"] == first["pid"], "the second query did not reuse the pooled connection"
    assert second["t"] == "5min", "the timeout a query set leaked (5min: the connection's own statement_timeout)"
    assert second["p"] in (None, ""), "a custom setting leaked into the next query"
    assert second["s"] == '"$user", public'
    with psycopg.connect(dsn, autocommit=True) as admin:
        held = admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", (first["pid"],)
        ).fetchone()
    assert held == (0,), "the advisory lock outlived its query"


def test_a_pooled_connection_that_cannot_be_reset_is_replaced(source: tuple[PostgresSource, str]) -> None:
    pg, dsn = source
    (first,) = run(pg, "SELECT pg_backend_pid() AS pid")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first["pid"],))
    (second,) = run(pg, "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS t")
    assert second["pid"] != first["pid"]
    assert second["t"] == "5min"  # the connection's own statement_timeout, set at startup
