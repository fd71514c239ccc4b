"""The source side of the pass-through fast path: one execution of a statement already prepared
on a pooled connection, sent as one write and read from the socket's data callback.

A repeated statement needs no Parse: Bind (the client's result format codes), Execute and Sync
go out in one write (:func:`start_typed`: with the client's parameter bytes, to a statement
prepared with the parameter types the client was given, prepared in the same write the first
time), and the reply is cut at message boundaries in the receive buffer as it
arrives, with no task switch and no object per message: a run of DataRows is handed on as one
``bytes``, CommandComplete as it is; ParameterStatus and notices are dropped, as
:class:`~.passthrough.PassthroughCursor` drops them. The connection returns to the pool at
ReadyForQuery unless the statement was interrupted or the connection broke. What
:class:`~.passthrough.PassthroughCursor` needs a round trip for (a new session's settings, a
statement not yet prepared on this connection, no idle connection) is left to it:
:func:`start_fast` answers ``None`` and sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable, Sequence
from typing import Protocol

from veil.catalog.sources.postgres.passthrough import PassthroughConnection, PassthroughPool, SessionSettings, bind
from veil.catalog.sources.postgres.wire import ConnectionLost, ServerSilent, message, wire_error
from veil.errors import VeilError

log = logging.getLogger(__name__)

_I32 = struct.Struct("!i")
_EXECUTE_SYNC = message(b"E", b"\0\0\0\0\0") + message(b"S")
_DATA_ROW, _BIND_COMPLETE, _COMMAND_COMPLETE, _READY, _ERROR, _PARSE_COMPLETE = (ord(c) for c in "D2CZE1")
_IGNORED = frozenset(b"NSA3")  # notices, parameter status, notifications, CloseComplete


class FastReply(Protocol):
    """Where a fast execution hands the source's reply (the wire front end)."""

    def rows(self, data: bytes, count: int) -> bool:
        """``count`` DataRow messages, back to back; True: the client is behind, so the source is
        not read until :meth:`FastRun.resume`."""
        ...

    def complete(self, command: bytes) -> None:
        """The statement's CommandComplete message; the source connection is ready again."""
        ...

    def failed(self, error: VeilError, retry: bool) -> None:
        """The statement ended with ``error``. ``retry``: the pooled connection was lost before
        the source answered anything (it went away while idle): nothing ran, run it elsewhere."""
        ...


def start_fast(
    pool: PassthroughPool,
    settings: SessionSettings,
    sql: str,
    values: Sequence[bytes | None],
    formats: Sequence[int],
    reply: FastReply,
) -> FastRun | None:
    """Send ``sql`` (text parameter ``values``, result ``formats``) on an idle pooled connection
    that has it prepared and runs with ``settings``; ``None`` (nothing sent) otherwise."""
    connection = pool.take_idle(settings)
    if connection is None:
        return None
    name = connection.prepared.get(sql)
    if name is None:
        pool.release(connection, True)
        return None
    connection.prepared.move_to_end(sql)
    return _send(FastRun(pool, connection, reply), bind(name, values, formats))


def start_typed(
    pool: PassthroughPool,
    settings: SessionSettings,
    sql: str,
    key: str,
    types: Sequence[int],
    bound: bytes,
    reply: FastReply,
    refused: Callable[[], None],
) -> FastRun | None:
    """Send ``sql`` prepared with parameter ``types`` (:func:`~.passthrough.typed_key` ``key``) on an idle
    pooled connection that runs with ``settings``, preparing it there first if needed; ``bound``
    is the client's Bind from its parameter format codes on (values and result formats), sent
    as it is: the source reads each value as PostgreSQL itself would, with the same types.
    When the source refuses those types (Parse fails), ``refused`` is called and the reply is
    a retry: nothing ran. ``None`` (nothing sent): no idle connection."""
    connection = pool.take_idle(settings)
    if connection is None:
        return None
    name = connection.prepared.get(key)
    parse = b""
    if name is None:
        name, parse = connection.parse(sql, types)
    else:
        connection.prepared.move_to_end(key)
    run = FastRun(pool, connection, reply)
    if parse:
        run.parsing = (key, name, refused)
    return _send(run, parse + message(b"B", b"\0" + name + b"\0" + bound))


def _send(run: FastRun, bound: bytes) -> FastRun | None:
    try:
        run.connection.wire.send(bound + _EXECUTE_SYNC)
    except ConnectionLost:
        run.abort()
        return None
    run.watch()
    return run


class FastRun:
    """One statement in flight on a pooled connection, read from the socket's data callback."""

    __slots__ = (
        "_bound",
        "_broken",
        "_cancelling",
        "_done",
        "_error",
        "_interrupted",
        "_paused",
        "_pool",
        "_reader",
        "_reply",
        "_tag",
        "_timer",
        "connection",
        "parsing",
    )

    def __init__(self, pool: PassthroughPool, connection: PassthroughConnection, reply: FastReply) -> None:
        self._pool = pool
        self.connection = connection
        self._reader = connection.wire.reader
        self._reply = reply
        self._bound = False  # BindComplete received: the source answered
        self._broken = False
        self._tag: bytes | None = None
        self._error: VeilError | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._interrupted = False
        self._paused = False
        self._done = False
        self._cancelling: asyncio.Task[None] | None = None
        #: a statement being prepared: its key, name, and what to tell when the source refuses it
        self.parsing: tuple[str, bytes, Callable[[], None]] | None = None
        self._reader.listener = self._arrived

    @property
    def bound(self) -> bool:
        """The source accepted the Bind (its parameter values)."""
        return self._bound

    def watch(self) -> None:
        """Give the statement up when the server stays silent past the connection's read timeout."""
        timeout = self.connection.wire.read_timeout
        if timeout is not None:
            self._timer = self.connection.wire.loop.call_later(timeout, self._check_silence, self._reader.arrivals)

    def _arrived(self) -> None:
        if self._done:
            return
        reader = self._reader
        buffer = reader.buffer
        end = len(buffer)
        position = 0
        unpack = _I32.unpack_from
        while end - position >= 5:
            kind = buffer[position]
            following = position + 1 + unpack(buffer, position + 1)[0]
            if following > end:
                break
            if kind == _DATA_ROW:
                start, count = position, 0
                while True:
                    position, count = following, count + 1
                    if end - position < 5 or buffer[position] != _DATA_ROW:
                        break
                    following = position + 1 + unpack(buffer, position + 1)[0]
                    if following > end:
                        break
                with memoryview(buffer) as view:
                    rows = bytes(view[start:position])
                if self._reply.rows(rows, count) and not self._paused and reader.transport is not None:
                    self._paused = True
                    reader.transport.pause_reading()
                continue
            if kind == _READY:
                del buffer[:following]
                self._finish()
                return
            if kind == _COMMAND_COMPLETE:
                self._tag = bytes(buffer[position:following])
            elif kind == _BIND_COMPLETE:
                self._bound = True
            elif kind == _PARSE_COMPLETE and self.parsing is not None:
                key, name, _ = self.parsing
                self.connection.prepared[key] = name
                self.parsing = None
            elif kind == _ERROR:
                if self._error is None:
                    self._error = wire_error(bytes(buffer[position + 5 : following]))
            elif kind not in _IGNORED:
                self._broken = True
                self.connection.wire.broken = f"unexpected message {chr(kind)!r}"
                self._error = self._error or VeilError("08P01", f"PostgreSQL sent an unexpected message {chr(kind)!r}")
            position = following
        if position:
            del buffer[:position]
        if reader.lost is not None:
            self._lost()

    def _detach(self) -> None:
        self._done = True
        reader = self._reader
        reader.listener = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._paused:
            self._paused = False
            if reader.transport is not None and not reader.transport.is_closing():
                reader.transport.resume_reading()

    def _finish(self) -> None:
        self._detach()
        self._pool.release(self.connection, not (self._interrupted or self._broken))
        if self._error is None and self._tag is not None:
            self._reply.complete(self._tag)
        elif self.parsing is not None and self._error is not None:  # the source refused the types
            self.parsing[2]()
            self._reply.failed(self._error, True)
        else:
            error = self._error or VeilError("08P01", "PostgreSQL ended the statement without completing it")
            self._reply.failed(error, False)

    def _lost(self, error: VeilError | None = None) -> None:
        """The connection went away (or stayed silent) before ReadyForQuery."""
        self._detach()
        reader = self._reader
        self.connection.wire.broken = "lost"
        self._pool.release(self.connection, False)
        if self._error is not None:  # a FATAL error ends the session before ReadyForQuery
            self._reply.failed(self._error, False)
            return
        if error is None:
            error = ConnectionLost(reader.lost or "the connection was closed")
        self._reply.failed(error, not self._bound and not self._interrupted and not reader.silent)

    def _check_silence(self, seen: int) -> None:
        self._timer = None
        if self._done:
            return
        reader = self._reader
        if reader.arrivals != seen or self._paused:  # data came (or the client is the slow one)
            self.watch()
            return
        timeout = self.connection.wire.read_timeout
        reader.lost = reader.lost or f"no answer from the server within {timeout:g} s"
        reader.silent = True
        self._lost(ServerSilent(reader.lost))

    def resume(self) -> None:
        """The client caught up: read the source again."""
        if self._paused and not self._done:
            self._paused = False
            transport = self._reader.transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def interrupt(self) -> None:
        """Cancel the source query (callable from any thread): a CancelRequest on a new socket."""
        self._interrupted = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs any more
            self.connection.wire.loop.call_soon_threadsafe(self._send_cancel)

    def _send_cancel(self) -> None:
        if self._done or self._cancelling is not None:
            return
        self._cancelling = asyncio.get_running_loop().create_task(self.connection.wire.cancel(timeout=10.0))
        self._cancelling.add_done_callback(_log_cancel_failure)

    def abort(self) -> None:
        """The client went away: the connection is closed with its unread reply."""
        if not self._done:
            self._detach()
            self._broken = True
            self._pool.release(self.connection, False)


def _log_cancel_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("cancelling a pass-through query failed: %s", exc)
