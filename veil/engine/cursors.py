"""SQL cursors (DECLARE / FETCH / MOVE / CLOSE) over a result stream.

A cursor reads its query's result stream batch by batch, only as far as FETCH asks: a cursor over
a big result never holds it all. A NO SCROLL cursor (the default) forgets rows once fetched; a
SCROLL cursor keeps the rows it has read so it can go back (PostgreSQL materializes those too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pyarrow as pa

from veil import errcodes
from veil.engine.api import ResultStream
from veil.engine.utility_specs import FETCH_ALL, CursorSpec, FetchSpec
from veil.errors import VeilError


def _forward_only() -> VeilError:
    return errcodes.ObjectNotInPrerequisiteState("cursor can only scan forward", hint="Declare it with SCROLL option to enable backward scan.")


@dataclass
class Cursor:
    """One open cursor. ``position`` follows PostgreSQL: 0 is before the first row, k is on the
    k-th row, total + 1 is after the last."""

    spec: CursorSpec
    stream: ResultStream
    schema: pa.Schema
    in_transaction: bool = True  # declared in the transaction still open (dropped by ROLLBACK)
    position: int = 0
    _rows: list[pa.RecordBatch] = field(default_factory=list)  # rows from index _offset on
    _offset: int = 0  # rows read and forgotten (NO SCROLL)
    _read: int = 0  # rows read from the stream so far
    _iterator: AsyncIterator[pa.RecordBatch] | None = None
    _done: bool = False

    async def _read_until(self, count: int) -> None:
        """Read from the stream until ``count`` rows have been read or it ends."""
        if self._iterator is None:
            self._iterator = self.stream.__aiter__()
        while not self._done and self._read < count:
            try:
                batch = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._done = True
                break
            if batch.num_rows:
                self._rows.append(batch)
                self._read += batch.num_rows

    def _slice(self, first: int, last: int) -> list[pa.RecordBatch]:
        """Rows ``first..last`` (1-based, inclusive) that have been read, in order."""
        if last < first:
            return []
        table = pa.Table.from_batches(self._rows, self.schema) if self._rows else self.schema.empty_table()
        part = table.slice(first - 1 - self._offset, last - first + 1)
        return part.to_batches()

    def _forget(self) -> None:
        """A NO SCROLL cursor drops the rows at or before its position."""
        if self.spec.scroll or not self._rows:
            return
        table = pa.Table.from_batches(self._rows, self.schema)
        keep = table.slice(self.position - self._offset) if self.position > self._offset else table
        self._offset += table.num_rows - keep.num_rows
        self._rows = keep.combine_chunks().to_batches() if keep.num_rows else []

    async def _absolute(self, target: int) -> tuple[list[pa.RecordBatch], int]:
        if target < 0:
            await self._read_until(FETCH_ALL)
            target = max(self._read + 1 + target, 0)
        if target <= self._offset and target != 0 and not self.spec.scroll:
            raise _forward_only()
        await self._read_until(target)
        if target == 0:
            self.position = 0
            return [], 0
        if target > self._read:
            self.position = self._read + 1
            return [], 0
        self.position = target
        return self._slice(target, target), 1

    async def run(self, spec: FetchSpec) -> tuple[list[pa.RecordBatch], int]:
        """FETCH or MOVE: the rows (empty for MOVE) and how many rows it went over."""
        batches, count = await self._run(spec)
        self._forget()
        return ([] if spec.move else batches), count

    async def _run(self, spec: FetchSpec) -> tuple[list[pa.RecordBatch], int]:
        direction, count = spec.direction, spec.count
        if direction == "absolute":
            return await self._absolute(count)
        if direction == "relative":
            if count == 0:
                return (self._slice(self.position, self.position), 1) if 0 < self.position <= self._read else ([], 0)
            if count < 0 and not self.spec.scroll:
                raise _forward_only()
            return await self._absolute(self.position + count)
        if (direction == "backward") == (count >= 0):
            if not self.spec.scroll:
                raise _forward_only()
            return self._backward(abs(count))
        count = abs(count)
        last_wanted = self.position + count if count < FETCH_ALL - self.position else FETCH_ALL
        await self._read_until(last_wanted)
        first = self.position + 1
        last = min(last_wanted, self._read)
        rows = self._slice(first, last)
        total = max(last - first + 1, 0)
        self.position = last if last_wanted <= self._read else self._read + 1
        return rows, total

    def _backward(self, count: int) -> tuple[list[pa.RecordBatch], int]:
        first = max(self.position - count, 1) if count < FETCH_ALL else 1
        last = min(self.position - 1, self._read)
        total = max(last - first + 1, 0)
        self.position = max(self.position - count, 0) if count < FETCH_ALL else 0
        if not total:
            return [], 0
        table = pa.Table.from_batches(self._slice(first, last), self.schema)
        return table.take(pa.array(range(total - 1, -1, -1))).to_batches(), total

    async def close(self) -> None:
        self._rows = []
        await self.stream.close()
