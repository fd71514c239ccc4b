"""SQL cursors (DECLARE / FETCH / MOVE / CLOSE) over a result stream.

A cursor reads its query's result stream batch by batch, only as far as FETCH asks: a cursor over
a big result never holds it all. A NO SCROLL cursor (the default) forgets rows once fetched; a
SCROLL cursor keeps the rows it has read so it can go back, as PostgreSQL materializes them, in
a :class:`~veil.executor.rowstore.RowStore` that spills to a private temporary file beyond
``work_mem``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from veil import errcodes
from veil.api import ResultStream
from veil.errors import VeilError
from veil.executor.rowstore import WORK_MEM, RowStore
from veil.sql.utility_specs import FETCH_ALL, CursorSpec, FetchSpec


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
    spill_directory: Path | None = None
    memory_limit: int = WORK_MEM
    _offset: int = 0  # rows read and forgotten (NO SCROLL)
    _iterator: AsyncIterator[pa.RecordBatch] | None = None
    _done: bool = False
    _store: RowStore = field(init=False)

    def __post_init__(self) -> None:
        # A NO SCROLL cursor holds only the rows of the FETCH running, which it returns anyway.
        limit = self.memory_limit if self.spec.scroll else None
        self._store = RowStore(self.schema, self.spill_directory, limit)

    @property
    def store(self) -> RowStore:
        """The rows read and still kept."""
        return self._store

    @property
    def _read(self) -> int:
        """Rows read from the stream so far."""
        return self._store.rows

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
            self._store.append(batch)

    def _slice(self, first: int, last: int) -> list[pa.RecordBatch]:
        """Rows ``first..last`` (1-based, inclusive) that have been read, in order."""
        return self._store.take(first - 1, last - first + 1) if last >= first else []

    def _forget(self) -> None:
        """A NO SCROLL cursor drops the rows at or before its position."""
        if self.spec.scroll:
            return
        self._offset = max(self._offset, min(self.position, self._read))
        self._store.drop_before(self._offset)

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
        if direction == "relative" or count == 0:  # FORWARD 0 and BACKWARD 0 re-fetch the current row
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
        self._store.close()
        await self.stream.close()
