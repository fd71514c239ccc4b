"""Buffered message framing over asyncio streams.

:class:`MessageReader` reads large chunks from the socket and cuts complete messages out of
its buffer, so a pipelined batch of Parse/Bind/Describe/Execute/Sync costs one ``read`` and no
per-message awaits. :class:`MessageWriter` coalesces small backend messages in a buffer and
hands it to the transport only when the client needs to see it (ReadyForQuery, Flush, a big
result batch, or before the server blocks waiting for input).

A large message is never allocated at its declared size: its bytes are buffered as they arrive
and, beyond :data:`COUNT_FROM` bytes, counted against ``server.max_memory`` (the process's
:data:`~veil.executor.membudget.BUDGET`) before more is read; when the budget is exhausted the
reader stops reading (TCP back-pressure slows the client) for at most ``server.memory_wait``,
then the connection fails with SQLSTATE 53200. The reservation is released once the message
has been handled (at the next read) or the connection ends.
"""

from __future__ import annotations

import asyncio
import struct

from veil.executor.membudget import BUDGET
from veil.proxy.messages import MalformedMessage

_HEADER = struct.Struct("!Bi")
_LENGTH = struct.Struct("!i")
_READ_CHUNK = 256 * 1024
_COMPACT_AT = 64 * 1024

MAX_STARTUP_PACKET = 10_000
#: Buffered bytes above which a reader counts them against the memory budget.
COUNT_FROM = 1024 * 1024


class ConnectionClosed(Exception):
    """The client went away (EOF, reset or broken pipe)."""


class MessageReader:
    """Cuts typed frontend messages (and untyped startup packets) out of a byte stream."""

    __slots__ = ("_buf", "_pos", "_reserved", "_stream", "idle", "limits", "max_message_bytes")

    def __init__(self, stream: asyncio.StreamReader, max_message_bytes: int) -> None:
        self._stream = stream
        self._buf = bytearray()
        self._pos = 0
        self.max_message_bytes = max_message_bytes
        #: Per message type, the largest payload accepted; set when the message types the
        #: current phase accepts are known, so an invalid type or length fails before its
        #: body is awaited (as PostgreSQL does).
        self.limits: dict[int, int] | None = None
        #: Bytes of this reader's buffer counted against the memory budget.
        self._reserved = 0
        #: True while the reader waits for the network with every received byte consumed: the
        #: next bytes start a new message (the pass-through fast path may take them; whoever
        #: hands bytes to the stream instead clears it, so later bytes keep their order).
        self.idle = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed."""
        return len(self._buf) - self._pos

    async def _fill(self) -> None:
        self.idle = self._pos == len(self._buf)
        try:
            data = await self._stream.read(_READ_CHUNK)
        except (ConnectionError, OSError) as exc:
            raise ConnectionClosed(str(exc)) from exc
        finally:
            self.idle = False
        if not data:
            raise ConnectionClosed("end of stream")
        if self._pos:
            if self._pos == len(self._buf):
                self._buf.clear()
                self._pos = 0
            elif self._pos >= _COMPACT_AT:
                del self._buf[: self._pos]
                self._pos = 0
        self._buf += data

    def _take(self, start: int, end: int) -> bytes:
        with memoryview(self._buf) as view:
            payload = bytes(view[start:end])
        if end - start >= COUNT_FROM:
            # Keep only what follows: a buffer that once held a large message is not kept.
            self._buf = bytearray(self._buf[end:])
            self._pos = 0
        else:
            self._pos = end
        return payload

    async def _count(self) -> None:
        """Reserve the buffered bytes beyond what is reserved, once they are many."""
        held = len(self._buf)
        if held >= COUNT_FROM and held > self._reserved:
            await BUDGET.reserve(held - self._reserved)
            self._reserved = held

    def _settle(self) -> None:
        """Give back the reservation for bytes no longer buffered (handled messages)."""
        held = len(self._buf) if len(self._buf) >= COUNT_FROM else 0
        if self._reserved > held:
            BUDGET.release(self._reserved - held)
            self._reserved = held

    def close(self) -> None:
        """The connection ended: release every reserved byte and drop the buffer."""
        self._buf = bytearray()
        self._pos = 0
        self._settle()

    def pop(self) -> tuple[int, bytes] | None:
        """The next complete message ``(type, payload)`` if fully buffered, else ``None``."""
        pos = self._pos
        available = len(self._buf) - pos
        if available < 5:
            return None
        kind, length = _HEADER.unpack_from(self._buf, pos)
        limit = self.max_message_bytes
        if self.limits is not None:
            type_limit = self.limits.get(kind)
            if type_limit is None:
                raise MalformedMessage(f"invalid frontend message type {kind}")
            limit = min(limit, type_limit)
        if length < 4 or length - 4 > limit:
            raise MalformedMessage(
                f"invalid message length {length} (server.max_message_bytes is {self.max_message_bytes})"
            )
        if available < length + 1:
            return None
        return kind, self._take(pos + 5, pos + 1 + length)

    async def read(self) -> tuple[int, bytes]:
        """The next message, waiting for the network (and the memory budget) as needed."""
        self._settle()
        while True:
            message = self.pop()
            if message is not None:
                return message
            await self._count()
            await self._fill()

    async def read_startup(self) -> bytes:
        """An untyped startup-phase packet (StartupMessage, SSLRequest, CancelRequest...)."""
        while self.buffered < 4:
            await self._fill()
        (length,) = _LENGTH.unpack_from(self._buf, self._pos)
        if length < 8 or length > MAX_STARTUP_PACKET:
            raise MalformedMessage("invalid length of startup packet")
        while self.buffered < length:
            await self._fill()
        return self._take(self._pos + 4, self._pos + length)


class MessageWriter:
    """Coalesces backend messages; :meth:`flush` hands them to the transport."""

    __slots__ = ("_buf", "_stream")

    #: Pending bytes above which a streaming result is flushed and drained.
    HIGH_WATER = 64 * 1024

    def __init__(self, stream: asyncio.StreamWriter) -> None:
        self._stream = stream
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def write_large(self, data: bytes | bytearray | memoryview) -> None:
        """Send a big bytes-like object without copying it into the buffer."""
        self.flush()
        if not isinstance(data, bytes | bytearray | memoryview):
            data = memoryview(data)  # e.g. a pyarrow Buffer
        self._write(data)

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        # uvloop raises RuntimeError ("the handler is closed") for a transport the client closed
        if self._stream.is_closing():
            raise ConnectionClosed("the client closed the connection")
        try:
            self._stream.write(data)
        except (ConnectionError, OSError, RuntimeError) as exc:
            raise ConnectionClosed(str(exc)) from exc

    def flush(self) -> None:
        """Give buffered bytes to the transport (which sends what the socket accepts now).

        A fresh buffer replaces the old one because some transports keep a view of it.
        """
        if self._buf:
            data = self._buf
            self._buf = bytearray()
            self._write(data)

    def backlog(self) -> int:
        """Bytes handed to the transport and not yet sent."""
        return self._stream.transport.get_write_buffer_size()

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark."""
        try:
            await self._stream.drain()
        except (ConnectionError, OSError) as exc:
            raise ConnectionClosed(str(exc)) from exc

    async def flush_and_drain(self) -> None:
        self.flush()
        await self.drain()


async def next_message(reader: MessageReader, out: MessageWriter) -> tuple[int, bytes]:
    """The next client message: a buffered one, or, once what was written is flushed, one read."""
    message = reader.pop()
    if message is None:
        out.flush()
        message = await reader.read()
    return message
