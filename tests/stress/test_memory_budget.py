"""``server.max_memory`` end to end: a real `veil serve` with a tiny budget (8 MiB), a DuckDB
warehouse, psycopg and a raw protocol client.

- A declared 60 MiB Query message sent slowly is never allocated at its declared size: the
  server's RSS grows by far less than 60 MiB while the bytes trickle in, and once the bytes that
  did arrive exceed the budget the server stops reading and ends that connection with 53200
  (the client may only see the reset: it is still sending).
- A scan whose in-flight batches cannot fit the budget fails with 53200 naming the setting;
  statements that fit but arrive together wait for each other and all succeed; the server keeps
  serving throughout.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import VeilServer, start_server, stop_server
from tests.proxy.pgclient import RawClient
from veil.proxy.auth import make_scram_verifier

PASSWORD = "pw"
BUDGET = 8 * 1024 * 1024
DECLARED = 60 * 1024 * 1024


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VeilServer, int]]:
    directory = tmp_path_factory.mktemp("budget")
    warehouse = directory / "wh.duckdb"
    local = duckdb.connect(str(warehouse))
    local.execute("CREATE SCHEMA big")
    local.execute("CREATE TABLE big.wide AS SELECT i AS id, repeat('x', 200) || i AS payload FROM range(300000) t(i)")
    local.execute("CREATE TABLE big.small AS SELECT i AS id FROM range(10) t(i)")
    local.close()
    config = {
        "server": {"host": "127.0.0.1", "port": 0, "max_memory": BUDGET, "memory_wait": "2s", "search_path": "big"},
        "connections": {"warehouse": {"type": "duckdb", "path": str(warehouse), "latency": 0}},
        "users": {"alice": {"password": make_scram_verifier(PASSWORD), "groups": ["A"]}},
        "policies": [{"name": "all", "subscription": {"tables": ["*"], "allow": {"groups": ["A"]}}}],
    }
    process, server = start_server(Path(directory), config)
    try:
        yield server, process.pid
    finally:
        stop_server(process)


def test_slow_huge_declared_message_is_bounded_and_refused(tiny: tuple[VeilServer, int]) -> None:
    server, pid = tiny

    async def scenario() -> tuple[int, dict[str, str] | None]:
        client = await RawClient.connect(server.port, "alice", PASSWORD)
        before = rss(pid)
        client.send(b"Q" + struct.pack("!i", DECLARED + 4))
        chunk = b"S" * (256 * 1024)
        grown = 0
        try:
            for _ in range(64):  # 16 MiB, slowly: twice the budget, a quarter of the declared size
                client.send(chunk)
                await asyncio.wait_for(client.flush(), 5)
                grown = max(grown, rss(pid) - before)
                await asyncio.sleep(0.01)
        except (TimeoutError, ConnectionError, OSError):
            pass  # the server stopped reading (budget) or closed the connection
        grown = max(grown, rss(pid) - before)
        try:
            error = await client.recv(timeout=30)
        except (ConnectionError, OSError):
            # The server closed with our unread bytes in its socket buffer: TCP resets the
            # connection and the client may lose the ErrorResponse (PostgreSQL does the same).
            return grown, None
        assert error.kind == "E"
        return grown, error.fields()

    grown, fields = asyncio.run(scenario())
    if fields is not None:
        assert fields["C"] == "53200", fields
        assert "server.max_memory" in fields["M"]
    assert grown < DECLARED // 2, f"RSS grew by {grown} bytes for a message declared as {DECLARED}"
    with psycopg.connect(**server.kwargs("alice", PASSWORD), autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_statement_beyond_the_budget_fails_others_wait_and_succeed(tiny: tuple[VeilServer, int]) -> None:
    server, _ = tiny
    with psycopg.connect(**server.kwargs("alice", PASSWORD), autocommit=True) as connection:
        with pytest.raises(psycopg.errors.OutOfMemory) as failure:
            connection.execute("SELECT id, payload FROM big.wide").fetchall()
        assert "server.max_memory" in str(failure.value)
        assert connection.execute("SELECT count(*) FROM big.small").fetchone() == (10,)

    results: list[int] = []
    errors: list[BaseException] = []

    def small() -> None:
        try:
            with psycopg.connect(**server.kwargs("alice", PASSWORD), autocommit=True) as client:
                results.append(len(client.execute("SELECT id FROM big.small").fetchall()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # Each statement reserves 4 MiB before it starts: two fit in 8 MiB, the rest queue.
    threads = [threading.Thread(target=small) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert results == [10] * 6
