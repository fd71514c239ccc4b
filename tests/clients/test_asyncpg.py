"""asyncpg against `veil serve` with the conformance mask: its normal path is the extended
protocol in binary with statements prepared and described first (asyncpg introspects every
parameter type from ParameterDescription), a cursor streaming sales.big, ANY arrays and masked
values."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import asyncpg
import pytest

from tests.clients.conftest import MASK, MASKED_USER, STREAM_SQL, USERS, Recorder, assert_conformant
from tests.conftest import VeilServer


async def _connect(server: VeilServer, user: str) -> asyncpg.Connection:
    return await asyncpg.connect(server.dsn(user))


@pytest.mark.parametrize("user", USERS)
async def test_conformant(conformance_server: VeilServer, user: str) -> None:
    conn = await _connect(conformance_server, user)
    out = Recorder()
    try:
        out.add("version", conn.get_server_version().major)
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_type = 'BASE TABLE' ORDER BY 1", "sales")
        out.add("tables", ",".join(r["table_name"] for r in tables))
        statement = await conn.prepare("SELECT * FROM sales.orders LIMIT 0")
        out.add("columns", ",".join(f"{a.name}:{a.type.name}" for a in statement.get_attributes()))
        rows = await conn.fetch(
            "SELECT id, name FROM sales.customers WHERE id IN ($1, $2, $3) AND country <> $4 ORDER BY id",
            2, 3, 5, "XX")
        out.in_rows([tuple(r) for r in rows])
        count = total = 0
        async with conn.transaction():
            async for row in conn.cursor(STREAM_SQL, prefetch=20000):
                count += 1
                total += row["doubled"]
        out.add("stream", count, total)
        out.add("masked", await conn.fetchval("SELECT name FROM sales.customers WHERE id = $1", 1))
    finally:
        await asyncio.wait_for(conn.close(), 10)
    assert_conformant(out.report(), user)


async def test_any_arrays_and_typed_parameters(conformance_server: VeilServer) -> None:
    conn = await _connect(conformance_server, MASKED_USER)
    try:
        rows = await conn.fetch("SELECT id, name FROM sales.customers WHERE id = ANY($1) ORDER BY id", [4, 7])
        assert [tuple(r) for r in rows] == [(4, MASK), (7, MASK)]
        statement = await conn.prepare(
            "SELECT id FROM sales.orders WHERE amount > $1 AND created < $2 AND customer = ANY($3) ORDER BY id")
        assert [t.name for t in statement.get_parameters()] == ["numeric", "timestamp", "text[]"]
        rows = await statement.fetch(Decimal("10"), dt.datetime(2024, 2, 1), ["Ada", "Grace"])
        assert [r["id"] for r in rows] == [1]
        typed = await conn.fetchrow("SELECT $1::int2 + 1 AS s, $2::float8 * 2 AS f, $3::date AS d", 1, 1.5, dt.date(2024, 2, 29))
        assert tuple(typed) == (2, 3.0, dt.date(2024, 2, 29))
    finally:
        await asyncio.wait_for(conn.close(), 10)
