"""The Redis cache backend: entries shared by every Veil node that points at the same Redis.

Each entry is one Redis string, ``veil:cache:v1:entry:<sha256 of the cache key>``, holding the
result as an Arrow IPC stream compressed with zstd, with a TTL of the latency it was stored for
(Redis expires it; nothing here sweeps). The key is hashed, so neither the SQL nor the connection
key (which includes credentials) is readable in Redis. For invalidation, each table has a set
``veil:cache:v1:table:<connection.schema.table>`` of the entries that read it, expiring with the
longest of them.

Memory is bounded by Redis itself: set ``maxmemory`` and a ``volatile-*`` or ``allkeys-*`` eviction
policy (every key Veil writes has a TTL, so ``volatile-lru`` is enough). With ``noeviction`` a
full Redis refuses writes and Veil simply stops caching. Veil never fails a statement because
of the cache: a Redis error is logged and counted as a miss.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Hashable

import pyarrow as pa
import redis

from veil.executor.cache.backend import CacheEntry

log = logging.getLogger(__name__)

PREFIX = "veil:cache:v1:"
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")
_STORED_AT = b"veil.stored_at"


def entry_name(key: Hashable) -> str:
    return PREFIX + "entry:" + hashlib.sha256(repr(key).encode()).hexdigest()


def table_set_name(table: str) -> str:
    return PREFIX + "table:" + table


def encode(entry: CacheEntry, age: float) -> bytes:
    """The entry as a compressed Arrow IPC stream; its age (seconds) travels as wall-clock time in
    the stream's metadata, since Veil nodes share no monotonic clock."""
    stored = {_STORED_AT: repr(time.time() - age).encode()}
    schema = entry.schema.with_metadata({**(entry.schema.metadata or {}), **stored})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema, options=_WRITE_OPTIONS) as writer:
        for batch in entry.batches:
            writer.write_batch(batch.replace_schema_metadata(schema.metadata))
    return sink.getvalue().to_pybytes()


def decode(payload: bytes, now: float) -> CacheEntry:
    """An entry read back; ``stored_at`` on the clock whose current reading is ``now``."""
    reader = pa.ipc.open_stream(pa.py_buffer(payload))
    metadata = dict(reader.schema.metadata or {})
    stored_wall = float(metadata.pop(_STORED_AT, b"-inf"))
    schema = reader.schema.with_metadata(metadata) if metadata else reader.schema.remove_metadata()
    batches = tuple(b.replace_schema_metadata(schema.metadata) for b in reader)
    stored_at = now - (time.time() - stored_wall)
    # Redis enforces the expiry: the entry is fresh now, which is all a reader needs.
    return CacheEntry(schema, batches, sum(b.nbytes for b in batches), math.inf, frozenset(), stored_at)


class RedisBackend:
    blocking = True

    def __init__(self, url: str, timeout: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._failing = False

    def _failed(self, action: str, exc: Exception) -> None:
        if not self._failing:
            log.warning("cache backend %s: cannot %s (%s); serving without cache", self.url, action, exc)
        self._failing = True

    def get(self, key: Hashable) -> CacheEntry | None:
        try:
            payload = self._client.get(entry_name(key))
        except redis.RedisError as exc:
            self._failed("read", exc)
            return None
        self._failing = False
        if not isinstance(payload, bytes):
            return None
        try:
            return decode(payload, self._clock())
        except (pa.ArrowException, OSError) as exc:
            log.warning("cache backend %s: unreadable entry dropped (%s)", self.url, exc)
            return None

    def put(self, key: Hashable, entry: CacheEntry, ttl: float) -> None:
        name = entry_name(key)
        milliseconds = max(1, int(ttl * 1000))
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(name, encode(entry, max(self._clock() - entry.stored_at, 0.0)), px=milliseconds)
            for table in entry.tables:
                members = table_set_name(table)
                pipe.sadd(members, name)
                pipe.pexpire(members, milliseconds, nx=True)  # a new set gets a TTL ...
                pipe.pexpire(members, milliseconds, gt=True)  # ... an old one keeps the longest
            pipe.execute()
        except redis.RedisError as exc:
            self._failed("write", exc)

    def invalidate(self, tables: set[str] | None) -> int:
        try:
            if tables is None:
                names = list(self._client.scan_iter(match=PREFIX + "*", count=1000))
                entries = sum(1 for n in names if n.startswith((PREFIX + "entry:").encode()))
                for start in range(0, len(names), 1000):
                    self._client.delete(*names[start : start + 1000])
                return entries
            dropped = 0
            for table in tables:
                members = table_set_name(table)
                names = list(self._client.smembers(members))
                if names:
                    dropped += self._client.delete(*names)
                self._client.delete(members)
            return dropped
        except redis.RedisError as exc:
            self._failed("invalidate", exc)
            return 0

    def usage(self) -> dict[str, int]:
        """Entries and their compressed bytes (a scan: meant for the admin view), and the keys
        Redis evicted under ``maxmemory`` since it started."""
        try:
            names = list(self._client.scan_iter(match=PREFIX + "entry:*", count=1000))
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                pipe.strlen(name)
            sizes = pipe.execute() if names else []
            evicted = int(self._client.info("stats").get("evicted_keys", 0))
        except redis.RedisError as exc:
            self._failed("read usage", exc)
            return {"entries": 0, "bytes": 0, "evictions": 0}
        return {"entries": len(names), "bytes": int(sum(sizes)), "evictions": evicted}

    def close(self) -> None:
        self._client.close()
