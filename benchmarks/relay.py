"""The least a Python proxy hop costs: a uvloop byte relay between a client and PostgreSQL.

No parsing at all: every chunk one side sends is written to the other as it is (TCP_NODELAY
on both sockets). A prepared point query through it pays what any proxy written on asyncio
must pay (two more socket reads and writes and the event loop's wake-ups), and nothing else;
the points benchmark times it next to PostgreSQL direct and Veil's pass-through.

    python -m benchmarks.relay --port 6500 --target 127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import uvloop


class _Half(asyncio.Protocol):
    """One side of a relayed connection: what it receives goes to ``peer``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.pending.append(data)
        else:
            peer.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


class _Client(_Half):
    """The accepted side: connects to the target and relays both ways."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self._target = (host, port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        _, server = await asyncio.get_running_loop().create_connection(_Half, *self._target)
        server.peer, self.peer = self, server
        assert server.transport is not None
        for data in self.pending:
            server.transport.write(data)
        self.pending.clear()


async def _serve(port: int, host: str, target_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(host, target_port), "127.0.0.1", port, reuse_address=True)
    async with server:
        await server.serve_forever()


@contextmanager
def relay(port: int, target_host: str, target_port: int) -> Iterator[int]:
    """A relay process listening on ``port``; yields its pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.relay", "--port", str(port), "--target", f"{target_host}:{target_port}"]
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("the relay did not start") from None
                subprocess.run(["sleep", "0.05"], check=False)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="host:port of PostgreSQL")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    uvloop.run(_serve(args.port, host, int(port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
