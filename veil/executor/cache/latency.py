"""The latency cache: results read from a source, kept for as long as the tables' latency allows.

Entries are keyed by the connection key, the exact SQL sent to the source and the parameter
values. The SQL already embeds the user's masks and row filters, so two users share an entry only
when their effective policies are identical. Results larger than one eighth of ``max_bytes`` are
streamed without being kept, and concurrent identical misses run the source query once: later
callers wait for the first and then read its entry (single-flight, per Veil node).

Where entries live is a :class:`CacheBackend`: in this process (``memory``, an LRU bounded by
bytes) or in Redis (``redis://...``, shared by several Veil nodes; see
:mod:`veil.executor.cache.redis_backend`). In this process, entries also count against the process's memory
budget (``server.max_memory``, :mod:`veil.executor.membudget`): an entry is kept only if its bytes
fit, and when a statement needs memory the least recently used entries are dropped first.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import pyarrow as pa
from cachetools import LRUCache

from veil.api import ResultStream
from veil.config.models import CacheConfig
from veil.executor.cache.backend import CacheBackend, CacheEntry, CacheStats, Encoded
from veil.executor.membudget import BUDGET, MemoryBudget

T = TypeVar("T")


class _Entries(LRUCache):
    def __init__(self, max_bytes: int, stats: CacheStats) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=lambda entry: max(entry.nbytes, 1))
        self._stats = stats

    def popitem(self) -> tuple[Hashable, CacheEntry]:
        self._stats.evictions += 1
        return super().popitem()


class MemoryBackend:
    """Entries in this process: least recently used go first once ``max_bytes`` is reached, or
    when ``budget`` (if any) needs their bytes for a statement.

    The entries' bytes are reserved in ``budget`` on the event loop, where the cache is read and
    written; entries dropped on another thread (a reload's invalidation) are released by a
    callback on that loop."""

    blocking = False

    def __init__(
        self, max_bytes: int, clock: Callable[[], float], stats: CacheStats, budget: MemoryBudget | None = None
    ) -> None:
        self._entries = _Entries(max_bytes, stats)
        self._clock = clock
        self._lock = threading.RLock()  # the budget's reclaim re-enters from put()
        self._budget = budget
        self._held = 0  # bytes reserved in the budget
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the budget lives on
        if budget is not None:
            budget.reclaimers.append(self._reclaim)

    def get(self, key: Hashable) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires_at <= self._clock():
                del self._entries[key]
                entry = None
            self._settle()
            return entry

    def put(self, key: Hashable, entry: CacheEntry, ttl: float) -> None:
        size = max(entry.nbytes, 1)
        with self._lock:
            if self._budget is not None:
                self._loop = asyncio.get_running_loop()
                self._settle()
                if not self._budget.try_reserve(size):
                    return  # statements need the memory: not kept
                self._held += size
                self._budget.cached += size
            try:
                self._entries[key] = entry
            finally:
                self._settle()

    def replace(self, key: Hashable, old: CacheEntry, new: CacheEntry) -> bool:
        """Put ``new`` under ``key`` only while ``old`` is still the entry there: an entry
        dropped meanwhile (expired, evicted, invalidated) never comes back."""
        with self._lock:
            if self._entries.get(key) is not old:
                return False
            self.put(key, new, new.expires_at - self._clock())
            return self._entries.get(key) is new

    def invalidate(self, tables: set[str] | None) -> int:
        with self._lock:
            doomed = [k for k, e in self._entries.items() if tables is None or e.tables & tables]
            for key in doomed:
                del self._entries[key]
            self._settle()
            return len(doomed)

    def _settle(self) -> None:
        """Release what the budget holds for entries no longer here (call with the lock held)."""
        if self._budget is None or self._held <= self._entries.currsize or self._loop is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if not on_loop:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._settle_now)
            return
        dropped = self._held - int(self._entries.currsize)
        self._held -= dropped
        self._budget.cached -= dropped
        self._budget.release(dropped)

    def _settle_now(self) -> None:
        with self._lock:
            self._settle()

    def _reclaim(self, nbytes: int) -> None:
        """Free at least ``nbytes`` for the budget, least recently used entries first."""
        with self._lock:
            self._settle()
            target = self._held - nbytes
            while self._entries and self._entries.currsize > target:
                self._entries.popitem()
            self._settle()

    def usage(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": int(self._entries.currsize)}

    def close(self) -> None:
        """Drop every entry (their bytes return to the budget) and stop counting against it."""
        self.invalidate(None)
        if self._budget is not None and self._reclaim in self._budget.reclaimers:
            self._budget.reclaimers.remove(self._reclaim)


@dataclass
class ResultCache:
    max_bytes: int
    clock: Callable[[], float] = time.monotonic
    stats: CacheStats = field(default_factory=CacheStats)
    backend: CacheBackend | None = None
    location: str = "memory"  # the config's `cache.backend`
    budget: MemoryBudget | None = None  # what the in-memory entries count against

    def __post_init__(self) -> None:
        if self.backend is None:
            self.backend = MemoryBackend(self.max_bytes, self.clock, self.stats, self.budget)
        self._backend: CacheBackend = self.backend
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, asyncio.Event] = {}

    @property
    def max_entry_bytes(self) -> int:
        return self.max_bytes // 8

    def get(self, key: Hashable, max_age: float | None = None) -> CacheEntry | None:
        """The entry, unless it expired or (with ``max_age``) was stored longer ago than that:
        a latency lowered by a config reload applies to entries already cached."""
        entry = self._backend.get(key)
        if entry is not None and max_age is not None and self.clock() - entry.stored_at > max_age:
            entry = None
        with self._lock:
            if entry is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        return entry

    def peek(self, key: Hashable, max_age: float) -> CacheEntry | None:
        """:meth:`get` of an in-process entry without counting a hit or a miss: a caller that
        serves the entry counts it with :meth:`count_hit`, one that does not leaves the
        statement to a caller of :meth:`get`, which counts it then."""
        entry = self._backend.get(key)
        if entry is not None and self.clock() - entry.stored_at > max_age:
            return None
        return entry

    def count_hit(self) -> None:
        with self._lock:
            self.stats.hits += 1

    def put(self, key: Hashable, entry: CacheEntry) -> None:
        ttl = entry.expires_at - self.clock()
        if entry.nbytes > self.max_entry_bytes or ttl <= 0:
            return
        self._backend.put(key, entry, ttl)
        with self._lock:
            self.stats.stores += 1

    async def lookup(self, key: Hashable, max_age: float | None = None) -> CacheEntry | None:
        """:meth:`get` for callers on the event loop."""
        if self._backend.blocking:
            return await asyncio.to_thread(self.get, key, max_age)
        return self.get(key, max_age)

    async def store(self, key: Hashable, entry: CacheEntry) -> None:
        """:meth:`put` for callers on the event loop."""
        if self._backend.blocking:
            await asyncio.to_thread(self.put, key, entry)
        else:
            self.put(key, entry)

    async def get_or_load(
        self, key: Hashable, max_age: float, load: Callable[[], Awaitable[T]], *, released_by_result: bool = False
    ) -> CacheEntry | T:
        """The entry under ``key`` while fresh, else what ``load`` returns (single-flight).

        Concurrent identical misses run ``load`` once: later callers wait for the running load to
        end, then read the entry it stored (when it stored none, one of them loads next). The load
        ends when ``load`` returns or fails; with ``released_by_result``, a result returned (a
        :class:`CachingStream`) ends it itself when it finishes, so waiters find what it stored."""
        entry = self.get(key, max_age) if not self._backend.blocking else await self.lookup(key, max_age)
        while entry is None and (running := self._inflight.get(key)) is not None:
            await running.wait()
            entry = await self.lookup(key, max_age=max_age)
        if entry is not None:
            return entry
        self._inflight[key] = asyncio.Event()
        try:
            result = await load()
        except BaseException:
            self.end(key)
            raise
        if not released_by_result:
            self.end(key)
        return result

    def end(self, key: Hashable) -> None:
        """The load of ``key`` is over: its waiters go on."""
        event = self._inflight.pop(key, None)
        if event is not None:
            event.set()

    @property
    def local(self) -> bool:
        """Entries live in this process (they can keep their encoded forms)."""
        return isinstance(self._backend, MemoryBackend)

    def attach_encoded(self, key: Hashable, entry: CacheEntry, variant: Hashable, encoded: Encoded) -> None:
        """Keep ``encoded`` with ``entry`` (still the entry under ``key``), its bytes counted
        against the cache's bounds; not kept when they do not fit or the entry has gone."""
        backend = self._backend
        if not isinstance(backend, MemoryBackend) or variant in entry.encoded:
            return
        nbytes = entry.nbytes + len(encoded.rows.data)
        if nbytes > self.max_entry_bytes or entry.expires_at <= self.clock():
            return
        backend.replace(key, entry, replace(entry, nbytes=nbytes, encoded={**entry.encoded, variant: encoded}))

    def invalidate(self, tables: set[str] | None = None) -> int:
        """Drop entries reading any of ``tables`` (all entries when None)."""
        return self._backend.invalidate(tables)

    def summary(self) -> dict[str, int]:
        usage = self._backend.usage()
        with self._lock:
            return {
                "entries": usage["entries"],
                "bytes": usage["bytes"],
                "max_bytes": self.max_bytes,
                "hits": self.stats.hits,
                "misses": self.stats.misses,
                "evictions": usage.get("evictions", self.stats.evictions),
                "stores": self.stats.stores,
            }

    def close(self) -> None:
        self._backend.close()


def make_cache(config: CacheConfig) -> ResultCache:
    """The cache a config asks for: ``backend: memory`` or a ``redis://`` URL."""
    if config.backend == "memory":
        return ResultCache(config.max_bytes, budget=BUDGET)
    from veil.executor.cache.redis_backend import RedisBackend

    return ResultCache(config.max_bytes, backend=RedisBackend(config.backend), location=config.backend)


class CachingStream:
    """Passes a source stream through, keeping its batches to store once it completes."""

    def __init__(
        self,
        inner: ResultStream,
        cache: ResultCache,
        key: Hashable,
        ttl: float,
        tables: frozenset[str],
    ) -> None:
        self.schema = inner.schema
        self._inner = inner
        self._cache = cache
        self._key = key
        self._ttl = ttl
        self._tables = tables
        self._kept: list[pa.RecordBatch] | None = []
        self._bytes = 0
        self._finished = False

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        try:
            async for batch in self._inner:
                if self._kept is not None:
                    # The memory a kept batch holds: whole buffers, slices included (and unlike
                    # ``nbytes``, which walks a sliced batch's offsets, it costs ~1 µs).
                    self._bytes += batch.get_total_buffer_size()
                    if self._bytes > self._cache.max_entry_bytes:
                        self._kept = None
                    else:
                        self._kept.append(batch)
                yield batch
            await self._store()
        finally:
            self._release()

    async def _store(self) -> None:
        if self._kept is None or self.schema is None:
            return
        now = self._cache.clock()
        entry = CacheEntry(self.schema, tuple(self._kept), self._bytes, now + self._ttl, self._tables, now)
        await self._cache.store(self._key, entry)

    def _release(self) -> None:
        if not self._finished:
            self._finished = True
            self._cache.end(self._key)

    def command_tag(self, rows_sent: int) -> str:
        return self._inner.command_tag(rows_sent)

    async def close(self) -> None:
        self._release()
        await self._inner.close()
