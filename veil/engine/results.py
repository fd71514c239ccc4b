"""Result streams: Arrow record batches pulled from a source cursor in a worker thread.

The blocking source call and the first batch share one thread hop, so a point query costs a
single hop; later batches are pulled one at a time, only when the wire front end asks, which is
what keeps memory flat and lets a slow client slow only its own stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

import pyarrow as pa

from veil.errors import VeilError

ErrorMapper = Callable[[BaseException], VeilError]


class RowsStream:
    """Rows already in memory (SHOW, catalog answers, empty results)."""

    def __init__(self, schema: pa.Schema | None, batches: Iterable[pa.RecordBatch] = (), tag: str = "SELECT") -> None:
        self.schema = schema
        self._batches = list(batches)
        self._tag = tag

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        for batch in self._batches:
            yield batch

    def command_tag(self, rows_sent: int) -> str:
        return f"{self._tag} {rows_sent}" if self._tag == "SELECT" else self._tag

    async def close(self) -> None:
        self._batches = []


class ReaderStream:
    """Rows pulled lazily from a RecordBatchReader running on a source cursor."""

    def __init__(
        self,
        schema: pa.Schema,
        reader: pa.RecordBatchReader,
        first: pa.RecordBatch | None,
        on_close: Callable[[], None],
        map_error: ErrorMapper,
    ) -> None:
        self.schema = schema
        self._reader = reader
        self._first = first
        self._on_close = on_close
        self._map_error = map_error
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        try:
            if self._first is not None:
                first, self._first = self._first, None
                if first.num_rows:
                    yield conform(first, self.schema)
            while not self._closed:
                batch = await asyncio.to_thread(_next_batch, self._reader, self._map_error)
                if batch is None:
                    break
                if batch.num_rows:
                    yield conform(batch, self.schema)
        finally:
            await self.close()

    def command_tag(self, rows_sent: int) -> str:
        return f"SELECT {rows_sent}"

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close()


def _next_batch(reader: pa.RecordBatchReader, map_error: ErrorMapper) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except Exception as exc:  # noqa: BLE001 - source drivers raise many types; map them all
        raise map_error(exc) from None


def first_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Give a batch the schema its RowDescription announced (names, pinned types, casts for
    columns whose type was unknown at Describe time, such as ``SELECT $1``)."""
    if batch.schema.equals(schema, check_metadata=True):
        return batch
    arrays = [
        column if column.type == field.type else column.cast(field.type)
        for column, field in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
