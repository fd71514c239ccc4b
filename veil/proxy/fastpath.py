"""The pass-through fast path: a repeated prepared statement served from the socket callbacks.

A client that re-executes a prepared statement sends Bind, Describe (portal), Execute and Sync
in one write. When the connection waits for a new message with every byte before consumed, and
the bytes that arrive are exactly such a group (unnamed portal, no row limit) for a statement
the session already ran through pass-through (:meth:`Session.fast_passthrough`: policies were
applied when it was planned for this user), the statement is served right there: the client's
parameters go to the source's prepared statement in one write, as they are when the source
statement has the parameter types reported to the client
(:mod:`veil.catalog.sources.postgres.fastrun`), and the source's reply is relayed from its data
callback: BindComplete and the RowDescription Veil serves, the source's DataRows and
CommandComplete as they are, then Veil's own ReadyForQuery. No message loop turn, portal,
stream object or task switch is spent on it.

Everything else goes to the message loop, in order: a group the fast path cannot take, bytes
that arrive while a fast statement is in flight (held, then fed to the loop or taken again), and
a statement whose pooled connection turned out to be gone before the source answered (fed to
the loop whole, which runs it on a fresh connection). Errors are mapped and audited as the slow
path does; cancel requests reach the source query; the client's pace holds the source back.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import Protocol

import pyarrow as pa

from veil.api import EngineSession, PreparedStatement
from veil.errors import VeilError
from veil.executor.cache.fasthit import FastCacheHit
from veil.executor.passthru import FastExecution, FastPassthrough
from veil.proxy import messages
from veil.proxy.fasthit import serve_hit
from veil.proxy.framing import ConnectionClosed, MessageReader, MessageWriter
from veil.proxy.portal import Portal, decode_parameters, expand_formats

log = logging.getLogger("veil.proxy")

_LENGTH = struct.Struct("!i")
#: Describe of the unnamed portal, Execute of it with no row limit, Sync: what must follow Bind.
_DESCRIBE = b"D\0\0\0\x06P\0"
_EXECUTE_SYNC = b"E\0\0\0\x09\0\0\0\0\0" + b"S\0\0\0\x04"
_DESCRIBE_EXECUTE_SYNC = _DESCRIBE + _EXECUTE_SYNC
#: Larger groups (big parameters) take the message loop, with its memory accounting.
_MAX_GROUP = 64 * 1024
#: Unsent bytes above which the source is not read until the client catches up.
_CLIENT_BEHIND = 256 * 1024
_BIND = ord("B")


class FastPathStats:
    """Statements the fast path served (with their outcome), process-wide."""

    __slots__ = ("served",)

    def __init__(self) -> None:
        self.served = 0


STATS = FastPathStats()


class ClientProtocol(asyncio.StreamReaderProtocol):
    """The client socket's protocol: each chunk is offered to the fast path before the stream."""

    fast: FastPath | None = None

    def data_received(self, data: bytes) -> None:
        fast = self.fast
        if fast is None or not fast.receive(data):
            super().data_received(data)

    def feed(self, data: bytes) -> None:
        """Hand bytes to the stream the message loop reads."""
        super().data_received(data)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.fast is not None:
            self.fast.writable()


class FastHost(Protocol):
    """What the fast path uses of its :class:`~veil.proxy.connection.Connection`."""

    statements: dict[str, PreparedStatement]
    portals: dict[str, Portal]
    session: EngineSession | None
    reader: MessageReader
    out: MessageWriter
    timezone: str
    skipping: bool

    def row_description(self, schema: pa.Schema, formats: list[int]) -> bytes: ...


class FastPath:
    """Serves repeated pass-through statements of one connection (implements ``FastReply``)."""

    def __init__(
        self,
        host: FastHost,
        protocol: ClientProtocol,
        tickets: Callable[[PreparedStatement], FastPassthrough | FastCacheHit | None],
    ) -> None:
        self._host = host
        self._protocol = protocol
        self._tickets = tickets
        self._execution: FastExecution | None = None
        self._group = b""  # the client's bytes of the statement in flight
        self._head: bytes | None = None  # BindComplete (+ RowDescription) until sent
        self._rows = 0
        self._size = 0
        self._held: list[bytes] = []
        self._closing: set[asyncio.Task[None]] = set()

    # --- client side ----------------------------------------------------------------------

    def receive(self, data: bytes) -> bool:
        """Take ``data`` (serve it, or hold it behind the statement in flight); False: the
        message loop must read it."""
        if self._execution is not None:
            self._held.append(data)
            return True
        host = self._host
        if not host.reader.idle or host.skipping:
            return False
        try:
            taken = self._start(data)
        except VeilError:  # the message loop reports it as it always does
            taken = False
        except Exception:
            log.exception("the pass-through fast path failed; the statement takes the message loop")
            taken = False
        if not taken:
            host.reader.idle = False  # later bytes follow these through the stream
        return taken

    def _start(self, data: bytes) -> bool:
        size = len(data)
        if size < 5 or data[0] != _BIND or size > _MAX_GROUP or size > self._host.reader.max_message_bytes:
            return False
        end = 1 + _LENGTH.unpack_from(data, 1)[0]
        tail = data[end:]
        if end < 5 or (tail != _DESCRIBE_EXECUTE_SYNC and tail != _EXECUTE_SYNC):
            return False
        bind = messages.parse_bind(data[5:end])
        host = self._host
        statement = host.statements.get(bind.statement)
        if bind.portal or statement is None or statement.schema is None:
            return False
        ticket = self._tickets(statement)
        if ticket is None or not self._unnamed_portal_closed():
            return False
        if isinstance(ticket, FastCacheHit):
            return serve_hit(host, ticket, statement, bind, end, len(tail) != len(_EXECUTE_SYNC))
        oids = statement.param_oids
        if len(bind.values) != len(oids):
            return False
        formats = expand_formats(bind.result_formats, len(statement.schema), "result")
        timezone = host.timezone
        execution = ticket.start(  # the source expands result formats as PostgreSQL does
            oids,
            data[data.index(0, 6) + 1 : end],  # after the statement's name
            lambda: decode_parameters(bind.values, oids, bind.param_formats, timezone),
            bind.result_formats,
            self,
        )
        if execution is None:
            return False
        self._execution = execution
        STATS.served += 1
        self._group = data
        head = messages.BIND_COMPLETE
        if len(tail) != len(_EXECUTE_SYNC):
            head += host.row_description(statement.schema, formats)
        self._head = head
        self._rows = self._size = 0
        return True

    def _unnamed_portal_closed(self) -> bool:
        """Bind replaces the unnamed portal: a finished one is closed in the background, one
        still open (a row limit stopped it) leaves the statement to the message loop."""
        portal = self._host.portals.get("")
        if portal is None:
            return True
        if not portal.finished:
            return False
        del self._host.portals[""]
        task = asyncio.get_running_loop().create_task(portal.close())
        self._closing.add(task)
        task.add_done_callback(self._closed)
        return True

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("closing a portal failed: %s", exc)

    def writable(self) -> None:
        """The client's socket drained: read the source again."""
        if self._execution is not None:
            self._execution.run.resume()

    def cancel(self) -> bool:
        """CancelRequest: interrupt the statement in flight; False when there is none."""
        if self._execution is None:
            return False
        self._execution.cancel()
        return True

    def close(self) -> None:
        """The connection ends: a statement in flight is abandoned with its source connection."""
        execution, self._execution = self._execution, None
        self._held.clear()
        self._protocol.fast = None
        if execution is not None:
            execution.run.abort()

    # --- source side (FastReply) ----------------------------------------------------------

    def rows(self, data: bytes, count: int) -> bool:
        self._rows += count
        self._size += len(data)
        out = self._host.out
        self._write_head(out)
        out.write(data)
        if out.pending < out.HIGH_WATER:
            return False
        try:
            out.flush()
        except ConnectionClosed:
            self.close()
            return False
        return out.backlog() > _CLIENT_BEHIND

    def complete(self, command: bytes) -> None:
        execution, self._execution = self._execution, None
        if execution is None:
            return
        out = self._host.out
        self._write_head(out)
        out.write(command)
        self._ready(execution)

    def _write_head(self, out: MessageWriter) -> None:
        """BindComplete (and RowDescription) before the first reply message."""
        if self._head is not None:
            out.write(self._head)
            self._head = None

    def failed(self, error: VeilError, retry: bool) -> None:
        execution, self._execution = self._execution, None
        if execution is None:
            return
        if retry and self._head is not None:  # nothing sent: the message loop runs it afresh
            STATS.served -= 1
            self._feed(self._group)
            return
        host = self._host
        out = host.out
        if self._head is not None and execution.run.bound:  # a refused value: no BindComplete
            out.write(self._head)
        self._head = None
        out.write(messages.error_response(execution.failed(error)))
        assert host.session is not None
        host.session.mark_failed()
        self._ready(None)

    def _ready(self, succeeded: FastExecution | None) -> None:
        """ReadyForQuery, sent at once; then the audit record of a statement that succeeded
        (written before the loop serves anything else, off the client's critical path), then
        what the client sent meanwhile."""
        host = self._host
        assert host.session is not None
        host.out.write(messages.ready_for_query(host.session.transaction_status))
        try:
            host.out.flush()
        except ConnectionClosed:
            self._held.clear()  # the message loop sees the end of the stream
        if succeeded is not None:
            succeeded.succeeded(self._rows, self._size)
        if self._held:
            held = b"".join(self._held)
            self._held.clear()
            if not self.receive(held):
                self._protocol.feed(held)

    def _feed(self, data: bytes) -> None:
        held = b"".join(self._held)
        self._held.clear()
        self._host.reader.idle = False
        self._protocol.feed(data + held)
