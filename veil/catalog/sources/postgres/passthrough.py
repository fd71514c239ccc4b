"""Pass-through execution for PostgreSQL sources: a statement pushed down whole is run over
Veil's own protocol client (:mod:`.pgwire`) on the event loop, and the DataRow messages the
source sends are handed on as they are, in the result formats the client asked for column by
column (Bind carries the client's own format codes), with no Arrow conversion and no work per
value or per row beyond finding where the rows end.

Each pooled connection prepares a statement once per SQL text and reuses it: a repeated
statement is one Bind/Execute/Sync round trip. At most :data:`MAX_PREPARED` statements stay
prepared per connection; the least recently used one is closed (in the same round trip) to make
room. A connection handed to another user, or to a session with another TimeZone or
statement_timeout, is first reset to a new session's state (keeping its prepared statements)
and given that session's settings, in one round trip; for the same user and settings nothing is
sent (the pushed statements are verified SELECTs, whose functions the allow-list keeps from
changing session state). PostgreSQL thus prints what Veil's own encoder would: the output
settings DateStyle, IntervalStyle, extra_float_digits and bytea_output are fixed at connect time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from psycopg.adapt import PyFormat, Transformer

from veil.catalog.sources.postgres.wire import (
    ConnectionLost,
    ServerSilent,
    WireConnection,
    cstring,
    message,
    wire_error,
)
from veil.errors import VeilError
from veil.pgtypes import Interval

log = logging.getLogger(__name__)

#: Statements one connection keeps prepared; beyond that the least recently used is closed.
MAX_PREPARED = 256
#: Startup settings matching Veil's encoder (see veil.sql.settings.DEFAULTS).
OUTPUT_OPTIONS = {
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
}
#: What a reused connection runs before a query: a new session's state, prepared statements kept.
_RESET = "RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD TEMP; "
_SYNC = message(b"S")
_EXECUTE_ALL = message(b"E", b"\0" + b"\0\0\0\0")
#: Dumps bind values (used on the event loop only; it caches a dumper per Python type).
_DUMPER = Transformer()
_IGNORED = frozenset(b"NSA123ntT")  # notices, parameter status, notifications, completions, descriptions


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """The client session's settings a source query must run with, and whose they are."""

    timezone: str
    statement_timeout: str
    user: str = ""


class PassthroughConnection:
    """A protocol session with the statements it has prepared, by SQL text, or by
    :func:`typed_key` for those prepared with parameter types (least recently used first)."""

    def __init__(self, wire: WireConnection) -> None:
        self.wire = wire
        self.prepared: OrderedDict[str, bytes] = OrderedDict()
        self.settings: SessionSettings | None = None
        self._names = 0

    def next_name(self) -> bytes:
        self._names += 1
        return f"veil_{self._names}".encode()

    def parse(self, sql: str, types: Sequence[int] = ()) -> tuple[bytes, bytes]:
        """A new statement name for ``sql`` and the messages that prepare it with parameter
        ``types`` (none: the source infers them), after closing the least recently used
        statement when :data:`MAX_PREPARED` are kept. The caller records it in :attr:`prepared`
        once the source confirms it (ParseComplete)."""
        close = b""
        if len(self.prepared) >= MAX_PREPARED:
            _, oldest = self.prepared.popitem(last=False)
            close = message(b"C", b"S" + cstring(oldest))
        name = self.next_name()
        return name, close + message(
            b"P", cstring(name) + cstring(sql) + struct.pack(f"!h{len(types)}I", len(types), *types)
        )

    @property
    def healthy(self) -> bool:
        return self.wire.healthy

    def close(self) -> None:
        self.wire.close()


class PassthroughPool:
    """Idle pass-through connections of one source, reused across statements on the event loop
    that opened them; ``connect`` opens one within the source's connect timeout."""

    def __init__(
        self, connect: Callable[[], Awaitable[WireConnection]], max_idle: int = 8, idle_seconds: float = 60.0
    ) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._idle: list[tuple[PassthroughConnection, float]] = []
        self._closed = False

    async def acquire(self, settings: SessionSettings | None = None) -> tuple[PassthroughConnection, bool]:
        """A connection, and whether it was reused (a reused one may have gone stale): one that
        already runs with ``settings`` if one is idle, else the most recently used."""
        connection = self.take_idle(settings, exact=False)
        if connection is not None:
            return connection, True
        return await self.fresh(), False

    def take_idle(self, settings: SessionSettings | None, exact: bool = True) -> PassthroughConnection | None:
        """The most recently used idle connection still usable on this event loop that runs
        with ``settings`` (``exact``: none other), if any; stale ones found are closed."""
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        idle = self._idle
        for index in range(len(idle) - 1, -1, -1):
            connection, since = idle[index]
            if now - since > self._idle_seconds or connection.wire.loop is not loop or not connection.healthy:
                del idle[index]
                connection.close()
            elif connection.settings is settings or connection.settings == settings:
                del idle[index]
                return connection
        if exact or not idle:
            return None
        return idle.pop()[0]

    async def fresh(self) -> PassthroughConnection:
        return PassthroughConnection(await self._connect())

    def release(self, connection: PassthroughConnection, reusable: bool) -> None:
        if reusable and connection.healthy and not self._closed and len(self._idle) < self._max_idle:
            self._idle.append((connection, time.monotonic()))
        else:
            connection.close()

    @property
    def idle(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.close()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def text_parameters(params: Sequence[object | None]) -> list[bytes | None]:
    """Bind values in PostgreSQL's text form (psycopg's dumpers), for the statement's own types."""
    if not params:
        return []
    if all(type(value) is int for value in params):  # the usual key: what psycopg's int dumper writes
        return [str(value).encode() for value in params]
    values = [value.text() if isinstance(value, Interval) else value for value in params]
    dumped = _DUMPER.dump_sequence(values, [PyFormat.TEXT] * len(values))
    return [None if value is None else bytes(value) for value in dumped]


def typed_key(sql: str, types: Sequence[int]) -> str:
    """The :attr:`PassthroughConnection.prepared` key of ``sql`` prepared with parameter ``types``
    (SQL text never holds a NUL)."""
    return f"{sql}\0{','.join(map(str, types))}"


def bind(name: bytes, values: Sequence[bytes | None], formats: Sequence[int]) -> bytes:
    """Bind of the unnamed portal: text parameters, the client's result format codes (none, one
    for every column, or one per column, as the protocol allows)."""
    parts = [b"\0", name, b"\0\0\0", len(values).to_bytes(2, "big")]
    for value in values:
        if value is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(len(value).to_bytes(4, "big"))
            parts.append(value)
    parts.append(struct.pack(f"!h{len(formats)}h", len(formats), *formats))
    return message(b"B", b"".join(parts))


class PassthroughCursor:
    """One statement on a pooled connection: its DataRows are read chunk by chunk as the
    consumer asks for them. The connection goes back to the pool only when its result was read
    to the end (ReadyForQuery) and the statement was not interrupted; ``interrupt`` (the
    session's cancel, from any thread) sends the source a CancelRequest."""

    def __init__(self, pool: PassthroughPool, settings: SessionSettings, default_timeout_ms: int) -> None:
        self._pool = pool
        self._settings = settings
        self._default_timeout_ms = default_timeout_ms
        self._connection: PassthroughConnection | None = None
        self._done = False
        self._clean = False
        self._interrupted = False
        self._cancelling: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self._done

    async def execute(
        self, sql: str, params: Sequence[object | None], formats: Sequence[int]
    ) -> tuple[bytes, int] | None:
        """Send the statement; its first DataRows and their count (``None``: no rows at all)."""
        values = text_parameters(params)
        connection, reused = await self._pool.acquire(self._settings)
        self._connection = connection
        try:
            await self._start(connection, sql, values, formats)
        except ConnectionLost as exc:
            if not reused or self._interrupted or isinstance(exc, ServerSilent):
                raise
            self._pool.release(connection, False)  # dropped while idle: once more on a fresh one
            self._connection = None
            connection = await self._pool.fresh()
            self._connection = connection
            await self._start(connection, sql, values, formats)
        return await self.next_chunk()

    async def _start(
        self, connection: PassthroughConnection, sql: str, values: Sequence[bytes | None], formats: Sequence[int]
    ) -> None:
        settings = self._settings
        if connection.settings != settings:
            # Another user (or other settings): a new session's state first, then this session's.
            prefix = "" if connection.settings is None else _RESET
            connection.settings = None
            timeout = settings.statement_timeout
            if timeout.strip() in ("", "0"):
                timeout = str(self._default_timeout_ms)
            await self._simple(
                connection,
                f"{prefix}SET TimeZone = {_literal(settings.timezone)}; SET statement_timeout = {_literal(timeout)}",
            )
            connection.settings = settings
        prepared = connection.prepared
        name = prepared.get(sql)
        parts = []
        if name is None:
            name, parse = connection.parse(sql)
            parts.append(parse)
        else:
            prepared.move_to_end(sql)
        parts += (bind(name, values, formats), _EXECUTE_ALL, _SYNC)
        connection.wire.send(b"".join(parts))
        # Until the rows (or the error that ends the statement): ParseComplete, BindComplete.
        while True:
            kind, body = await self._message(connection)
            if kind == ord("1"):
                prepared[sql] = name
            elif kind == ord("2"):
                return
            elif kind == ord("E"):
                raise await self._error(connection, body)

    async def _message(self, connection: PassthroughConnection) -> tuple[int, bytes]:
        try:
            return await connection.wire.message()
        except ConnectionLost:
            connection.wire.broken = "lost"
            raise

    async def _until_ready(self, connection: PassthroughConnection) -> None:
        """Read up to ReadyForQuery: the connection may then serve another statement."""
        while (await self._message(connection))[0] != ord("Z"):
            pass
        self._done = self._clean = True

    async def _error(self, connection: PassthroughConnection, body: bytes) -> VeilError:
        """The statement's ErrorResponse, once the connection is ready again or gone: a FATAL
        error (57P01 from pg_terminate_backend, say) ends the session before ReadyForQuery."""
        try:
            await self._until_ready(connection)
        except ConnectionLost:
            self._done = True
        return wire_error(body)

    async def _simple(self, connection: PassthroughConnection, sql: str) -> None:
        """Run commands that return nothing Veil needs; the first error (with SQLSTATE) is raised."""
        connection.wire.send(message(b"Q", cstring(sql)))
        error = None
        while True:
            kind, body = await self._message(connection)
            if kind == ord("E") and error is None:
                error = wire_error(body)
            elif kind == ord("Z"):
                break
        if error is not None:
            raise error

    async def next_chunk(self) -> tuple[bytes, int] | None:
        """The next DataRows (contiguous messages) and their count, or ``None`` at the end."""
        connection = self._connection
        if self._done or connection is None:
            return None
        wire = connection.wire
        try:
            while True:
                rows, count = await wire.data_rows()
                if count:
                    return rows, count
                kind, body = await wire.message()
                if kind in (ord("C"), ord("I")):
                    await self._until_ready(connection)
                    return None
                if kind == ord("E"):
                    raise await self._error(connection, body)
                if kind not in _IGNORED:
                    connection.wire.broken = f"unexpected message {chr(kind)!r}"
                    raise VeilError("08P01", f"PostgreSQL sent an unexpected message {chr(kind)!r}")
        except ConnectionLost:
            wire.broken = "lost"
            self._done = True
            raise

    def interrupt(self) -> None:
        """Cancel the source query (callable from any thread)."""
        self._interrupted = True
        connection = self._connection
        if connection is None or self._done:
            return
        loop = connection.wire.loop
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs any more
            loop.call_soon_threadsafe(self._send_cancel, connection)

    def _send_cancel(self, connection: PassthroughConnection) -> None:
        if self._done or self._cancelling is not None:
            return
        self._cancelling = asyncio.get_running_loop().create_task(connection.wire.cancel(timeout=10.0))
        self._cancelling.add_done_callback(_log_cancel_failure)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection, self._clean and self._done and not self._interrupted)


def _log_cancel_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("cancelling a pass-through query failed: %s", exc)
