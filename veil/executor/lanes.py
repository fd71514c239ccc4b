"""The bulk lane: a fair share of the event loop for short statements while big results stream.

Every statement's protocol work (parse, plan, the source round trip, encoding its rows) runs on
the one event loop, and so does encoding a scan's rows: a 100k-row result is ~a dozen slices of
:data:`~veil.executor.results.SLICE_ROWS` rows, each a few milliseconds of encoding. With
``asyncio.sleep(0)`` between slices every streaming scan went back into the loop's ready queue
each turn, so with tens of scans in flight a turn of the loop encoded tens of slices and a point
query, which needs several turns, waited behind all of them (the soak of issue #14: scans 10x
faster than PostgreSQL's, points 5.6x slower at p99).

A stream takes a turn of the lane before each slice after its first (pass-through: each chunk
after its first): the lane lets one waiter through per turn of the event loop, in arrival order.
A turn of the loop then runs every short statement's ready step plus one bulk slice, so a point
query waits for at most about one slice per step whatever the number of scans; scans share what
is left, first come first served. A result that fits in its first slice (any point query) never
enters the lane.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque


class BulkLane:
    """Waiters released one per turn of the event loop, first come first served."""

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._scheduled = False
        self.released = 0

    async def turn(self) -> None:
        """Wait for this stream's turn (at most one per turn of the loop is let through)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._release_one, loop)
        await waiter  # cancelled: _release_one skips it

    def _release_one(self, loop: asyncio.AbstractEventLoop) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.released += 1
                break
        if waiters:
            loop.call_soon(self._release_one, loop)
        else:
            self._scheduled = False

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())


_LANES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BulkLane] = weakref.WeakKeyDictionary()


def bulk_lane() -> BulkLane:
    """The running event loop's bulk lane."""
    loop = asyncio.get_running_loop()
    lane = _LANES.get(loop)
    if lane is None:
        lane = _LANES[loop] = BulkLane()
    return lane
