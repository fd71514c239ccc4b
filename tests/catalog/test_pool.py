"""PostgreSQL sources reuse their ADBC connections, only in a known-clean state."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

from tests.conftest import postgres_connection
from veil.catalog.sources.pool import ConnectionPool
from veil.catalog.sources.postgres.source import PostgresSource
from veil.config.models import ConnectionConfig
from veil.errors import VeilError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeConnection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_pool_reuses_recent_connections_and_bounds_idle_ones() -> None:
    made: list[FakeConnection] = []

    def connect() -> FakeConnection:
        made.append(FakeConnection(len(made)))
        return made[-1]

    clock = Clock()
    pool = ConnectionPool(connect, max_idle=1, idle_seconds=10, clock=clock)
    first, reused = pool.acquire()
    assert not reused
    second, _ = pool.acquire()
    pool.release(first, reusable=True)
    pool.release(second, reusable=True)  # over max_idle: closed
    assert second.closed and pool.idle == 1
    again, reused = pool.acquire()
    assert again is first and reused
    pool.release(again, reusable=False)
    assert again.closed and pool.idle == 0
    third, _ = pool.acquire()
    pool.release(third, reusable=True)
    clock.now = 11
    fourth, reused = pool.acquire()
    assert third.closed and fourth is not third and not reused
    pool.close()
    pool.release(fourth, reusable=True)
    assert fourth.closed


@pytest.fixture()
def source(postgres_dsn: str) -> PostgresSource:
    config = ConnectionConfig.model_validate(postgres_connection(postgres_dsn))
    return PostgresSource("pg", config)


def backend_pid(source: PostgresSource) -> int:
    cursor = source.cursor()
    try:
        reader = cursor.execute("SELECT pg_backend_pid() AS pid")
        table = pa.Table.from_batches(list(iter_batches(reader)))
        return int(table.column("pid")[0].as_py())
    finally:
        cursor.close()


def iter_batches(reader):  # type: ignore[no-untyped-def]
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def test_fully_read_results_return_their_connection(source: PostgresSource) -> None:
    assert backend_pid(source) == backend_pid(source)


def test_unfinished_or_failed_queries_do_not(source: PostgresSource) -> None:
    pid = backend_pid(source)
    cursor = source.cursor()
    cursor.execute("SELECT i FROM generate_series(1, 1000000) i").read_next_batch()
    cursor.close()  # a result stopped half way: the connection is closed, not pooled
    assert backend_pid(source) != pid
    pid = backend_pid(source)
    cursor = source.cursor()
    with pytest.raises(VeilError):
        cursor.execute("SELECT 1 / 0")
    cursor.close()
    assert backend_pid(source) != pid


def test_a_dropped_pooled_connection_is_replaced(source: PostgresSource, postgres_dsn: str) -> None:
    pid = backend_pid(source)
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert backend_pid(source) != pid
    source.close()
