"""A tiny raw PostgreSQL v3 client for protocol tests that drivers cannot express
(row-limited Execute, malformed bytes, pipelines, CancelRequest)."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import struct
from dataclasses import dataclass

from scramp import ScramClient


@dataclass
class Message:
    kind: str
    payload: bytes

    def fields(self) -> dict[str, str]:
        """ErrorResponse/NoticeResponse fields by code."""
        result: dict[str, str] = {}
        for part in self.payload.split(b"\0"):
            if part:
                result[chr(part[0])] = part[1:].decode()
        return result

    def row(self) -> list[bytes | None]:
        """DataRow values."""
        (count,) = struct.unpack_from("!h", self.payload, 0)
        pos = 2
        values: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from("!i", self.payload, pos)
            pos += 4
            if length < 0:
                values.append(None)
            else:
                values.append(self.payload[pos : pos + length])
                pos += length
        return values

    def text(self) -> str:
        return self.payload.rstrip(b"\0").decode()

    def columns(self) -> list[tuple[str, int, int]]:
        """RowDescription: (name, type oid, format code) per column."""
        (count,) = struct.unpack_from("!h", self.payload, 0)
        pos = 2
        out = []
        for _ in range(count):
            end = self.payload.index(b"\0", pos)
            name = self.payload[pos:end].decode()
            pos = end + 1
            _table, _attnum, oid, _size, _mod, fmt = struct.unpack_from("!ihihih", self.payload, pos)
            pos += 18
            out.append((name, oid, fmt))
        return out


def cstr(value: str) -> bytes:
    return value.encode() + b"\0"


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def query(sql: str) -> bytes:
    return frame(b"Q", cstr(sql))


def parse(name: str, sql: str, oids: tuple[int, ...] = ()) -> bytes:
    return frame(b"P", cstr(name) + cstr(sql) + struct.pack(f"!h{len(oids)}I", len(oids), *oids))


def bind(
    portal: str,
    statement: str,
    params: tuple[bytes | None, ...] = (),
    param_formats: tuple[int, ...] = (),
    result_formats: tuple[int, ...] = (),
) -> bytes:
    payload = cstr(portal) + cstr(statement)
    payload += struct.pack(f"!h{len(param_formats)}h", len(param_formats), *param_formats)
    payload += struct.pack("!h", len(params))
    for value in params:
        payload += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    payload += struct.pack(f"!h{len(result_formats)}h", len(result_formats), *result_formats)
    return frame(b"B", payload)


def describe(kind: str, name: str) -> bytes:
    return frame(b"D", kind.encode() + cstr(name))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return frame(b"E", cstr(portal) + struct.pack("!i", max_rows))


def close(kind: str, name: str) -> bytes:
    return frame(b"C", kind.encode() + cstr(name))


SYNC = frame(b"S", b"")
FLUSH = frame(b"H", b"")
TERMINATE = frame(b"X", b"")


def startup_packet(params: dict[str, str], version: int = 3 << 16) -> bytes:
    body = struct.pack("!i", version) + b"".join(cstr(k) + cstr(v) for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


class AuthFailed(Exception):
    def __init__(self, message: Message) -> None:
        self.message = message
        self.fields = message.fields()
        super().__init__(self.fields.get("M"))


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parameters: dict[str, str] = {}
        self.pid = 0
        self.secret = 0
        self.status = ""

    @classmethod
    async def connect(
        cls,
        port: int,
        user: str = "alice",
        password: str = "",
        *,
        database: str | None = "veil",
        tls: ssl.SSLContext | None = None,
        params: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> RawClient:
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer)
        if tls is not None:
            writer.write(struct.pack("!ii", 8, 80877103))
            await writer.drain()
            answer = await reader.readexactly(1)
            assert answer == b"S", answer
            await writer.start_tls(tls, server_hostname=None)
        startup = {"user": user, **({"database": database} if database else {}), **(params or {})}
        writer.write(startup_packet(startup))
        await writer.drain()
        await client._authenticate(user, password)
        return client

    async def _authenticate(self, user: str, password: str) -> None:
        scram: ScramClient | None = None
        while True:
            message = await self.recv()
            if message.kind == "E":
                raise AuthFailed(message)
            if message.kind == "R":
                (code,) = struct.unpack_from("!i", message.payload, 0)
                if code == 0:
                    continue
                if code == 3:
                    self.send(frame(b"p", cstr(password)))
                elif code == 5:
                    salt = message.payload[4:8]
                    inner = hashlib.md5((password + user).encode()).hexdigest()
                    digest = "md5" + hashlib.md5(inner.encode() + salt).hexdigest()
                    self.send(frame(b"p", cstr(digest)))
                elif code == 10:
                    mechanisms = [m.decode() for m in message.payload[4:].split(b"\0") if m]
                    scram = ScramClient(["SCRAM-SHA-256"], user, password)
                    assert "SCRAM-SHA-256" in mechanisms
                    first = scram.get_client_first().encode()
                    self.send(frame(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
                elif code == 11:
                    assert scram is not None
                    scram.set_server_first(message.payload[4:].decode())
                    self.send(frame(b"p", scram.get_client_final().encode()))
                elif code == 12:
                    assert scram is not None
                    scram.set_server_final(message.payload[4:].decode())
                    continue
                await self.flush()
            elif message.kind == "S":
                name, value, _ = message.payload.split(b"\0")
                self.parameters[name.decode()] = value.decode()
            elif message.kind == "K":
                self.pid, self.secret = struct.unpack("!ii", message.payload)
            elif message.kind == "Z":
                self.status = message.payload.decode()
                return

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def flush(self) -> None:
        await self.writer.drain()

    async def recv(self, timeout: float = 30) -> Message:
        header = await asyncio.wait_for(self.reader.readexactly(5), timeout)
        kind = chr(header[0])
        (length,) = struct.unpack("!i", header[1:])
        payload = await asyncio.wait_for(self.reader.readexactly(length - 4), timeout)
        return Message(kind, payload)

    async def until_ready(self, timeout: float = 30) -> list[Message]:
        """Messages up to and including ReadyForQuery."""
        out: list[Message] = []
        while True:
            message = await self.recv(timeout)
            out.append(message)
            if message.kind == "Z":
                self.status = message.payload.decode()
                return out

    async def simple(self, sql: str) -> list[Message]:
        self.send(query(sql))
        await self.flush()
        return await self.until_ready()

    async def closed(self, timeout: float = 10) -> bool:
        """Whether the server closed the connection (EOF after any pending messages)."""
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except (ConnectionError, OSError):
            return True

    async def close(self) -> None:
        try:
            self.writer.write(TERMINATE)
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        self.writer.close()


async def cancel_request(port: int, pid: int, secret: int, host: str = "127.0.0.1") -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(struct.pack("!iiii", 16, 80877102, pid, secret))
    await writer.drain()
    await reader.read()
    writer.close()


def kinds(messages: list[Message]) -> str:
    return "".join(m.kind for m in messages)
