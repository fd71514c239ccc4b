"""Veil's own PostgreSQL protocol client (:mod:`veil.catalog.sources.postgres.wire`) against the test
PostgreSQL: SSL negotiation by sslmode, ErrorResponse fields, backpressure (an unread result
stops being read from the socket), and a source that goes silent mid-statement."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict

from veil.catalog.sources.postgres import wire as pgwire
from veil.catalog.sources.postgres.passthrough import SessionSettings
from veil.catalog.sources.postgres.source import PostgresSource
from veil.config.models import ConnectionConfig
from veil.errors import VeilError


def _params(dsn: str) -> dict[str, str]:
    params = conninfo_to_dict(dsn)
    return {"host": params.get("host", "127.0.0.1"), "port": params.get("port", "5432"),
            "user": params.get("user", "postgres"), "dbname": params.get("dbname", "postgres")}


async def _connect(dsn: str, sslmode: str) -> pgwire.WireConnection:
    p = _params(dsn)
    return await asyncio.wait_for(
        pgwire.connect(p["host"], int(p["port"]), p["user"], None, p["dbname"], sslmode, {"application_name": "t"}), 10
    )


async def _ssl_enabled(dsn: str) -> bool:
    connection = await _connect(dsn, "disable")
    try:
        connection.send(pgwire.message(b"Q", pgwire.cstring("SHOW ssl")))
        while True:
            kind, body = await asyncio.wait_for(connection.message(), 10)
            if kind == ord("D"):
                return body.endswith(b"on")
            assert kind != ord("Z")
    finally:
        connection.close()


async def test_sslmode_prefer_falls_back_and_require_refuses(postgres_dsn: str) -> None:
    if await _ssl_enabled(postgres_dsn):
        pytest.skip("the test PostgreSQL accepts SSL: nothing to refuse")
    connection = await _connect(postgres_dsn, "prefer")
    assert connection.backend_key is not None and connection.parameters["client_encoding"] == "UTF8"
    connection.close()
    with pytest.raises(VeilError) as caught:
        await _connect(postgres_dsn, "require")
    assert caught.value.sqlstate == "08004" and "SSL" in caught.value.message


async def test_error_response_keeps_sqlstate_and_message(postgres_dsn: str) -> None:
    connection = await _connect(postgres_dsn, "disable")
    try:
        connection.send(pgwire.message(b"Q", pgwire.cstring("SELECT 1/0")))
        kinds = []
        while (kind := (await asyncio.wait_for(connection.message(), 10)))[0] != ord("Z"):
            kinds.append(kind)
        errors = [pgwire.wire_error(body) for code, body in kinds if code == ord("E")]
        assert [(e.sqlstate, e.message) for e in errors] == [("22012", "division by zero")]
    finally:
        connection.close()


async def test_an_unread_result_is_not_buffered(postgres_dsn: str) -> None:
    """Backpressure: past HIGH_WATER bytes the socket is not read until the rows are taken."""
    connection = await _connect(postgres_dsn, "disable")
    try:
        connection.send(pgwire.message(b"Q", pgwire.cstring("SELECT g, md5(g::text) FROM generate_series(1, 3000000) g")))
        buffer = connection._protocol.buffer
        for _ in range(300):  # the server first computes the series, then sends it
            if len(buffer) >= pgwire.HIGH_WATER:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # reading has paused: nothing more arrives
        assert pgwire.HIGH_WATER <= len(buffer) < pgwire.HIGH_WATER + (1 << 19)
        assert (await connection.message())[0] == ord("T")
        counts = [(await asyncio.wait_for(connection.data_rows(), 10))[1] for _ in range(5)]
        assert all(counts)  # the rows go on flowing once taken
    finally:
        connection.close()


_RELAY = """
import asyncio, sys

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()

async def relay(reader, writer):
    upstream = await asyncio.open_connection(sys.argv[1], int(sys.argv[2]))
    await asyncio.gather(pipe(reader, upstream[1]), pipe(upstream[0], writer))

async def main():
    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


@pytest.fixture
def relay(postgres_dsn: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A TCP relay process in front of PostgreSQL; stopping it (SIGSTOP) makes the source silent."""
    p = _params(postgres_dsn)
    process = subprocess.Popen(
        [sys.executable, "-c", _RELAY, p["host"], p["port"]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process, int(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(10)


async def test_a_silent_source_ends_the_statement(
    postgres_dsn: str, relay: tuple[subprocess.Popen[str], int]
) -> None:
    p = _params(postgres_dsn)
    process, port = relay
    config = ConnectionConfig(type="postgres", host="127.0.0.1", port=port, user=p["user"], database=p["dbname"],
                              statement_timeout=1, connect_timeout=1)
    source = PostgresSource("pg", config)
    try:
        sql = "SELECT 1 AS one"
        schema = await asyncio.to_thread(source.describe, sql, 0)
        cursor = await source.passthrough_cursor(sql, schema, SessionSettings("UTC", "0", "u"))
        assert cursor is not None
        assert await asyncio.wait_for(cursor.execute(sql, (), [0]), 10) is not None
        cursor.close()
        process.send_signal(signal.SIGSTOP)
        cursor = await source.passthrough_cursor(sql, schema, SessionSettings("UTC", "0", "u"))
        assert cursor is not None
        started = asyncio.get_running_loop().time()
        with pytest.raises(VeilError) as caught:
            await asyncio.wait_for(cursor.execute(sql, (), [0]), 20)
        cursor.close()
        # The reused connection times out, and so does the fresh one it is retried on.
        assert caught.value.sqlstate.startswith("08")
        assert asyncio.get_running_loop().time() - started < 10
        assert source._passthrough.idle == 0  # the silent connection is not pooled
    finally:
        source.close()
