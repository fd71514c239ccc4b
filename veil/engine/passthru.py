"""Pass-through results: DataRows encoded by a PostgreSQL source, forwarded as they are.

A statement pushed down whole to a PostgreSQL source whose connection enables ``passthrough``
(policies are already part of the pushed SQL) is read with libpq in the client's result format
(:mod:`veil.catalog.sources.postgres.passthrough`); this stream hands its DataRow chunks to the wire front
end, reading one chunk ahead on a worker thread like :class:`veil.engine.results.ReaderStream`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from veil.catalog.sources.postgres.passthrough import PassthroughCursor, SessionSettings
from veil.engine.api import EncodedRows
from veil.engine.workers import in_worker, start_in_worker
from veil.errors import VeilError

ErrorMapper = Callable[[BaseException], VeilError]
#: Told when a cursor starts running (it may raise: the session was canceled meanwhile) and ends.
Running = Callable[[PassthroughCursor, bool], None]


class PassthroughSource(Protocol):
    def passthrough_cursor(
        self, sql: str, schema: pa.Schema, settings: SessionSettings
    ) -> PassthroughCursor | None: ...


@dataclass(frozen=True)
class Passthrough:
    """One pass-through execution: the pushed SQL, the schema already described to the client,
    bind values (hash key included), the session's settings and the result format."""

    sql: str
    schema: pa.Schema
    values: Sequence[object | None]
    settings: SessionSettings
    binary: bool


async def run_passthrough(
    source: PassthroughSource, request: Passthrough, running: Running, map_error: ErrorMapper
) -> EncodedStream | None:
    """Start ``request`` on ``source``; ``None`` when the source cannot pass it through."""
    opened: list[PassthroughCursor] = []

    def start() -> tuple[PassthroughCursor, list[bytes] | None] | None:
        cursor = source.passthrough_cursor(request.sql, request.schema, request.settings)
        if cursor is None:
            return None
        opened.append(cursor)
        running(cursor, True)
        return cursor, cursor.execute(request.sql, request.values, request.binary)

    def finished() -> None:
        running(opened[0], False)
        opened[0].close()

    try:
        started = await in_worker(start)
    except Exception as exc:  # noqa: BLE001 - any libpq error becomes a PostgreSQL error
        if opened:
            finished()
        raise map_error(exc) from None
    if started is None:
        return None
    return EncodedStream(request.schema, started[0], started[1], finished, map_error)


def uniform_format(formats: Sequence[int] | None) -> bool | None:
    """``True`` for all binary, ``False`` for all text, ``None`` when mixed or unknown."""
    if formats is None:
        return None
    if all(code == 0 for code in formats):
        return False
    if all(code == 1 for code in formats):
        return True
    return None


class EncodedStream:
    """DataRow chunks pulled from a pass-through cursor; the cursor closes only once no read
    is in flight, whatever ends the stream."""

    def __init__(
        self,
        schema: pa.Schema,
        cursor: PassthroughCursor,
        first: list[bytes] | None,
        on_close: Callable[[], None],
        map_error: ErrorMapper,
    ) -> None:
        self.schema = schema
        self._cursor = cursor
        self._first = first
        self._on_close = on_close
        self._map_error = map_error
        self._closed = False
        self._reading: asyncio.Future[list[bytes] | None] | None = None

    def _read_ahead(self) -> asyncio.Future[list[bytes] | None]:
        self._reading = start_in_worker(_next_chunk, self._cursor, self._map_error)
        return self._reading

    async def __aiter__(self) -> AsyncIterator[EncodedRows]:
        try:
            first, self._first = self._first, None
            reading = None if first is None or self._cursor.finished else self._read_ahead()
            if first:
                yield EncodedRows(first)
            while reading is not None and not self._closed:
                rows = await asyncio.shield(reading)
                if rows is None:
                    break
                reading = None if self._closed or self._cursor.finished else self._read_ahead()
                if rows:
                    yield EncodedRows(rows)
        finally:
            await self.close()

    def command_tag(self, rows_sent: int) -> str:
        return f"SELECT {rows_sent}"

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reading, self._reading = self._reading, None
        if reading is not None and not reading.done():
            await asyncio.wait([reading])
        if reading is not None and reading.done() and not reading.cancelled():
            reading.exception()  # a read-ahead nobody consumed: its error is not news
        self._on_close()


def _next_chunk(cursor: PassthroughCursor, map_error: ErrorMapper) -> list[bytes] | None:
    try:
        return cursor.next_chunk()
    except Exception as exc:  # noqa: BLE001 - libpq errors of any kind become PostgreSQL errors
        raise map_error(exc) from None
