"""Real drivers against an in-process Veil over the real engine and the test warehouse."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from decimal import Decimal
from typing import Any

import asyncpg
import pandas as pd
import psycopg
import psycopg2
import pytest
import sqlalchemy as sa
from psycopg import pq

from tests.conftest import PASSWORDS, require_tool
from tests.proxy import pgclient
from tests.proxy.conftest import EngineServerFactory, ServerThread, TlsFiles
from tests.proxy.pgclient import RawClient, kinds


def dsn(server: ServerThread, user: str = "alice", password: str | None = None, **params: str) -> str:
    secret = PASSWORDS.get(user, "") if password is None else password
    options = {"sslmode": "disable", **params}
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"postgresql://{user}:{secret}@127.0.0.1:{server.port}/veil?{query}"


# --- psycopg 3 ----------------------------------------------------------------------------


def test_psycopg_text_query_and_parameters(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil)) as conn:
        rows = conn.execute("SELECT id, customer FROM orders ORDER BY id").fetchall()
        assert rows[:2] == [(1, "Ada"), (2, "Grace")]
        assert rows[3] == (4, "Zoë ünïcode")
        row = conn.execute("SELECT customer FROM orders WHERE id = %s", (2,)).fetchone()
        assert row == ("Grace",)
        named = conn.execute("SELECT count(*) FROM customers WHERE country = %(c)s", {"c": "US"}).fetchone()
        assert named is not None and named[0] > 0
        assert conn.info.parameter_status("server_version") == "15.8"


def test_psycopg_prepared_statement_reuse(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil), prepare_threshold=0) as conn:
        for i in range(1, 5):
            row = conn.execute("SELECT id FROM orders WHERE id = %s", (i,)).fetchone()
            assert row == (i,)


def test_psycopg_binary_cursor(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil)) as conn:
        cur = conn.cursor(binary=True)
        cur.execute("SELECT id, customer, amount, created FROM orders WHERE id = %s", (1,))
        row = cur.fetchone()
        assert row is not None and row[:3] == (1, "Ada", Decimal("12.50"))
        assert row[3].year == 2024 and row[3].microsecond == 123456
        assert cur.pgresult is not None and cur.pgresult.fformat(0) == pq.Format.BINARY


def test_psycopg_pipeline(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil)) as conn, conn.pipeline():
        cursors = [conn.execute("SELECT id FROM orders WHERE id = %s", (i,)) for i in (1, 2, 3)]
        bad = conn.cursor()
        results = [cur.fetchone() for cur in cursors]
        assert results == [(1,), (2,), (3,)]
        del bad


def test_psycopg_bad_sql_then_connection_still_works(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            conn.execute("SELEC 1")
        assert info.value.sqlstate == "42601"
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_psycopg_error_in_transaction_until_rollback(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil)) as conn:
        conn.execute("SELECT 1")
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT * FROM no_such_table")
        assert conn.info.transaction_status == pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("user", ["alice", "nobody"])
def test_wrong_password_and_unknown_user(veil: ServerThread, user: str) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn(veil, user, password="wrong"))
    assert f'password authentication failed for user "{user}"' in str(info.value)


def test_md5_hash_cannot_log_in_under_scram_but_can_under_md5(engine_servers: EngineServerFactory) -> None:
    """As in PostgreSQL: an md5-hashed password cannot answer a SCRAM exchange."""
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn(engine_servers(), "bob"))
    assert 'password authentication failed for user "bob"' in str(info.value)
    server = engine_servers(auth="md5")
    with psycopg.connect(dsn(server, "bob")) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (100,)
    with psycopg.connect(dsn(server, "alice")) as conn:  # a SCRAM verifier upgrades md5 to SCRAM
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_cancel_long_query_while_another_session_works(veil: ServerThread) -> None:
    with psycopg.connect(dsn(veil), autocommit=True) as victim, psycopg.connect(dsn(veil)) as other:
        timer = threading.Timer(1.0, victim.cancel_safe)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            victim.execute(
                "SELECT count(*) FROM big a, big b WHERE (a.id * 7 + b.id) % 1000003 = 17"
            ).fetchall()
        assert time.monotonic() - started < 30
        assert other.execute("SELECT count(*) FROM orders").fetchone() == (4,)
        assert victim.execute("SELECT 1").fetchone() == (1,)


# --- psycopg2, SQLAlchemy, pandas ----------------------------------------------------------


def test_psycopg2(veil: ServerThread) -> None:
    conn = psycopg2.connect(dsn(veil))
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, customer, amount FROM orders WHERE id = %s", (1,))
        assert cur.fetchone() == (1, "Ada", Decimal("12.50"))
        cur.execute("SELECT count(*) FROM big")
        assert cur.fetchone() == (200000,)
        conn.rollback()
    finally:
        conn.close()


def test_sqlalchemy_and_pandas(veil: ServerThread) -> None:
    url = dsn(veil).replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.text("SELECT customer FROM orders WHERE id = :i"), {"i": 3}).scalar()
            assert value == "Linus"
            frame = pd.read_sql("SELECT id, country FROM customers ORDER BY id", conn)
        assert len(frame) == 100 and list(frame.columns) == ["id", "country"]
    finally:
        engine.dispose()


# --- asyncpg ------------------------------------------------------------------------------


async def test_asyncpg(veil: ServerThread) -> None:
    conn = await asyncpg.connect(dsn(veil))
    try:
        assert await conn.fetchval("SELECT customer FROM orders WHERE id = $1", 2) == "Grace"
        statement = await conn.prepare("SELECT id, amount FROM orders WHERE id = $1")
        assert await statement.fetchrow(1) == (1, Decimal("12.50"))
        assert await statement.fetchrow(2) == (2, Decimal("100.00"))
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await conn.fetch("SELEC 1")
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def test_asyncpg_pool_acquire_release_twice(veil: ServerThread) -> None:
    pool = await asyncpg.create_pool(dsn(veil), min_size=1, max_size=1)
    try:
        for _ in range(2):
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM orders") == 4
    finally:
        await pool.close()


# --- psql ---------------------------------------------------------------------------------


def psql(
    server: ServerThread, *args: str, user: str = "alice", sslmode: str = "disable", **env: str
) -> subprocess.CompletedProcess[str]:
    binary = require_tool("psql")
    conninfo = f"host=127.0.0.1 port={server.port} dbname=veil user={user} sslmode={sslmode}"
    return subprocess.run(
        [binary, "-X", "-A", "-t", conninfo, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PGPASSWORD": PASSWORDS.get(user, ""), "PATH": "/usr/bin:/bin", "LANG": "C", **env},
    )


def test_psql(veil: ServerThread) -> None:
    result = psql(veil, "-c", "SELECT customer FROM orders WHERE id = 1", "-c", "SELECT 1; SELECT 2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Ada", "1", "2"]


def test_psql_error_message(veil: ServerThread) -> None:
    result = psql(veil, "-c", "SELECT * FROM nope")
    assert result.returncode == 1
    assert "nope" in result.stderr and "does not exist" in result.stderr


def test_psql_wrong_password(veil: ServerThread) -> None:
    result = psql(veil, "-c", "SELECT 1", PGPASSWORD="bad")
    assert result.returncode == 2
    assert 'password authentication failed for user "alice"' in result.stderr


# --- TLS ----------------------------------------------------------------------------------


def test_psql_over_tls_with_channel_binding(engine_servers: EngineServerFactory) -> None:
    server = engine_servers(tls=True)
    result = psql(server, "-c", "SELECT ssl_check", sslmode="require")
    assert "ssl_check" in result.stderr  # the query ran: the column does not exist
    result = psql(server, "-c", "SELECT 42", sslmode="require", PGCHANNELBINDING="require")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_psycopg_cleartext_password_over_tls(
    engine_servers: EngineServerFactory, tls_files: TlsFiles
) -> None:
    server = engine_servers(auth="password", tls=True)
    with psycopg.connect(dsn(server, sslmode="require")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.pgconn.ssl_in_use
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn(server, sslmode="disable"))
    assert "SSL" in str(info.value)


# --- raw protocol against the real engine ----------------------------------------------------


async def test_portal_suspended_over_a_real_table(veil: ServerThread) -> None:
    client = await RawClient.connect(veil.port, "alice", PASSWORDS["alice"])
    client.send(
        pgclient.parse("", "SELECT id FROM big ORDER BY id")
        + pgclient.bind("", "")
        + pgclient.describe("P", "")
    )
    for _ in range(3):
        client.send(pgclient.execute("", 7000))
    client.send(pgclient.SYNC)
    await client.flush()
    replies = await client.until_ready()
    ids = [int(m.row()[0]) for m in replies if m.kind == "D"]  # type: ignore[arg-type]
    assert ids == list(range(21000))
    assert kinds(replies).count("s") == 3
    await client.close()


async def test_malformed_bytes_close_only_that_connection(veil: ServerThread) -> None:
    conn: psycopg.Connection[Any] = await asyncio.to_thread(
        lambda: psycopg.connect(dsn(veil), autocommit=True)
    )
    try:
        client = await RawClient.connect(veil.port, "alice", PASSWORDS["alice"])
        client.send(b"\x00\x01\x02\x03\x04\x05\x06\x07")
        await client.flush()
        assert (await client.recv()).fields()["C"] == "08P01"
        assert await client.closed()
        row = await asyncio.to_thread(lambda: conn.execute("SELECT 1").fetchone())
        assert row == (1,)
    finally:
        await asyncio.to_thread(conn.close)
