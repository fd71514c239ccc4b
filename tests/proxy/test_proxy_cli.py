"""The front end as users run it: ``veil serve`` in a subprocess (uvloop), real drivers."""

from __future__ import annotations

import threading

import asyncpg
import psycopg
import pytest

from tests.conftest import VeilServer


def test_psycopg_through_veil_serve(veil_server: VeilServer) -> None:
    with psycopg.connect(veil_server.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (4,)
        assert conn.info.parameter_status("server_version") == "15.8"
        cur = conn.cursor(binary=True)
        assert cur.execute("SELECT id FROM orders WHERE id = %s", (3,)).fetchone() == (3,)


async def test_asyncpg_through_veil_serve(veil_server: VeilServer) -> None:
    conn = await asyncpg.connect(veil_server.dsn())
    try:
        assert await conn.fetchval("SELECT customer FROM orders WHERE id = $1", 1) == "Ada"
    finally:
        await conn.close()


def test_cancel_through_veil_serve(veil_server: VeilServer) -> None:
    with psycopg.connect(veil_server.dsn(), autocommit=True) as conn:
        threading.Timer(0.5, conn.cancel_safe).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT count(*) FROM big a, big b WHERE (a.id * 7 + b.id) % 1000003 = 17")
        assert conn.execute("SELECT 1").fetchone() == (1,)
