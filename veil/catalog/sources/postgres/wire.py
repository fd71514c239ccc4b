"""A PostgreSQL frontend/backend protocol client on the event loop, for pass-through statements.

Veil speaks the protocol to the source itself (:mod:`.pgpassthru` drives it) so the DataRow
messages PostgreSQL sends can go to Veil's client as they are: :meth:`WireConnection.data_rows`
hands back the run of whole DataRow messages already received, as one ``bytes``, with no work
per value. Reading is paced by the consumer: above :data:`HIGH_WATER` buffered bytes the socket
is no longer read until the consumer takes what is there, so a slow client holds the source
back instead of filling Veil's memory.

Covered: SSL negotiation by ``sslmode`` (``disable``, ``allow``/``prefer``, ``require``,
``verify-ca``, ``verify-full``), trust, cleartext, MD5 and SCRAM-SHA-256 authentication,
ErrorResponse fields, and CancelRequest. Not covered (libpq-only): GSSAPI, Kerberos, SSPI,
client certificates, and ``host`` lists.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import struct
from collections.abc import Callable, Mapping
from typing import cast

import scramp

from veil.errors import VeilError

log = logging.getLogger(__name__)

#: Buffered bytes above which the socket is not read until the consumer catches up.
HIGH_WATER = 1 << 20
_I32 = struct.Struct("!i")
_HEADER = struct.Struct("!ci")
_SSL_REQUEST = _I32.pack(8) + _I32.pack(80877103)
_CANCEL_CODE = 80877102
_PROTOCOL = 196608  # 3.0
_DATA_ROW = ord("D")
#: What an ErrorResponse field code means (the ones Veil reads).
_SQLSTATE_FIELD, _MESSAGE_FIELD = ord("C"), ord("M")


class WireError(VeilError):
    """An ErrorResponse from the source: its SQLSTATE and primary message."""


class ConnectionLost(VeilError):
    def __init__(self, detail: str) -> None:
        super().__init__("08006", f"lost the connection to PostgreSQL: {detail}")


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


def cstring(text: str | bytes) -> bytes:
    return (text.encode() if isinstance(text, str) else text) + b"\0"


def error_fields(body: bytes) -> dict[int, str]:
    """The fields of an ErrorResponse or NoticeResponse body, by field code."""
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[0]] = part[1:].decode(errors="replace")
    return fields


def wire_error(body: bytes) -> WireError:
    fields = error_fields(body)
    sqlstate = fields.get(_SQLSTATE_FIELD, "XX000")
    return WireError(sqlstate if len(sqlstate) == 5 else "XX000", fields.get(_MESSAGE_FIELD, "").strip())


class ServerSilent(ConnectionLost):
    """The server sent nothing for longer than a statement may run (it stopped answering, or
    the network is gone): the statement ends as a statement timeout."""

    def __init__(self, detail: str) -> None:
        VeilError.__init__(self, "57014", f"canceling statement due to statement timeout: {detail}")


class _Reader(asyncio.Protocol):
    """Bytes from the socket, buffered until :class:`WireConnection` takes them."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.silent = False  # ``lost`` because the server stayed silent past the read timeout
        #: Called on every arrival (bytes, end of stream, loss) instead of waking a waiter: the
        #: pass-through fast path reads replies from this callback, with no task switch.
        self.listener: Callable[[], None] | None = None
        #: Chunks received so far (a silence timer compares it to tell activity from silence).
        self.arrivals = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.arrivals += 1
        if self.listener is not None:
            self.listener()
            return
        if len(self.buffer) > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.lost = self.lost or "the server closed the connection"
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or (str(exc) if exc else "the connection was closed")
        self._wake()

    def _wake(self) -> None:
        if self.listener is not None:
            self.listener()
            return
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def consumed(self) -> None:
        """The consumer took bytes: read the socket again if it was paused."""
        if self._paused and len(self.buffer) <= HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    async def wait(self, timeout: float | None = None) -> None:
        """Until more bytes arrive (or the connection ends); a server silent for ``timeout``
        seconds counts as gone."""
        if self.lost is not None:
            raise (ServerSilent if self.silent else ConnectionLost)(self.lost)
        self.consumed()
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, self._expire, waiter, timeout)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: asyncio.Future[None], timeout: float) -> None:
        if not waiter.done():
            self.lost = f"no answer from the server within {timeout:g} s"
            self.silent = True
            waiter.set_result(None)


class WireConnection:
    """One session with a PostgreSQL server, on the event loop that opened it."""

    def __init__(self, protocol: _Reader, host: str, port: int) -> None:
        self._protocol = protocol
        self.host, self.port = host, port
        self.loop = asyncio.get_running_loop()
        self.backend_key: tuple[int, int] | None = None
        self.parameters: dict[str, str] = {}
        #: Why the connection can no longer be used (``None``: it can).
        self.broken: str | None = None
        #: Seconds the server may stay silent while a reply is awaited (``None``: no bound).
        self.read_timeout: float | None = None

    @property
    def healthy(self) -> bool:
        return self.broken is None and self._protocol.lost is None

    @property
    def reader(self) -> _Reader:
        """The socket's protocol: its ``buffer``, ``listener``, ``lost`` and ``transport``."""
        return self._protocol

    def send(self, data: bytes) -> None:
        transport = self._protocol.transport
        if transport is None or transport.is_closing():
            raise ConnectionLost(self._protocol.lost or "the connection is closed")
        transport.write(data)

    async def message(self) -> tuple[int, bytes]:
        """The next message: its type byte and body."""
        protocol = self._protocol
        buffer = protocol.buffer
        while True:
            if len(buffer) >= 5:
                kind, size = _HEADER.unpack_from(buffer)
                if len(buffer) >= size + 1:
                    body = bytes(buffer[5 : size + 1])
                    del buffer[: size + 1]
                    return kind[0], body
            await protocol.wait(self.read_timeout)

    async def data_rows(self) -> tuple[bytes, int]:
        """The whole DataRow messages at the head of the buffer (waiting for at least one) and
        how many; ``(b"", 0)`` when the next message is another kind."""
        protocol = self._protocol
        buffer = protocol.buffer
        unpack = _I32.unpack_from
        while True:
            end = len(buffer)
            position = count = 0
            while end - position >= 5 and buffer[position] == _DATA_ROW:
                following = position + 1 + unpack(buffer, position + 1)[0]
                if following > end:
                    break
                position = following
                count += 1
            if count:
                with memoryview(buffer) as view:
                    rows = bytes(view[:position])  # one copy (a bytearray slice would be two)
                del buffer[:position]
                protocol.consumed()
                return rows, count
            if end >= 1 and buffer[0] != _DATA_ROW:
                return b"", 0
            await protocol.wait(self.read_timeout)

    def close(self) -> None:
        """Terminate the session (best effort) and close the socket, on the connection's event
        loop (a catalog reload closes sources from a worker thread)."""
        self.broken = self.broken or "closed"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._close_now()
            return
        try:
            self.loop.call_soon_threadsafe(self._close_now)
        except RuntimeError:  # its event loop is closed: the process is ending, nothing runs there
            log.debug("pass-through connection left to the process exit: its event loop is closed")

    def _close_now(self) -> None:
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.write(message(b"X"))
            transport.close()

    async def cancel(self, timeout: float) -> None:
        """Ask the server to cancel what this session runs (CancelRequest on a new socket)."""
        if self.backend_key is None:
            return
        pid, key = self.backend_key
        request = _I32.pack(16) + _I32.pack(_CANCEL_CODE) + _I32.pack(pid) + _I32.pack(key)
        reader, writer = await asyncio.wait_for(_open(self.host, self.port), timeout)
        try:
            writer.write(request)
            await asyncio.wait_for(writer.drain(), timeout)
            await asyncio.wait_for(reader.read(1), timeout)  # the server closes it when done
        finally:
            writer.close()


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if host.startswith("/"):
        return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
    return await asyncio.open_connection(host, port)


def ssl_context(sslmode: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if sslmode not in ("verify-ca", "verify-full"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif sslmode == "verify-ca":
        context.check_hostname = False
    return context


async def connect(
    host: str, port: int, user: str, password: str | None, database: str, sslmode: str | None,
    options: Mapping[str, str],
) -> WireConnection:
    """A new session, authenticated and ready for queries; ``options`` are startup parameters
    (``application_name``, settings). The caller bounds the time it takes."""
    loop = asyncio.get_running_loop()
    unix = host.startswith("/")
    if unix:
        _, protocol = await loop.create_unix_connection(_Reader, f"{host}/.s.PGSQL.{port}")
    else:
        _, protocol = await loop.create_connection(_Reader, host, port)
    connection = WireConnection(protocol, host, port)
    try:
        mode = "disable" if unix else (sslmode or "prefer")
        if mode != "disable":
            await _negotiate_ssl(connection, protocol, mode, host)
        body = _I32.pack(_PROTOCOL) + b"".join(
            cstring(name) + cstring(value)
            for name, value in {"user": user, "database": database, **options}.items()
        ) + b"\0"
        connection.send(_I32.pack(len(body) + 4) + body)
        await _authenticate(connection, user, password)
        while True:
            kind, body = await connection.message()
            if kind == ord("K"):
                connection.backend_key = (_I32.unpack_from(body)[0], _I32.unpack_from(body, 4)[0])
            elif kind == ord("S"):
                name, value, _ = body.split(b"\0", 2)
                connection.parameters[name.decode()] = value.decode()
            elif kind == ord("E"):
                raise wire_error(body)
            elif kind == ord("Z"):
                return connection
    except BaseException:
        connection.close()
        raise


async def _negotiate_ssl(connection: WireConnection, protocol: _Reader, mode: str, host: str) -> None:
    connection.send(_SSL_REQUEST)
    while not protocol.buffer:
        await protocol.wait()
    answer = protocol.buffer[:1]
    del protocol.buffer[:1]
    if answer == b"N":
        if mode in ("require", "verify-ca", "verify-full"):
            raise VeilError("08004", "the PostgreSQL server does not support SSL, and sslmode requires it")
        return
    if answer != b"S":
        raise VeilError("08P01", "the PostgreSQL server answered the SSL request with an unexpected message")
    transport = protocol.transport
    assert transport is not None
    context = ssl_context(mode)
    secure = await asyncio.get_running_loop().start_tls(
        transport, protocol, context, server_hostname=host if mode == "verify-full" else None
    )
    protocol.transport = cast(asyncio.Transport, secure)


async def _authenticate(connection: WireConnection, user: str, password: str | None) -> None:
    scram: scramp.ScramClient | None = None
    while True:
        kind, body = await connection.message()
        if kind == ord("E"):
            raise wire_error(body)
        if kind != ord("R"):
            raise VeilError("08P01", f"unexpected message {chr(kind)!r} while authenticating")
        code = _I32.unpack_from(body)[0]
        if code == 0:
            return
        if code in (3, 5, 10) and password is None:
            raise WireError("28P01", "the PostgreSQL server asks for a password and none is configured")
        assert password is not None or code in (11, 12)
        if code == 3:
            connection.send(message(b"p", cstring(password or "")))
        elif code == 5:
            inner = hashlib.md5((password or "").encode() + user.encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
            connection.send(message(b"p", cstring("md5" + outer)))
        elif code == 10:
            mechanisms = [m.decode() for m in body[4:].split(b"\0") if m]
            if "SCRAM-SHA-256" not in mechanisms:
                raise VeilError("28000", f"no supported SASL mechanism among {mechanisms}")
            scram = scramp.ScramClient(["SCRAM-SHA-256"], user, password or "")
            first = scram.get_client_first().encode()
            connection.send(message(b"p", cstring("SCRAM-SHA-256") + _I32.pack(len(first)) + first))
        elif code in (11, 12) and scram is not None:
            try:
                if code == 11:
                    scram.set_server_first(body[4:].decode())
                    connection.send(message(b"p", scram.get_client_final().encode()))
                else:
                    scram.set_server_final(body[4:].decode())
            except scramp.ScramException as exc:
                raise VeilError("28000", f"SCRAM authentication with the PostgreSQL server failed: {exc}") from None
        else:
            raise VeilError("28000", f"unsupported PostgreSQL authentication method (code {code})")
