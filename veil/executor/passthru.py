"""Pass-through results: DataRows encoded by a PostgreSQL source, forwarded as they are.

A statement pushed down whole to a PostgreSQL source whose connection passes statements through
(policies are already part of the pushed SQL) runs over Veil's own protocol client on the event
loop, with the client's result format codes (:mod:`veil.catalog.sources.postgres.passthrough`); this
stream hands the source's DataRow messages to the wire front end, reading the source's socket
only as fast as the client takes the rows.

A statement run this way once is handed to the wire front end as a :class:`FastPassthrough`:
its next executions go straight from the client's Bind to the source's prepared statement and
back (:mod:`veil.catalog.sources.postgres.fastrun`), audited as the slow path audits them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from time import perf_counter
from typing import Protocol

import pyarrow as pa

from veil.admin.audit import AuditLog, AuditRecord, RecordTemplate, TemplateSlot
from veil.api import EncodedRows
from veil.catalog.sources.postgres.fastrun import FastReply, FastRun, start_fast, start_typed
from veil.catalog.sources.postgres.passthrough import (
    PassthroughCursor,
    PassthroughPool,
    SessionSettings,
    text_parameters,
    typed_key,
)
from veil.errors import QueryCanceled, VeilError
from veil.executor.lanes import bulk_lane

ErrorMapper = Callable[[BaseException], VeilError]
#: Told when a cursor starts running (it may raise: the session was canceled meanwhile) and ends.
Running = Callable[[PassthroughCursor, bool], None]


class PassthroughSource(Protocol):
    async def passthrough_cursor(
        self, sql: str, schema: pa.Schema, settings: SessionSettings
    ) -> PassthroughCursor | None: ...


@dataclass(frozen=True)
class Passthrough:
    """One pass-through execution: the pushed SQL, the schema already described to the client,
    bind values (hash key included), the session's settings and the client's result format
    code of each column."""

    sql: str
    schema: pa.Schema
    values: Sequence[object | None]
    settings: SessionSettings
    formats: Sequence[int]


async def run_passthrough(
    source: PassthroughSource, request: Passthrough, running: Running, map_error: ErrorMapper
) -> EncodedStream | None:
    """Start ``request`` on ``source``; ``None`` when the source cannot pass it through."""
    try:
        cursor = await source.passthrough_cursor(request.sql, request.schema, request.settings)
    except Exception as exc:  # noqa: BLE001 - a describe error of any kind becomes a PostgreSQL error
        raise map_error(exc) from None
    if cursor is None:
        return None

    def finished() -> None:
        running(cursor, False)
        cursor.close()

    try:
        running(cursor, True)
        first = await cursor.execute(request.sql, request.values, request.formats)
    except BaseException as exc:
        finished()
        if isinstance(exc, Exception):  # any source error becomes a PostgreSQL error
            raise map_error(exc) from None
        raise
    return EncodedStream(request.schema, cursor, first, finished, map_error)


class EncodedStream:
    """DataRow chunks pulled from a pass-through cursor; the cursor is released whatever ends
    the stream."""

    def __init__(
        self,
        schema: pa.Schema,
        cursor: PassthroughCursor,
        first: tuple[bytes, int] | None,
        on_close: Callable[[], None],
        map_error: ErrorMapper,
    ) -> None:
        self.schema = schema
        self._cursor = cursor
        self._first = first
        self._on_close = on_close
        self._map_error = map_error
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[EncodedRows]:
        try:
            chunk, self._first = self._first, None
            lane = bulk_lane()
            while chunk is not None and not self._closed:
                yield EncodedRows(*chunk)
                try:
                    chunk = await self._cursor.next_chunk()
                    if chunk is not None:
                        await lane.turn()  # a chunk after the first: scans cannot delay points
                except Exception as exc:  # noqa: BLE001 - source errors of any kind become PostgreSQL errors
                    raise self._map_error(exc) from None
        finally:
            await self.close()

    def command_tag(self, rows_sent: int) -> str:
        return f"SELECT {rows_sent}"

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close()


class FastExecution:
    """One execution on the fast path: the source run, and when it started (for its audit record)."""

    __slots__ = ("_canceled", "_started", "_statement", "_time", "run")

    def __init__(self, statement: FastPassthrough, run: FastRun) -> None:
        self._statement = statement
        self.run = run
        self._time = datetime.now(UTC).isoformat()  # what AuditRecord's defaults would take
        self._started = perf_counter()
        self._canceled = False

    def succeeded(self, rows: int, size: int) -> None:
        """Audit the statement: ``rows`` DataRows of ``size`` bytes were sent."""
        statement = self._statement
        template = statement.template()
        if template is not None:
            statement.audit().write_repeated(template, self._time, self._started, rows, size)
            return
        record = statement.record()
        record.time, record.started, record.rows, record.bytes = self._time, self._started, rows, size
        statement.audit().write(record)

    def failed(self, error: VeilError) -> VeilError:
        """The error to send for a source error (as the slow path maps it), audited."""
        statement = self._statement
        mapped = QueryCanceled() if self._canceled else statement.redact(error)
        record = statement.record()
        record.time, record.started = self._time, self._started
        statement.audit().fail(record, mapped)
        return mapped

    def cancel(self) -> None:
        self._canceled = True
        self.run.interrupt()


class FastPassthrough:
    """A prepared statement a session already ran through pass-through, runnable again without
    the engine: the session hands it out only while its plan stays valid (same catalog
    generation, same user) and the source still finds the statement passable.

    The client's parameter values are forwarded as they are (see :meth:`start`); the work
    around them is saved too (no portal, no stream objects, no task switch, and the audit
    record's line is assembled from a template made once per application_name)."""

    __slots__ = (
        "_key",
        "_template",
        "application_name",
        "audit",
        "key_param",
        "parameters",
        "pool",
        "record",
        "redact",
        "schema",
        "settings",
        "sql",
        "typed",
    )

    def __init__(
        self,
        sql: str,
        schema: pa.Schema,
        pool: Callable[[], PassthroughPool | None],
        parameters: Callable[[Sequence[object | None]], Sequence[object | None]],
        key_param: int | None,
        settings: Callable[[], SessionSettings],
        record: Callable[[], AuditRecord],
        audit: Callable[[], AuditLog],
        redact: Callable[[VeilError], VeilError],
        application_name: Callable[[], str],
    ) -> None:
        self.sql, self.schema = sql, schema
        self.pool, self.parameters, self.settings = pool, parameters, settings
        self.record, self.audit, self.redact = record, audit, redact
        self.application_name = application_name
        self.key_param = key_param
        self.typed = True  # False once the source refused the client's parameter types
        self._key: tuple[tuple[int, ...], str] | None = None
        self._template = TemplateSlot()

    def template(self) -> RecordTemplate | None:
        """The audit line template of a successful execution, for the current application_name
        (``None``: the statement's text holds a template sentinel, write whole records)."""
        return self._template.get(self.application_name(), self.record)

    def start(
        self,
        types: Sequence[int],
        bound: bytes,
        decode: Callable[[], Sequence[object | None]],
        formats: Sequence[int],
        reply: FastReply,
    ) -> FastExecution | None:
        """Send the statement; ``None`` (nothing sent) when the slow path must run it.

        ``bound`` is the client's Bind from its parameter format codes on, forwarded as it is to
        the source's statement prepared with the parameter ``types`` reported to the client,
        unless Veil adds a value of its own (the hash key) or the source refused those types;
        then the values ``decode`` returns are dumped as text, as the slow path sends them."""
        pool = self.pool()
        if pool is None:
            return None
        if self.key_param is None and self.typed:
            cached = self._key
            if cached is None or cached[0] != types:
                cached = self._key = (tuple(types), typed_key(self.sql, types))
            run = start_typed(pool, self.settings(), self.sql, cached[1], types, bound, reply, self._refused)
        else:
            values = text_parameters(self.parameters(decode()))
            run = start_fast(pool, self.settings(), self.sql, values, formats, reply)
        if run is None:
            return None
        return FastExecution(self, run)

    def _refused(self) -> None:
        self.typed = False
