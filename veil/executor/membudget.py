"""One process-wide memory budget (``server.max_memory``) for what Veil itself buffers.

In-flight results (the batches a statement holds between its source and the client) and the
bytes of large declared frontend messages count against it. :meth:`MemoryBudget.reserve` takes
bytes at once when they fit, else waits in a first-come queue for at most ``wait`` seconds and
then fails with SQLSTATE 53200 naming the setting; :meth:`MemoryBudget.try_reserve` never waits.
Nothing grows past the budget: a statement or message that cannot get its bytes stops.
What only speeds things up (the in-memory result cache) counts too, as a *reclaimer*: when a
reservation does not fit, reclaimers drop what they hold (least recently used first) before
anyone waits, and the cache never takes bytes while a statement waits for them.

When the process goes idle after a burst (nothing reserved any more), glibc's allocator still
holds the freed arenas; :func:`trim_allocator` hands them back (``malloc_trim(0)``), which is
what brings RSS back near its idle level after load.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from veil.errors import VeilError

log = logging.getLogger(__name__)

#: Default share of the machine's RAM for ``server.max_memory``.
DEFAULT_SHARE = 0.25
#: A statement's reservation before it reads anything (its first batches fit in it).
STATEMENT_BYTES = 4 * 1024 * 1024
#: Trim the allocator this long after the last reservation was released, when a burst of at
#: least :data:`TRIM_AFTER_BYTES` was reserved since the previous trim.
TRIM_DELAY = 1.0
TRIM_AFTER_BYTES = 32 * 1024 * 1024


def machine_memory() -> int:
    """Physical RAM in bytes (cgroup limits are not consulted)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 1024**3


def default_max_memory() -> int:
    return int(machine_memory() * DEFAULT_SHARE)


class OutOfMemory(VeilError):
    def __init__(self, wanted: int, limit: int) -> None:
        super().__init__(
            "53200",
            f"out of memory: {wanted} more bytes would exceed server.max_memory ({limit} bytes)",
            hint="Retry later, fetch less at once, or raise server.max_memory.",
        )


def _load_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_MALLOC_TRIM = _load_trim()


def trim_allocator() -> bool:
    """Return freed memory to the OS: Arrow's pool (mimalloc/jemalloc) releases what it caches,
    and glibc's heap is trimmed (``malloc_trim(0)``); False when glibc is not there."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


@dataclass(eq=False)
class _Waiter:
    nbytes: int
    future: asyncio.Future[None]


@dataclass(eq=False)
class MemoryBudget:
    """Counts reserved bytes against ``limit``; waiters are served first come, first served."""

    limit: int
    wait: float = 10.0
    used: int = 0
    peak: int = 0
    _waiters: collections.deque[_Waiter] = field(default_factory=collections.deque)
    _burst: int = 0
    _trim_handle: asyncio.TimerHandle | None = None
    _idle_since: float = 0.0  # loop time the budget last became idle
    trims: int = 0
    #: Of ``used``, what reclaimers hold (the cache): the process counts as idle without them.
    cached: int = 0
    #: Called with a number of bytes to free (at least); each releases what it dropped.
    reclaimers: list[Callable[[int], None]] = field(default_factory=list)

    def try_reserve(self, nbytes: int) -> bool:
        """Take ``nbytes`` if they fit now (after reclaiming) and nobody is queued before us."""
        if nbytes <= 0:
            return True
        if self._waiters:
            return False
        if self.used + nbytes > self.limit:
            self._reclaim(nbytes)
            if self._waiters or self.used + nbytes > self.limit:
                return False
        self._take(nbytes)
        return True

    def _reclaim(self, nbytes: int) -> None:
        for reclaim in list(self.reclaimers):
            short = self.used + nbytes - self.limit
            if short <= 0:
                return
            reclaim(short)

    async def reserve(self, nbytes: int, wait: float | None = None) -> None:
        """Take ``nbytes``, waiting up to ``wait`` (default :attr:`wait`) seconds; else 53200."""
        if self.try_reserve(nbytes):
            return
        if nbytes > self.limit:
            raise OutOfMemory(nbytes, self.limit)
        waiter = _Waiter(nbytes, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait if wait is None else wait):
                await waiter.future
        except BaseException as exc:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(nbytes)  # granted just as the wait ended
            if isinstance(exc, TimeoutError):
                raise OutOfMemory(nbytes, self.limit) from None
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                self._wake()

    def release(self, nbytes: int) -> None:
        if nbytes <= 0:
            return
        self.used = max(0, self.used - nbytes)
        self._wake()
        if self.used <= self.cached and self._burst >= TRIM_AFTER_BYTES:
            self._schedule_trim()

    def _take(self, nbytes: int) -> None:
        self.used += nbytes
        self._burst += nbytes
        self.peak = max(self.peak, self.used)

    def _wake(self) -> None:
        while self._waiters:
            head = self._waiters[0]
            if head.future.done():
                self._waiters.popleft()
                continue
            if self.used + head.nbytes > self.limit:
                return
            self._waiters.popleft()
            self._take(head.nbytes)
            head.future.set_result(None)

    def _schedule_trim(self) -> None:
        """Trim once the budget has stayed idle for TRIM_DELAY. One timer stays armed while
        statements come and go (re-armed when it fires early) rather than one cancelled and
        made again per statement."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._idle_since = loop.time()
        if self._trim_handle is None:
            self._trim_handle = loop.call_at(self._idle_since + TRIM_DELAY, self._trim_if_idle)

    def _trim_if_idle(self) -> None:
        self._trim_handle = None
        if self.used > self.cached:
            return  # busy again: the release that makes it idle arms the timer anew
        loop = asyncio.get_running_loop()
        due = self._idle_since + TRIM_DELAY
        if due > loop.time():
            self._trim_handle = loop.call_at(due, self._trim_if_idle)
            return
        self._burst = 0
        if trim_allocator():
            self.trims += 1


#: The process's budget; the server sets its limit from ``server.max_memory``.
BUDGET = MemoryBudget(default_max_memory())


def configure(limit: int | None, wait: float) -> None:
    """Apply ``server.max_memory`` (None: the default share of RAM) and ``server.memory_wait``."""
    BUDGET.limit = default_max_memory() if limit is None else limit
    BUDGET.wait = wait
    BUDGET._wake()
