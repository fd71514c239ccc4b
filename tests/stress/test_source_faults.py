"""Source faults against a real PostgreSQL and a running `veil serve`: each one ends the affected
statement with PostgreSQL's SQLSTATE for it, in bounded time, and the session, the other sessions
and the other sources keep working.

``far`` reaches its database through a TCP proxy the tests control (tests/stress/tcpproxy.py) to
stall it or refuse connections; ``near`` is reached directly; ``lake`` is a DuckDB file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from tests.catalog.support import ddl, duckdb_file, private_database
from tests.config.support import users_and_policies
from tests.conftest import PASSWORDS, VeilServer, postgres_connection, start_server, stop_server
from tests.stress.tcpproxy import TcpProxy, black_hole

NEAR_TIMEOUT = 4.0
FAR_TIMEOUT = 3.0
SLACK = 6.0  # scheduling on a loaded 2-core machine


@dataclass
class Faults:
    server: VeilServer
    near: str  # DSN of near's database
    proxy: TcpProxy
    config: dict[str, Any]

    def connect(self, user: str = "alice") -> psycopg.Connection[Any]:
        password = PASSWORDS["alice"] if user == "carol" else None  # carol is added as alice's twin
        return psycopg.connect(self.server.dsn(user, password), autocommit=True, connect_timeout=10)

    def rows(self, sql: str, user: str = "alice") -> list[tuple[Any, ...]]:
        with self.connect(user) as connection:
            return connection.execute(sql).fetchall()

    def sqlstate(self, sql: str, user: str = "alice") -> tuple[str | None, float]:
        started = time.monotonic()
        with self.connect(user) as connection:
            try:
                connection.execute(sql).fetchall()
            except psycopg.Error as error:
                return error.sqlstate, time.monotonic() - started
        return None, time.monotonic() - started

    def reload(self, config: dict[str, Any]) -> None:
        self.server.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")


@pytest.fixture(scope="module")
def faults(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    directory = tmp_path_factory.mktemp("faults")
    with private_database(postgres_dsn, "veil_faults_near") as near, private_database(postgres_dsn, "veil_faults_far") as far:
        ddl(near, "CREATE SCHEMA near", "CREATE TABLE near.items AS SELECT i AS id FROM generate_series(1, 10) i",
            "CREATE TABLE near.locked AS SELECT i AS id FROM generate_series(1, 3) i",
            "CREATE VIEW near.slow AS SELECT i AS id, pg_sleep(1.5)::text AS slept FROM generate_series(1, 2) i")
        ddl(far, "CREATE SCHEMA far", "CREATE TABLE far.items AS SELECT i AS id FROM generate_series(1, 5) i",
            "CREATE VIEW far.slow AS SELECT i AS id, pg_sleep(1)::text AS slept FROM generate_series(1, 1) i")
        lake = duckdb_file(directory / "local.duckdb", "CREATE SCHEMA lake", "CREATE TABLE lake.events AS SELECT 42 AS n")
        params = conninfo_to_dict(far)
        proxy = TcpProxy((str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))).start()
        config: dict[str, Any] = {
            "server": {"host": "127.0.0.1", "port": 0},
            "connections": {
                "near": postgres_connection(near, statement_timeout=f"{NEAR_TIMEOUT}s"),
                "far": postgres_connection(far, host="127.0.0.1", port=proxy.port, statement_timeout=f"{FAR_TIMEOUT}s",
                                           connect_timeout="2s"),
                "lake": {"type": "duckdb", "path": str(lake)},
            },
            "cache": {"default_latency": 0},  # every statement reaches its source
            **users_and_policies(),
        }
        process, server = start_server(directory, config)
        try:
            yield Faults(server, near, proxy, config)
        finally:
            stop_server(process)
            proxy.close()


def test_every_source_serves(faults: Faults) -> None:
    assert faults.rows("SELECT count(*) FROM near.items") == [(10,)]
    assert faults.rows("SELECT count(*) FROM far.items") == [(5,)]
    assert faults.rows("SELECT n FROM lake.events") == [(42,)]


def test_a_terminated_backend_is_57P01_and_the_next_statement_works(faults: Faults) -> None:
    def terminate() -> None:
        with psycopg.connect(faults.near, autocommit=True) as admin:
            for _ in range(100):
                pids = admin.execute("SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                                     "AND datname = current_database()").fetchall()
                if pids:
                    admin.execute("SELECT pg_terminate_backend(%s)", pids[0])
                    return
                time.sleep(0.05)

    with faults.connect() as connection:
        killer = threading.Thread(target=terminate)
        killer.start()
        with pytest.raises(psycopg.Error) as raised:
            connection.execute("SELECT id, slept FROM near.slow").fetchall()
        killer.join()
        assert raised.value.sqlstate == "57P01", raised.value
        assert "terminating connection due to administrator command" in str(raised.value)
        # the Veil session is not the terminated backend: it keeps serving, from a fresh source connection
        assert connection.execute("SELECT count(*) FROM near.items").fetchall() == [(10,)]


def test_a_locked_table_times_out_with_57014(faults: Faults) -> None:
    assert faults.rows("SELECT count(*) FROM near.locked") == [(3,)]  # planned while unlocked
    with psycopg.connect(faults.near) as locker:
        locker.execute("LOCK TABLE near.locked IN ACCESS EXCLUSIVE MODE")
        with faults.connect() as connection:
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled) as raised:
                connection.execute("SELECT count(*) FROM near.locked").fetchall()
            elapsed = time.monotonic() - started
            assert raised.value.sqlstate == "57014"
            assert "statement timeout" in str(raised.value)
            assert NEAR_TIMEOUT - 0.5 <= elapsed <= NEAR_TIMEOUT + SLACK
            locker.rollback()
            assert connection.execute("SELECT count(*) FROM near.locked").fetchall() == [(3,)]


def test_a_source_that_stops_answering_mid_statement_times_out_and_others_keep_serving(faults: Faults) -> None:
    assert faults.rows("SELECT id FROM far.slow") == [(1,)]  # planned (described) while the proxy forwards
    outcome: dict[str, Any] = {}

    def query() -> None:
        outcome["sqlstate"], outcome["elapsed"] = faults.sqlstate("SELECT id FROM far.slow")

    client = threading.Thread(target=query)
    try:
        client.start()
        time.sleep(0.4)  # the statement reached PostgreSQL; its rows (due after 1 s) will not get through
        faults.proxy.stall()
        started = time.monotonic()
        assert faults.rows("SELECT n FROM lake.events") == [(42,)]
        assert faults.rows("SELECT count(*) FROM near.items") == [(10,)]
        assert time.monotonic() - started < FAR_TIMEOUT, "other sources must answer while far is stalled"
        client.join(FAR_TIMEOUT + SLACK + 5)
        assert not client.is_alive(), "the stalled statement never ended"
        assert outcome["sqlstate"] == "57014"
        assert outcome["elapsed"] <= FAR_TIMEOUT + SLACK
        # a statement not planned yet must reach the silent source to be described: it needs a new
        # connection (the pooled one is stuck), which fails after connect_timeout (08006); on a
        # connection that opened, the describe would end after statement_timeout (57014)
        sqlstate, elapsed = faults.sqlstate("SELECT count(*) FROM far.items WHERE id > 2")
        assert sqlstate in ("08006", "57014") and elapsed <= FAR_TIMEOUT + SLACK, (sqlstate, elapsed)
    finally:
        faults.proxy.resume()
    assert faults.rows("SELECT count(*) FROM far.items") == [(5,)]


def test_a_cross_source_join_with_a_silent_source_times_out(faults: Faults) -> None:
    join = "SELECT count(*) FROM far.items f JOIN near.items n ON f.id = n.id"
    assert faults.rows(join) == [(5,)]  # planned while the proxy forwards
    faults.proxy.stall()
    try:
        sqlstate, elapsed = faults.sqlstate(join)
        assert sqlstate == "57014" and elapsed <= max(FAR_TIMEOUT, NEAR_TIMEOUT) + SLACK, (sqlstate, elapsed)
        assert faults.rows("SELECT count(*) FROM near.items") == [(10,)]
    finally:
        faults.proxy.resume()
    _until(lambda: faults.rows(join) == [(5,)], "the join did not work again")


def test_a_refused_source_reports_08xxx_and_keeps_its_tables_across_a_reload(faults: Faults) -> None:
    faults.proxy.refuse()
    try:
        sqlstate, elapsed = faults.sqlstate("SELECT count(*) FROM far.items")
        assert sqlstate is not None and sqlstate.startswith("08"), sqlstate
        assert elapsed < FAR_TIMEOUT + SLACK
        # a reload that touches far (and adds a marker user) while far refuses connections
        changed = yaml.safe_load(yaml.safe_dump(faults.config))
        changed["connections"]["far"]["statement_timeout"] = "3500ms"
        changed["users"]["carol"] = dict(changed["users"]["alice"])
        faults.reload(changed)
        _until(lambda: faults.rows("SELECT 1", "carol") == [(1,)], "the reload was not applied")
        time.sleep(1)
        sqlstate, _ = faults.sqlstate("SELECT count(*) FROM far.items")
        assert sqlstate is not None and sqlstate.startswith("08"), f"far.items must stay known: got {sqlstate}"
        assert faults.rows("SELECT count(*) FROM near.items") == [(10,)]
    finally:
        faults.proxy.start()
    _until(lambda: faults.rows("SELECT count(*) FROM far.items") == [(5,)], "far did not come back")


def test_a_reload_onto_a_black_hole_does_not_delay_a_revocation(faults: Faults) -> None:
    assert faults.rows("SELECT count(*) FROM near.items") == [(10,)]
    with black_hole() as port:
        revoked = yaml.safe_load(yaml.safe_dump(faults.config))
        revoked["connections"]["far"].update(port=port, connect_timeout="20s")
        revoked["policies"] = [{"name": "Root only", "subscription": {"tables": ["*"], "allow": {"users": ["root"]}}}]
        written = time.monotonic()
        faults.reload(revoked)
        _until(lambda: faults.sqlstate("SELECT count(*) FROM near.items")[0] in ("42501", "42P01"),
               "the revocation was not applied", timeout=8)
        assert time.monotonic() - written < 8
        assert faults.rows("SELECT count(*) FROM near.items", "root") == [(10,)]
        faults.reload(faults.config)
        _until(lambda: faults.rows("SELECT count(*) FROM near.items") == [(10,)], "access did not come back")


def _until(check: Any, message: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except psycopg.Error:
            pass
        time.sleep(0.2)
    raise AssertionError(message)


def test_the_server_log_has_no_traceback(faults: Faults) -> None:
    log = Path(faults.server.log_path).read_text()
    assert "Traceback" not in log, log[-4000:]
