"""What a result cache stores and the interface of the place it stores it (memory or Redis).

Below both :mod:`veil.executor.cache.latency` (which picks a backend) and :mod:`veil.executor.cache.redis_backend`
(one backend), so neither imports the other's module at import time.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from veil.api import EncodedRows


@dataclass(frozen=True, slots=True)
class Encoded:
    """A cached result as the wire sends it: its DataRow messages in one variant (result format
    codes, time zone, described schema), and the Arrow bytes an audit record counts for it."""

    rows: EncodedRows
    arrow_bytes: int


@dataclass(frozen=True)
class CacheEntry:
    schema: pa.Schema
    batches: tuple[pa.RecordBatch, ...]
    nbytes: int
    expires_at: float
    tables: frozenset[str]
    stored_at: float = -math.inf  # on the cache's clock; unknown means "too old for any max_age"
    #: The result already encoded, per variant (see :mod:`veil.executor.cache.hits`); its bytes
    #: are part of ``nbytes``. Kept in this process only: a Redis entry holds the Arrow result.
    encoded: Mapping[Hashable, Encoded] = field(default_factory=dict)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    stores: int = 0


class CacheBackend(Protocol):
    """Where entries live. A ``blocking`` backend does network I/O: callers on the event loop use
    :meth:`ResultCache.lookup` and :meth:`ResultCache.store`, which run it in a worker thread."""

    blocking: bool

    def get(self, key: Hashable) -> CacheEntry | None:
        """The entry, or None when absent or expired (a backend failure is a miss)."""
        ...

    def put(self, key: Hashable, entry: CacheEntry, ttl: float) -> None: ...

    def invalidate(self, tables: set[str] | None) -> int:
        """Drop entries reading any of ``tables`` (all entries when None); how many were dropped."""
        ...

    def usage(self) -> dict[str, int]:
        """``entries``, ``bytes`` and ``evictions`` as the backend counts them."""
        ...

    def close(self) -> None: ...
