import asyncio

import pyarrow as pa
import pytest

from veil.config.models import CacheConfig
from veil.executor.cache.latency import CacheEntry, CachingStream, ResultCache, make_cache
from veil.executor.membudget import BUDGET, MemoryBudget, OutOfMemory
from veil.executor.results import RowsStream


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def batch(n: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"x": list(range(n))})


def entry(n: int, expires: float, tables: frozenset[str] = frozenset()) -> CacheEntry:
    b = batch(n)
    return CacheEntry(b.schema, (b,), b.nbytes, expires, tables)


def test_entries_expire_with_latency() -> None:
    clock = Clock()
    cache = ResultCache(1 << 20, clock=clock)
    cache.put("k", entry(3, expires=10))
    assert cache.get("k") is not None
    clock.now = 10
    assert cache.get("k") is None
    assert cache.stats.hits == 1 and cache.stats.misses == 1


def test_bounded_by_bytes_with_lru_eviction() -> None:
    size = entry(1000, 100).nbytes
    cache = ResultCache(size * 8 + 8, clock=Clock())  # eight entries fit; one entry may use 1/8
    for key in range(9):
        cache.put(key, entry(1000, 100))
    assert cache.summary()["entries"] == 8
    assert cache.stats.evictions == 1
    assert cache.get(0) is None and cache.get(8) is not None
    cache.put("too big", entry(2000, 100))
    assert cache.get("too big") is None


def test_invalidate_by_table() -> None:
    cache = ResultCache(1 << 20, clock=Clock())
    cache.put("a", entry(1, 100, frozenset({"w.s.t1"})))
    cache.put("b", entry(1, 100, frozenset({"w.s.t2"})))
    assert cache.invalidate({"w.s.t1"}) == 1
    assert cache.get("a") is None and cache.get("b") is not None


def test_concurrent_misses_run_once() -> None:
    async def scenario() -> tuple[int, list[int]]:
        cache = ResultCache(1 << 20)
        runs = 0

        async def load() -> CachingStream:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.05)
            return CachingStream(RowsStream(batch(5).schema, [batch(5)]), cache, "q", 60, frozenset())

        async def read(key: str) -> int:
            result = await cache.get_or_load(key, 60, load, released_by_result=True)
            if isinstance(result, CacheEntry):
                return sum(b.num_rows for b in result.batches)
            return sum([b.num_rows async for b in result])

        results = await asyncio.gather(*(read("q") for _ in range(5)))
        return runs, list(results)

    runs, results = asyncio.run(scenario())
    assert runs == 1
    assert results == [5] * 5


def test_a_failed_load_lets_the_waiters_load_themselves() -> None:
    async def scenario() -> list[object]:
        cache = ResultCache(1 << 20)
        attempts = 0

        async def load() -> int:
            nonlocal attempts
            attempts += 1
            await asyncio.sleep(0.05)
            if attempts == 1:
                raise RuntimeError("source down")
            b = batch(2)
            cache.put("q", CacheEntry(b.schema, (b,), b.nbytes, cache.clock() + 60, frozenset(), cache.clock()))
            return 2

        return await asyncio.gather(*(cache.get_or_load("q", 60, load) for _ in range(3)), return_exceptions=True)

    results = asyncio.run(scenario())
    assert isinstance(results[0], RuntimeError), "the first caller sees its own failure"
    assert results[1] == 2, "a waiter whose load failed under it loads again"
    assert isinstance(results[2], CacheEntry), "the last caller reads what the second one stored"


def test_a_lowered_latency_applies_to_entries_already_cached() -> None:
    clock = Clock()
    cache = ResultCache(1 << 20, clock=clock)
    b = batch(3)
    cache.put("k", CacheEntry(b.schema, (b,), b.nbytes, 3600, frozenset(), stored_at=0))
    clock.now = 5
    assert cache.get("k", max_age=3600) is not None
    assert cache.get("k", max_age=2) is None, "stored 5 s ago: too old for a 2 s latency"
    assert cache.get("k") is not None


def test_in_memory_entries_count_against_the_memory_budget_and_give_way_to_statements() -> None:
    size = entry(1000, 100).nbytes

    async def scenario() -> None:
        budget = MemoryBudget(limit=size * 5, wait=0.2)
        cache = ResultCache(size * 8 * 100, clock=Clock(), budget=budget)  # cache.max_bytes far above the budget
        for key in range(4):
            cache.put(key, entry(1000, 100))
        assert budget.used == budget.cached == 4 * size
        cache.get(0)  # 0 is now the most recently used
        # a statement needing two entries' worth (one is free): the least recently used entry goes
        await budget.reserve(2 * size)
        assert budget.used == 5 * size and budget.cached == 3 * size
        assert cache.get(1) is None and all(cache.get(k) is not None for k in (0, 2, 3))
        # the budget is full: a new entry is not kept, and nothing grows past the limit
        await budget.reserve(3 * size)
        assert cache.summary()["entries"] == 0 and budget.used == 5 * size
        cache.put("late", entry(1000, 100))
        assert cache.get("late") is None and budget.used == 5 * size
        # nothing reclaimable is left: a statement beyond the budget waits, then gets 53200
        with pytest.raises(OutOfMemory):
            await budget.reserve(size)
        budget.release(5 * size)
        assert budget.used == 0 and budget.cached == 0
        cache.close()
        assert not budget.reclaimers

    asyncio.run(scenario())


def test_entries_dropped_on_another_thread_return_their_bytes_to_the_budget() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(limit=1 << 30)
        cache = ResultCache(1 << 20, clock=Clock(), budget=budget)
        cache.put("a", entry(100, 100, frozenset({"w.s.t1"})))
        cache.put("b", entry(100, 100, frozenset({"w.s.t2"})))
        held = budget.used
        assert held == cache.summary()["bytes"] > 0
        await asyncio.to_thread(cache.invalidate, {"w.s.t1"})  # as a config reload does
        await asyncio.sleep(0)  # the release runs on the loop
        assert budget.used == budget.cached == cache.summary()["bytes"] < held
        await asyncio.to_thread(cache.close)
        await asyncio.sleep(0)
        assert budget.used == budget.cached == 0

    asyncio.run(scenario())


def test_the_servers_in_memory_cache_counts_against_the_process_budget() -> None:
    cache = make_cache(CacheConfig(max_bytes=1 << 20))
    try:
        assert cache.budget is BUDGET and cache.summary()["max_bytes"] == 1 << 20
        assert any(getattr(r, "__self__", None) is cache.backend for r in BUDGET.reclaimers)
    finally:
        cache.close()
    assert not any(getattr(r, "__self__", None) is cache.backend for r in BUDGET.reclaimers)
