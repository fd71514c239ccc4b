"""The bulk lane: one big-result slice per turn of the event loop, so short statements' steps
are not queued behind every scan in flight."""

from __future__ import annotations

import asyncio
import itertools

import pyarrow as pa
import pytest

from veil.executor.lanes import bulk_lane
from veil.executor.results import SLICE_ROWS, Head, ReaderStream

pytestmark = pytest.mark.unit
SCHEMA = pa.schema([pa.field("id", pa.int64())])


class Ticks:
    """Counts turns of the event loop (one callback re-scheduled each turn)."""

    def __init__(self) -> None:
        self.count = 0
        self.running = True
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        if self.running:
            asyncio.get_running_loop().call_soon(self._tick)


async def test_one_waiter_per_turn_in_arrival_order() -> None:
    ticks = Ticks()
    lane = bulk_lane()
    released: list[tuple[int, int]] = []

    async def wait(index: int) -> None:
        await lane.turn()
        released.append((index, ticks.count))

    await asyncio.gather(*(wait(i) for i in range(6)))
    ticks.running = False
    assert [index for index, _ in released] == list(range(6))
    turns = [tick for _, tick in released]
    assert all(later > earlier for earlier, later in itertools.pairwise(turns))
    assert lane.waiting == 0


async def test_a_cancelled_waiter_is_skipped() -> None:
    lane = bulk_lane()
    released: list[int] = []

    async def wait(index: int) -> None:
        await lane.turn()
        released.append(index)

    tasks = [asyncio.create_task(wait(i)) for i in range(3)]
    await asyncio.sleep(0)  # all three queued, none released yet
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert released == [0, 2]
    assert lane.waiting == 0


class OneBatch:
    def __init__(self, rows: int) -> None:
        self.batches = [pa.RecordBatch.from_pydict({"id": list(range(rows))}, schema=SCHEMA)]

    def read_next_batch(self) -> pa.RecordBatch:
        if not self.batches:
            raise StopIteration
        return self.batches.pop(0)


async def test_a_short_statement_is_not_queued_behind_every_scan() -> None:
    """Four scans of ten slices each stream at once; a short statement needing five turns of
    the loop finishes after about one slice per turn, not four (the scans' count)."""
    slices: list[int] = []
    done_after: list[int] = []

    async def scan() -> None:
        big = pa.RecordBatch.from_pydict({"id": list(range(10 * SLICE_ROWS))}, schema=SCHEMA)
        stream = ReaderStream(SCHEMA, OneBatch(0), Head((big,), True), lambda: None, RuntimeError)  # type: ignore[arg-type]
        async for _ in stream:
            slices.append(1)

    async def short() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        done_after.append(len(slices))

    await asyncio.gather(*(scan() for _ in range(4)), short())
    assert len(slices) == 40
    assert done_after[0] <= 4 + 5 + 1  # the scans' free first slices, then one per turn
