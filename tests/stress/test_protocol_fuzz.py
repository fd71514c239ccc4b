"""A protocol fuzzer against a running `veil serve`: random and mutated frontend messages, on
connections past a trust login and on fresh ones (startup packets). The server must never crash or
log a traceback, and a health query on another connection keeps answering throughout.

At least 20,000 messages by default (about a minute on CI); ``VEIL_FUZZ_MESSAGES=1000000`` for a
long run. ``VEIL_FUZZ_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import select
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, base_config, start_server, stop_server

MESSAGES = int(os.environ.get("VEIL_FUZZ_MESSAGES", "20000"))
SEED = int(os.environ.get("VEIL_FUZZ_SEED", str(time.time_ns() % 1_000_000)))
HEALTH_EVERY = 500  # messages between two health queries

SQL = [
    "SELECT 1", "SELECT $1", "SELECT $1::int + $2", "SELECT id, customer FROM sales.orders WHERE id = $1",
    "SELECT * FROM sales.orders", "SELECT count(*) FROM sales.customers", "BEGIN", "COMMIT", "ROLLBACK",
    "SET application_name = 'fuzz'", "SHOW search_path", "SELECT oid, typname FROM pg_catalog.pg_type LIMIT 3",
    "DECLARE c CURSOR FOR SELECT 1", "FETCH 1 FROM c", "SAVEPOINT a", "ROLLBACK TO a", "DROP TABLE sales.orders",
    "SELECT 1; SELECT 2", "", ";", "SELECT '\u00fc\u00f1\u00ee'", "SELECT E'\\x00'", "SELECT ((((1))))",
    "SELECT * FROM hr.salaries", "COPY sales.orders TO STDOUT", "LISTEN x", "SELECT pg_sleep(0)",
]


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstr(text: str | bytes) -> bytes:
    return (text.encode() if isinstance(text, str) else text) + b"\0"


class Fuzzer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sql(self) -> bytes:
        text = self.rng.choice(SQL).encode()
        return self.mutate(text) if self.rng.random() < 0.3 else text

    def name(self) -> bytes:
        return self.rng.choice([b"", b"s1", b"p1", b"\xff\xfe", b"x" * 70])

    def value(self) -> bytes:
        choice = self.rng.random()
        if choice < 0.15:
            return struct.pack("!i", -1)  # NULL
        data = self.rng.choice([b"1", b"abc", b"\x00\x00\x00\x07", b"2024-01-01", b"\xff" * 9, b"-0", b"NaN"])
        length = len(data) if self.rng.random() < 0.9 else self.rng.choice([-2, 0, 1 << 30, len(data) + 5])
        return struct.pack("!i", length) + data

    def ints(self, fmt: str, count: int, pool: list[int]) -> bytes:
        return struct.pack("!h", count) + b"".join(struct.pack(fmt, self.rng.choice(pool)) for _ in range(max(count, 0)))

    def message(self) -> tuple[bytes, bool]:
        """A message, and whether its framing is intact (the server then answers a Sync after it)."""
        rng = self.rng
        kind = rng.choice("QPBDESHCdcfFpX")
        if kind == "Q":
            body = cstr(self.sql())
        elif kind == "P":
            body = cstr(self.name()) + cstr(self.sql()) + self.ints("!i", rng.choice([0, 1, 2, 3]), [0, 23, 25, 20, 1700, 16, 99999, -1])
        elif kind == "B":
            count = rng.choice([0, 1, 2, 3, -1])
            body = cstr(self.name()) + cstr(self.name()) + self.ints("!h", rng.choice([0, 1, count]), [0, 1, 2, -1])
            body += struct.pack("!h", count) + b"".join(self.value() for _ in range(max(count, 0)))
            body += self.ints("!h", rng.choice([0, 1, 5]), [0, 1, 7])
        elif kind == "D":
            body = rng.choice([b"S", b"P", b"Z"]) + cstr(self.name())
        elif kind == "E":
            body = cstr(self.name()) + struct.pack("!i", rng.choice([0, 1, 2, -1, 1 << 31 - 1]))
        elif kind == "C":
            body = rng.choice([b"S", b"P", b"?"]) + cstr(self.name())
        elif kind in "SH":
            body = b""
        elif kind == "d":
            body = rng.randbytes(rng.randint(0, 40))
        elif kind == "f":
            body = cstr("fuzz")
        elif kind == "F":
            body = struct.pack("!i", rng.randint(0, 5000)) + self.ints("!h", 1, [0, 1]) + struct.pack("!h", 0) + struct.pack("!h", 0)
        else:
            body = rng.randbytes(rng.randint(0, 64))
        roll = rng.random()
        if roll < 0.06:
            return self.mutate(frame(kind.encode(), body)), False  # anything: a bad type, length or payload
        if roll < 0.25:
            body = self.mutate(body)  # a well-framed message with a mutated payload
        return frame(kind.encode(), body), True

    def mutate(self, data: bytes) -> bytes:
        rng = self.rng
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            operation = rng.randrange(5)
            position = rng.randrange(len(data) + 1)
            if operation == 0 and data:
                data[min(position, len(data) - 1)] = rng.randrange(256)
            elif operation == 1:
                data[position:position] = rng.randbytes(rng.randint(1, 8))
            elif operation == 2:
                del data[position:position + rng.randint(1, 8)]
            elif operation == 3:
                data[position:position] = rng.choice([b"\0", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"'", b"$1", b"("])
            else:
                data = data[:position]
        return bytes(data)

    def startup(self, user: str) -> tuple[bytes, bool]:
        """A startup packet, and whether it is a valid one (else the session ends after it)."""
        params = cstr("user") + cstr(user) + cstr("database") + cstr("veil")
        valid = self.rng.random() < 0.92
        if not valid:
            params = self.mutate(params)
        version = 196608 if valid else self.rng.choice([196608, 80877103, 80877104, 80877102, 131072, 0])
        body = struct.pack("!i", version) + params + b"\0"
        return struct.pack("!i", len(body) + 4) + body, valid


def ready_or_closed(sock: socket.socket, pending: bytearray, timeout: float = 30.0) -> bool:
    """Read the server's answers up to ReadyForQuery (True) or until it hangs up (False). The
    server must do one or the other: a connection that neither answers nor closes fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        while len(pending) >= 5:
            kind = pending[0:1]
            (length,) = struct.unpack("!i", pending[1:5])
            if len(pending) < 1 + length:
                break
            del pending[: 1 + length]
            if kind == b"Z":
                return True
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"seed {SEED}: the server neither answered nor closed the connection"
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            continue
        try:
            data = sock.recv(65536)
        except OSError:
            return False
        if not data:
            return False
        pending += data


def send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.settimeout(5)
        sock.sendall(data)
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[VeilServer]:
    directory = tmp_path_factory.mktemp("fuzz")
    config = base_config(warehouse)
    config["server"] = {**config["server"], "auth": "trust", "max_message_bytes": 1024 * 1024}  # type: ignore[dict-item]
    config["cache"] = {"default_latency": 0}
    process, server = start_server(directory, config)
    try:
        yield server
    finally:
        assert process.poll() is None, "the server died under fuzzing"
        stop_server(process)


def test_random_and_mutated_messages_never_break_the_server(fuzz_server: VeilServer) -> None:
    fuzzer = Fuzzer(random.Random(SEED))
    sent = 0
    connections = 0
    health_latencies: list[float] = []
    started = time.monotonic()
    with psycopg.connect(fuzz_server.dsn(), autocommit=True) as health:
        while sent < MESSAGES:
            sock = socket.create_connection((fuzz_server.host, fuzz_server.port), timeout=5)
            connections += 1
            try:
                sent += _session(sock, fuzzer, min(MESSAGES - sent, HEALTH_EVERY - sent % HEALTH_EVERY))
            finally:
                sock.close()
            if sent % HEALTH_EVERY == 0 or sent >= MESSAGES:
                before = time.monotonic()
                assert health.execute("SELECT 1").fetchall() == [(1,)], f"seed {SEED}"
                health_latencies.append(time.monotonic() - before)
    elapsed = time.monotonic() - started
    log = Path(fuzz_server.log_path).read_text()
    assert "Traceback" not in log, f"seed {SEED}:\n{log[-6000:]}"
    assert len(health_latencies) >= MESSAGES // HEALTH_EVERY
    print(f"fuzz seed {SEED}: {sent} messages on {connections} connections in {elapsed:.1f}s "
          f"({sent / elapsed:.0f}/s); {len(health_latencies)} health queries, max {max(health_latencies) * 1000:.1f} ms")


def _session(sock: socket.socket, fuzzer: Fuzzer, budget: int) -> int:
    """One connection: a startup packet, then bursts of messages (each ended by Sync) until the
    server hangs up or ``budget`` messages were sent; how many were sent."""
    rng = fuzzer.rng
    startup, valid = fuzzer.startup(rng.choice(["alice", "bob", "nobody", "root"]))
    if not send(sock, startup) or not valid:
        return 1
    count = 1
    limit = min(budget, rng.randint(5, 400))
    pending = bytearray()
    while count < limit:
        burst = [fuzzer.message() for _ in range(min(rng.randint(0, 7), limit - count - 1))]
        messages = [m for m, _ in burst] + [frame(b"S", b"")]
        if not send(sock, b"".join(messages)):
            break
        count += len(messages)
        if not all(framed for _, framed in burst):
            break  # the stream is no longer framed: the server may wait for bytes that never come
        if not ready_or_closed(sock, pending):
            break
    return count
