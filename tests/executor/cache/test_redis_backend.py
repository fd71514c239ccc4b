"""The Redis cache backend against the local Redis (127.0.0.1:6379; skipped without it on a
laptop, a failure in CI): Arrow IPC entries compressed with zstd, TTL = latency, hashed keys,
invalidation by table, entries shared by several Veil nodes, and no failed statement when Redis
is gone."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pytest
import redis

from tests.conftest import (
    free_port,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.pglog import StatementLog
from veil.config.models import CacheConfig
from veil.executor.cache.latency import CacheEntry, ResultCache, make_cache
from veil.executor.cache.redis_backend import PREFIX, RedisBackend, entry_name
from veil.proxy.auth import make_scram_verifier

REDIS_URL = os.environ.get("VEIL_TEST_REDIS", "redis://127.0.0.1:6379/9")
DATABASE = "veil_redis_cache"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    clear(client)
    yield REDIS_URL
    clear(client)
    client.close()


def clear(client: redis.Redis) -> None:
    names = list(client.scan_iter(match=PREFIX + "*"))
    if names:
        client.delete(*names)


def sample(rows: int = 1000) -> pa.RecordBatch:
    schema = pa.schema([
        pa.field("id", pa.int64()),
        pa.field("label", pa.string(), metadata={b"pg": b"pinned"}),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("at", pa.timestamp("us", tz="UTC")),
    ])
    return pa.RecordBatch.from_pydict({
        "id": list(range(rows)),
        "label": [f"label {i % 7}" for i in range(rows)],
        "amount": [Decimal(i) / 100 for i in range(rows)],
        "at": [datetime(2024, 1, 1)] * rows,
    }, schema=schema)


def entry(batch: pa.RecordBatch, ttl: float, tables: frozenset[str] = frozenset()) -> CacheEntry:
    return CacheEntry(batch.schema, (batch,), batch.nbytes, time.monotonic() + ttl, tables)


def test_entries_round_trip_compressed_with_the_latency_as_ttl(redis_url: str) -> None:
    cache = make_cache(CacheConfig(backend=redis_url))
    key = (("postgres", "db", 5432, "alice", "secret-password"), "SELECT secret_column FROM t", "()")
    batch = sample(20_000)
    cache.put(key, entry(batch, 30))
    found = cache.get(key)
    assert found is not None
    assert pa.Table.from_batches(found.batches).equals(pa.Table.from_batches([batch]))
    assert found.schema.field("label").metadata == {b"pg": b"pinned"}
    client = redis.Redis.from_url(redis_url)
    name = entry_name(key)
    assert 29_000 < client.pttl(name) <= 30_000
    payload = client.get(name)
    assert payload is not None and len(payload) < batch.nbytes / 4, "entries are stored compressed"
    names = [n.decode() for n in client.scan_iter(match=PREFIX + "*")]
    assert not any("secret" in n or "SELECT" in n for n in names), "keys are hashed"
    assert cache.summary()["entries"] >= 1 and cache.summary()["hits"] == 1


def test_entries_expire_in_redis(redis_url: str) -> None:
    cache = make_cache(CacheConfig(backend=redis_url))
    cache.put("short", entry(sample(10), 0.2))
    assert cache.get("short") is not None
    time.sleep(0.4)
    assert cache.get("short") is None


def test_invalidation_by_table(redis_url: str) -> None:
    cache = make_cache(CacheConfig(backend=redis_url))
    cache.put("a", entry(sample(10), 60, frozenset({"pg.s.t1"})))
    cache.put("b", entry(sample(10), 60, frozenset({"pg.s.t2"})))
    assert cache.invalidate({"pg.s.t1"}) == 1
    assert cache.get("a") is None and cache.get("b") is not None


def test_two_nodes_share_entries(redis_url: str) -> None:
    first, second = make_cache(CacheConfig(backend=redis_url)), make_cache(CacheConfig(backend=redis_url))
    first.put("shared", entry(sample(10), 60))
    assert second.get("shared") is not None
    assert second.stats.hits == 1 and first.stats.hits == 0


def test_a_missing_redis_is_a_miss_not_an_error() -> None:
    cache = ResultCache(1 << 20, backend=RedisBackend(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5))
    cache.put("k", entry(sample(10), 60))
    assert cache.get("k") is None
    assert asyncio.run(cache.lookup("k")) is None
    assert cache.summary()["entries"] == 0


def test_veil_nodes_share_results_through_redis(
    redis_url: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dsn = scratch_database(postgres_dsn, DATABASE)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE public.shared AS SELECT i AS id, i * 2 AS doubled FROM generate_series(1, 50) i")
    log = StatementLog(postgres_dsn, DATABASE)
    pg = postgres_connection(dsn, latency="1h")
    directories = [tmp_path_factory.mktemp("redis-node-a"), tmp_path_factory.mktemp("redis-node-b")]
    nodes = []
    try:
        for directory in directories:
            duck = directory / "wh.duckdb"
            duckdb.connect(str(duck)).close()
            config = {
                "server": {"host": "127.0.0.1", "port": 0},
                "cache": {"backend": redis_url},
                "connections": {"warehouse": {"type": "duckdb", "path": str(duck)}, "pg": pg},
                "users": {"u": {"password": make_scram_verifier("pw"), "admin": True}},
                "policies": [{"name": "all", "subscription": {"tables": ["*"], "allow": {"users": ["u"]}}}],
            }
            nodes.append(start_server(Path(directory), config))
        sql = "SELECT sum(doubled) FROM public.shared"
        mark = log.mark()
        answers = []
        for _, server in nodes:
            with psycopg.connect(**server.kwargs("u", "pw"), autocommit=True) as connection:
                answers.append(connection.execute(sql).fetchall())
        assert answers == [[(2550,)], [(2550,)]]
        assert len(log.reading(mark, '"shared"')) == 1, "the second node must read the first node's entry"
        with psycopg.connect(**nodes[1][1].kwargs("u", "pw"), autocommit=True) as connection:
            audit = connection.execute("SELECT statement, cache_hit FROM veil.audit").fetchall()
        assert (sql, True) in audit
    finally:
        for process, _ in nodes:
            stop_server(process)


def test_entries_keep_their_age_across_nodes(redis_url: str) -> None:
    cache = make_cache(CacheConfig(backend=redis_url))
    batch = sample(10)
    now = cache.clock()
    cache.put("aged", CacheEntry(batch.schema, (batch,), batch.nbytes, now + 60, frozenset(), stored_at=now - 5))
    found = cache.get("aged")
    assert found is not None and 4.5 < cache.clock() - found.stored_at < 6
    assert found.schema.equals(batch.schema, check_metadata=True)
    assert cache.get("aged", max_age=3) is None and cache.get("aged", max_age=10) is not None
