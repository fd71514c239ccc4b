"""Object sync across server lifetimes: the store survives restarts, `sync.interval` runs inside
`veil serve`, a bad connection neither stops the server nor hides other sources, a naming
collision is reported and the later table skipped, DuckDB files changed between runs."""

from __future__ import annotations

from collections.abc import Iterator
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
    write_config,
)
from tests.config.support import users_and_policies
from tests.conftest import free_port, postgres_connection, start_server, stop_server


@pytest.fixture(scope="module")
def dsn(postgres_dsn: str) -> Iterator[str]:
    with private_database(postgres_dsn, "veil_catalog_serve") as dsn:
        ddl(
            dsn,
            "CREATE SCHEMA app",
            "CREATE TABLE app.users (id int, name text)",
            "INSERT INTO app.users VALUES (1, 'Ada'), (2, 'Linus')",
            "CREATE SCHEMA audit",
            "CREATE TABLE audit.users (at timestamptz)",
        )
        yield dsn


def test_new_flag_survives_a_restart(dsn: str, tmp_path: Path) -> None:
    config = {"server": {"host": "127.0.0.1", "port": 0},
              "connections": {"pg": postgres_connection(dsn, population={"schemas": ["app"]})}, **users_and_policies()}
    process, server = start_server(tmp_path, config)
    try:
        ddl(dsn, "CREATE TABLE app.restart (id int)", "INSERT INTO app.restart VALUES (7)")
        assert ("table_added", "pg.app.restart") in {(k, o) for k, o, _ in rows(server, "SELECT * FROM veil.sync('pg')", "root")}
        ddl(dsn, "ALTER TABLE app.restart ADD COLUMN secret text", "UPDATE app.restart SET secret = 's'")
        assert rows(server, "SELECT kind, object FROM veil.sync('pg')", "root") == [("column_added", "pg.app.restart.secret")]
        assert rows(server, "SELECT id, secret FROM app.restart") == [(7, None)]
    finally:
        stop_server(process)
    process, server = start_server(tmp_path, config)
    try:
        assert rows(server, "SELECT id, secret FROM app.restart") == [(7, None)], "the New flag persisted"
        history = rows(server, "SELECT count(*) FROM veil.sync('pg')", "root")
        assert history == [(0,)], "the startup sync found nothing new"
        assert veil("approve", "-c", str(server.config_path), "pg.app.restart").returncode == 0
        eventually(lambda: rows(server, "SELECT id, secret FROM app.restart") == [(7, "s")])
    finally:
        stop_server(process)


def test_serve_syncs_on_its_interval(dsn: str, tmp_path: Path) -> None:
    connection = postgres_connection(dsn, population={"tables": ["app.interval*"]}, sync={"interval": "1s"})
    ddl(dsn, "CREATE TABLE app.interval_t (id int)", "INSERT INTO app.interval_t VALUES (1)")
    process, server = start_server(tmp_path, {"server": {"host": "127.0.0.1", "port": 0},
                                              "connections": {"pg": connection}, **users_and_policies()})
    try:
        assert rows(server, "SELECT * FROM app.interval_t") == [(1,)]
        ddl(dsn, "ALTER TABLE app.interval_t ADD COLUMN extra int", "UPDATE app.interval_t SET extra = 5",
            "CREATE TABLE app.interval_new (k int)")
        eventually(lambda: rows(server, "SELECT id, extra FROM app.interval_t") == [(1, None)], timeout=10)
        eventually(lambda: rows(server, "SELECT count(*) FROM app.interval_new") == [(0,)], timeout=10)
        ddl(dsn, "DROP TABLE app.interval_new")
        eventually(lambda: not rows(server, "SELECT 1 FROM veil.tables WHERE \"table\" = 'interval_new'", "root"))
        with pytest.raises(psycopg.errors.UndefinedTable):
            rows(server, "SELECT * FROM app.interval_new")
    finally:
        stop_server(process)


def test_bad_connection_is_reported_and_the_others_are_served(dsn: str, tmp_path: Path) -> None:
    wh = duckdb_file(tmp_path / "wh.duckdb", "CREATE TABLE t AS SELECT 1 AS one")
    bad = postgres_connection(dsn, port=free_port())
    config = {"server": {"host": "127.0.0.1", "port": 0},
              "connections": {"pg": postgres_connection(dsn, population={"schemas": ["app"]}), "bad": bad,
                              "warehouse": {"type": "duckdb", "path": str(wh)}},
              **users_and_policies()}
    checked = veil("check", "-c", str(write_config(tmp_path, config)))
    assert checked.returncode == 1
    assert "Connection refused" in checked.stdout and "connections.bad.port" in checked.stdout, checked.stdout
    assert checked.stdout.count(" ok ") == 2, checked.stdout

    process, server = start_server(tmp_path, config)
    try:
        assert rows(server, "SELECT name FROM app.users ORDER BY id") == [("Ada",), ("Linus",)]
        assert rows(server, "SELECT one FROM main.t") == [(1,)]
        assert "connection bad unavailable" in server.log_path.read_text()
        with pytest.raises(psycopg.errors.ConnectionFailure) as failed:
            rows(server, "SELECT * FROM veil.sync('bad')", "root")
        assert "connections.bad.port" in (failed.value.diag.message_hint or "")
        assert rows(server, "SELECT count(*) FROM veil.sync('pg')", "root") == [(0,)]
        synced = veil("sync", "-c", str(server.config_path))
        assert synced.returncode == 1 and "failed" in synced.stdout and "no changes" in synced.stdout
    finally:
        stop_server(process)


def test_naming_collision_is_reported_and_the_second_table_skipped(dsn: str, tmp_path: Path) -> None:
    flat = postgres_connection(dsn, naming={"schema": "flat", "table": "<tablename>"},
                         population={"tables": ["app.users", "audit.users"]})
    path = write_config(tmp_path, {"connections": {"pg": flat}, **users_and_policies()})
    synced = veil("sync", "-c", str(path))
    assert synced.returncode == 0, synced.stderr
    assert "name_collision" in synced.stdout and "pg.audit.users" in synced.stdout, synced.stdout
    assert "flat.users is already served from pg.app.users" in synced.stdout
    status = veil("status", "-c", str(path))
    assert "name taken by pg.app.users" in status.stdout
    process, server = start_server(tmp_path, {"server": {"host": "127.0.0.1", "port": 0},
                                              "connections": {"pg": flat}, **users_and_policies()})
    try:
        assert rows(server, "SELECT name FROM flat.users ORDER BY id") == [("Ada",), ("Linus",)]
        skipped = rows(server, "SELECT collision FROM veil.tables WHERE source_schema = 'audit'", "root")
        assert skipped == [("pg.app.users",)]
        assert "name collision on flat.users" in server.log_path.read_text()
    finally:
        stop_server(process)


def test_duckdb_file_changed_between_runs(tmp_path: Path) -> None:
    one = duckdb_file(tmp_path / "one.duckdb", "CREATE TABLE a (x INTEGER)", "INSERT INTO a VALUES (1)")
    two = duckdb_file(tmp_path / "two.duckdb", "CREATE SCHEMA s", "CREATE TABLE s.b (y VARCHAR)")
    config = {"server": {"host": "127.0.0.1", "port": 0},
              "connections": {"one": {"type": "duckdb", "path": str(one)}, "two": {"type": "duckdb", "path": str(two)}},
              **users_and_policies()}
    process, server = start_server(tmp_path, config)
    try:
        assert rows(server, "SELECT x FROM main.a") == [(1,)]
        assert rows(server, "SELECT count(*) FROM s.b") == [(0,)]
    finally:
        stop_server(process)
    duckdb_file(one, "ALTER TABLE a ADD COLUMN secret VARCHAR", "UPDATE a SET secret = 'top'")
    duckdb_file(two, "DROP TABLE s.b", "CREATE TABLE s.c (z INTEGER)")
    result = veil("sync", "-c", str(server.config_path))
    assert result.returncode == 0, result.stderr
    for expected in ("one.main.a.secret", "two.s.b", "two.s.c"):
        assert expected in result.stdout, result.stdout
    process, server = start_server(tmp_path, config)
    try:
        assert rows(server, "SELECT x, secret FROM main.a") == [(1, None)]
        with pytest.raises(psycopg.errors.UndefinedTable):
            rows(server, "SELECT * FROM s.b")
        assert rows(server, "SELECT count(*) FROM s.c") == [(0,)]
    finally:
        stop_server(process)
