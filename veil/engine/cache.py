"""The latency cache: results read from a source, kept for as long as the tables' latency allows.

Entries are keyed by the connection key, the exact SQL sent to the source and the parameter
values. The SQL already embeds the user's masks and row filters, so two users share an entry only
when their effective policies are identical. The cache is bounded by bytes (LRU), results larger
than one eighth of it are streamed without being kept, and concurrent identical misses run the
source query once: later callers wait for the first and then read its entry.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field

import pyarrow as pa
from cachetools import LRUCache

from veil.engine.api import ResultStream


@dataclass(frozen=True)
class CacheEntry:
    schema: pa.Schema
    batches: tuple[pa.RecordBatch, ...]
    nbytes: int
    expires_at: float
    tables: frozenset[str]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    stores: int = 0


class _Entries(LRUCache):
    def __init__(self, max_bytes: int, stats: CacheStats) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=lambda entry: max(entry.nbytes, 1))
        self._stats = stats

    def popitem(self):  # type: ignore[no-untyped-def]
        self._stats.evictions += 1
        return super().popitem()


@dataclass
class ResultCache:
    max_bytes: int
    clock: Callable[[], float] = time.monotonic
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self._entries = _Entries(self.max_bytes, self.stats)
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, asyncio.Event] = {}

    @property
    def max_entry_bytes(self) -> int:
        return self.max_bytes // 8

    def get(self, key: Hashable) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires_at <= self.clock():
                del self._entries[key]
                entry = None
            if entry is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
            return entry

    def put(self, key: Hashable, entry: CacheEntry) -> None:
        if entry.nbytes > self.max_entry_bytes:
            return
        with self._lock:
            self._entries[key] = entry
            self.stats.stores += 1

    async def wait_for_inflight(self, key: Hashable) -> bool:
        """If an identical miss is running, wait for it; True when one was awaited."""
        event = self._inflight.get(key)
        if event is None:
            return False
        await event.wait()
        return True

    def begin(self, key: Hashable) -> None:
        self._inflight.setdefault(key, asyncio.Event())

    def end(self, key: Hashable) -> None:
        event = self._inflight.pop(key, None)
        if event is not None:
            event.set()

    def invalidate(self, tables: set[str] | None = None) -> int:
        """Drop entries reading any of ``tables`` (all entries when None)."""
        with self._lock:
            doomed = [k for k, e in self._entries.items() if tables is None or e.tables & tables]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def summary(self) -> dict[str, int]:
        with self._lock:
            return {
                "entries": len(self._entries),
                "bytes": int(self._entries.currsize),
                "max_bytes": self.max_bytes,
                "hits": self.stats.hits,
                "misses": self.stats.misses,
                "evictions": self.stats.evictions,
                "stores": self.stats.stores,
            }


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
                    self._bytes += batch.nbytes
                    if self._bytes > self._cache.max_entry_bytes:
                        self._kept = None
                    else:
                        self._kept.append(batch)
                yield batch
            self._store()
        finally:
            self._release()

    def _store(self) -> None:
        if self._kept is None or self.schema is None:
            return
        self._cache.put(
            self._key,
            CacheEntry(self.schema, tuple(self._kept), self._bytes, self._cache.clock() + self._ttl, self._tables),
        )

    def _release(self) -> None:
        if not self._finished:
            self._finished = True
            self._cache.end(self._key)

    def command_tag(self, rows_sent: int) -> str:
        return self._inner.command_tag(rows_sent)

    async def close(self) -> None:
        self._release()
        await self._inner.close()
