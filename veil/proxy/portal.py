"""Portals: a bound statement, its running result stream and where the client stopped reading.

A portal is executed lazily at its first Execute. With a row limit, the rest of a partially
sent record batch is kept (as a zero-copy slice) together with the stream's iterator, so the
next Execute resumes exactly where the last one stopped (PortalSuspended).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from veil import errcodes
from veil.api import EncodedRows, PreparedStatement, ResultStream
from veil.errors import VeilError
from veil.proxy import codec
from veil.proxy.framing import MessageWriter

#: The prepared form of an empty query string (Execute answers EmptyQueryResponse).
EMPTY_STATEMENT = PreparedStatement(sql="", param_oids=[], schema=None, command="")

#: Encoded result chunks at least this big go to the transport without being copied.
_LARGE_CHUNK = 32 * 1024


def expand_formats(codes: Sequence[int], count: int, what: str) -> list[int]:
    """Per-item format codes from the 0, 1 or N codes of a Bind message."""
    if not codes:
        return [0] * count
    if len(codes) == 1:
        return [codes[0]] * count
    if len(codes) != count:
        if what == "result":
            message = f"bind message has {len(codes)} result formats but query has {count} columns"
        else:
            message = f"bind message has {len(codes)} parameter formats but {count} parameters"
        raise errcodes.ProtocolViolation(message)
    return list(codes)


def decode_parameters(
    values: Sequence[bytes | None], oids: Sequence[int], format_codes: Sequence[int], timezone: str
) -> list[object | None]:
    """Bind parameter values as Python objects, by the statement's parameter types."""
    formats = expand_formats(format_codes, len(values), "parameter")
    decode = codec.decode_parameter
    params: list[object | None] = []
    for index, (value, oid, code) in enumerate(zip(values, oids, formats, strict=True)):
        try:
            params.append(decode(value, oid, code, timezone=timezone))
        except VeilError:
            raise
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError) as exc:
            raise errcodes.InvalidTextRepresentation(f"invalid value for parameter ${index + 1}: {exc}") from None
    return params


def _conform(schema: pa.Schema, actual: pa.Schema | None) -> pa.Schema | None:
    """The schema batches must be cast to so rows match the RowDescription already sent."""
    if actual is None or actual is schema or actual.types == schema.types:
        return None
    if len(actual) != len(schema):
        raise errcodes.InternalError(
            f"internal error: the statement described {len(schema)} columns but produced {len(actual)}",
        )
    return schema


@dataclass(slots=True, eq=False)
class Portal:
    statement: PreparedStatement
    params: Sequence[object | None]
    #: The row description sent for this portal (``None``: NoData).
    schema: pa.Schema | None
    formats: list[int]
    stream: ResultStream | None = None
    iterator: AsyncIterator[pa.RecordBatch | EncodedRows] | None = None
    leftover: pa.RecordBatch | EncodedRows | None = None
    cast_to: pa.Schema | None = None
    finished: bool = False
    tag: str | None = None
    #: The stream's ``keep_encoded``, if any: told the DataRows encoded from its batches (a
    #: latency-cache hit keeps them, see veil.executor.cache.hits).
    keep: Callable[[bytes | memoryview, str], None] | None = None

    @property
    def started(self) -> bool:
        return self.stream is not None

    def attach(self, stream: ResultStream) -> None:
        """Take the stream of a first Execute."""
        self.stream = stream
        if self.schema is not None:
            self.cast_to = _conform(self.schema, stream.schema)
        self.keep = getattr(stream, "keep_encoded", None) if self.cast_to is None else None
        self.iterator = aiter(stream)

    async def close(self) -> None:
        """Release the result: finish the iterator (running its cleanup) and close the stream."""
        stream, iterator = self.stream, self.iterator
        self.stream, self.iterator, self.leftover, self.keep = None, None, None, None
        self.finished = True
        aclose = getattr(iterator, "aclose", None)
        try:
            if aclose is not None:
                await aclose()
        finally:
            if stream is not None:
                await stream.close()

    def _cast(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        target = self.cast_to
        assert target is not None
        columns = [
            column if column.type == field.type else column.cast(field.type)
            for column, field in zip(batch.columns, target, strict=True)
        ]
        return pa.RecordBatch.from_arrays(columns, schema=target)

    async def send_rows(
        self,
        out: MessageWriter,
        max_rows: int,
        timezone: str,
        check_cancel: Callable[[], None],
    ) -> tuple[int, bool]:
        """Stream DataRows; return ``(rows sent, suspended)``.

        ``max_rows`` 0 means all. Each batch is encoded at once, and after a big one the
        writer is drained so a slow client throttles only its own query.
        """
        iterator = self.iterator
        if iterator is None or self.finished:
            return 0, False
        sent = 0
        encode = codec.encode_data_rows
        formats = self.formats
        send_rows = self.schema is not None
        while True:
            batch: pa.RecordBatch | EncodedRows
            if self.leftover is not None:
                batch, self.leftover = self.leftover, None
            else:
                try:
                    batch = await anext(iterator)
                except StopAsyncIteration:
                    self.finished = True
                    return sent, False
                check_cancel()
            rows = batch.num_rows
            if not rows or not send_rows:
                continue
            data: bytes | memoryview
            if isinstance(batch, EncodedRows):
                if max_rows and rows > max_rows - sent:
                    rows = max_rows - sent
                    batch, self.leftover = batch.split(rows)
                data = batch.data
            else:
                if max_rows:
                    room = max_rows - sent
                    if rows > room:
                        self.leftover = batch.slice(room)
                        batch = batch.slice(0, room)
                        rows = room
                if self.cast_to is not None:
                    batch = self._cast(batch)
                data = encode(batch, formats, timezone)
                if self.keep is not None:
                    self.keep(data, timezone)
            sent += rows
            if len(data) >= _LARGE_CHUNK:
                out.write_large(data)
                await out.drain()
            else:
                out.write(data)
                if out.pending >= out.HIGH_WATER:
                    await out.flush_and_drain()
            if max_rows and sent >= max_rows:
                return sent, True
