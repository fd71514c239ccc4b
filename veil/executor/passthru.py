"""Pass-through results: DataRows encoded by a PostgreSQL source, forwarded as they are.

A statement pushed down whole to a PostgreSQL source whose connection passes statements through
(policies are already part of the pushed SQL) runs over Veil's own protocol client on the event
loop, with the client's result format codes (:mod:`veil.catalog.sources.postgres.passthrough`); this
stream hands the source's DataRow messages to the wire front end, reading the source's socket
only as fast as the client takes the rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from veil.api import EncodedRows
from veil.catalog.sources.postgres.passthrough import PassthroughCursor, SessionSettings
from veil.errors import VeilError
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
