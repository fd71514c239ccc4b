"""Statements that used to stall or break the server: a huge one, a deeply nested one, a long
flat chain. Each gets a clear PostgreSQL error (or its answer), the session goes on, other
sessions are answered meanwhile, and the server log has no traceback."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer


def _sqlstate(server: VeilServer, sql: str) -> tuple[str | None, psycopg.Connection[object]]:
    connection = psycopg.connect(server.dsn(), autocommit=True)
    try:
        connection.execute(sql).fetchall()
    except psycopg.Error as error:
        return error.sqlstate, connection
    return None, connection


def test_a_statement_over_max_statement_bytes_is_54000_and_the_session_goes_on(veil_server: VeilServer) -> None:
    huge = "SELECT id FROM sales.orders WHERE customer IN (" + ", ".join(["'x'"] * 400_000) + ")"  # ~2 MB
    sqlstate, connection = _sqlstate(veil_server, huge)
    with connection:
        assert sqlstate == "54000"
        assert connection.execute("SELECT count(*) FROM sales.orders").fetchall() == [(4,)]
    with psycopg.connect(veil_server.dsn(), autocommit=True) as extended, pytest.raises(psycopg.Error) as raised:
        extended.execute(huge, prepare=True)  # Parse message
    assert raised.value.sqlstate == "54000"


def test_deep_nesting_is_54001_stack_depth_limit_exceeded(veil_server: VeilServer) -> None:
    for depth in (150, 1000, 20_000):
        sqlstate, connection = _sqlstate(veil_server, "SELECT " + "(" * depth + "1" + ")" * depth)
        with connection:
            assert sqlstate == "54001", depth
            assert connection.execute("SELECT 1").fetchall() == [(1,)]


def test_a_long_flat_chain_is_answered_or_54001_never_an_internal_error(veil_server: VeilServer) -> None:
    for terms in (2_000, 20_000):
        chain = "SELECT count(*) FROM sales.orders WHERE " + " OR ".join(f"id = {i}" for i in range(terms))
        sqlstate, connection = _sqlstate(veil_server, chain)
        with connection:
            assert sqlstate in (None, "54001"), (terms, sqlstate)
            assert connection.execute("SELECT 1").fetchall() == [(1,)]


def test_other_sessions_are_answered_while_a_big_statement_is_parsed(veil_server: VeilServer) -> None:
    big = "SELECT count(*) FROM sales.orders WHERE id IN (" + ", ".join(str(i) for i in range(130_000)) + ")"
    assert 800_000 < len(big) < 1024 * 1024
    done = threading.Event()
    outcome: dict[str, object] = {}

    def run_big() -> None:
        started = time.monotonic()
        try:
            outcome["sqlstate"], connection = _sqlstate(veil_server, big)
            connection.close()
        finally:
            outcome["seconds"] = time.monotonic() - started
            done.set()

    latencies: list[float] = []
    with psycopg.connect(veil_server.dsn(), autocommit=True) as health:
        health.execute("SELECT 1").fetchall()
        worker = threading.Thread(target=run_big)
        worker.start()
        time.sleep(0.1)
        while not done.is_set():
            started = time.monotonic()
            assert health.execute("SELECT 1").fetchall() == [(1,)]
            latencies.append(time.monotonic() - started)
            time.sleep(0.02)
        worker.join()
    assert outcome["sqlstate"] is None
    answered = [t for t in latencies if t < 0.5]
    assert len(answered) >= 3, f"health queries while the big one ran ({outcome['seconds']:.2f}s): {latencies}"
    print(f"big statement {len(big)} bytes in {outcome['seconds']:.2f}s; {len(latencies)} health queries, "
          f"max {max(latencies) * 1000:.1f} ms, median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms")


def test_no_traceback_in_the_server_log(veil_server: VeilServer) -> None:
    log = Path(veil_server.log_path).read_text()
    assert "Traceback" not in log and "RecursionError" not in log, log[-4000:]
