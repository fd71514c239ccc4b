"""Cache benchmark: a slow PostgreSQL source (a view that sleeps --delay seconds per query) read
through Veil, cache miss vs cache hit, with the memory backend and with Redis.

Misses are distinct statements (a different literal each time, so a different cache key); hits
repeat one statement that is already cached. Two result sizes show what a hit costs when the
result is small (8 rows) and when it is not (--rows rows).

    .venv/bin/python -m benchmarks.cache [--rows 100000] [--delay 0.2] [--runs 5] [--redis redis://...]

Results: benchmarks/results/cache.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
import redis
from rich.console import Console
from rich.table import Table as RichTable

from benchmarks.pgsources import (
    database,
    metadata,
    serve,
    veil_dsn,
    write_json,
)
from benchmarks.servers import find_postgres
from tests.conftest import postgres_connection

DATABASE = "veil_bench_cache"
QUERIES = {
    "8 rows": "SELECT region, count(*), sum(amount) FROM bench.slow_sales WHERE id > {k} GROUP BY region ORDER BY 1",
    "large": "SELECT id, region, amount FROM bench.slow_sales WHERE id > {k}",
}


def load(dsn: str, rows: int, delay: float) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS bench")
        present = connection.execute("SELECT to_regclass('bench.sales') IS NOT NULL").fetchone()
        count = connection.execute("SELECT count(*) FROM bench.sales").fetchone() if present and present[0] else None
        if count != (rows,):
            connection.execute("DROP TABLE IF EXISTS bench.sales CASCADE")
            connection.execute(
                "CREATE TABLE bench.sales AS SELECT i AS id, (ARRAY['EU', 'US', 'APAC', 'LATAM', 'MEA', 'NA', 'CN', 'IN'])"
                f"[1 + i % 8] AS region, (i % 1000)::numeric(10, 2) AS amount FROM generate_series(1, {rows}) i"
            )
        # The view costs `delay` seconds per query, once: the pg_sleep sits in an uncorrelated subquery.
        connection.execute(
            "CREATE OR REPLACE VIEW bench.slow_sales AS SELECT s.* FROM bench.sales s "
            f"CROSS JOIN (SELECT pg_sleep({float(delay)})) AS slow"
        )


@dataclass
class Measurement:
    backend: str
    query: str
    miss_seconds: list[float]
    hit_seconds: list[float]

    @property
    def miss(self) -> float:
        return statistics.median(self.miss_seconds)

    @property
    def hit(self) -> float:
        return statistics.median(self.hit_seconds)


def timed(connection: psycopg.Connection, sql: str) -> tuple[float, int]:
    start = time.perf_counter()
    rows = connection.execute(sql).fetchall()
    return time.perf_counter() - start, len(rows)


def measure(server_dsn: str, backend: str, runs: int, offset: int) -> list[Measurement]:
    results = []
    with psycopg.connect(server_dsn, autocommit=True) as connection:
        for name, template in QUERIES.items():
            misses = [timed(connection, template.format(k=-(offset + i + 1)))[0] for i in range(runs)]
            cached = template.format(k=-(offset + runs + 1))
            timed(connection, cached)
            hits = [timed(connection, cached)[0] for _ in range(runs)]
            results.append(Measurement(backend, name, misses, hits))
            offset += runs + 2
    return results


def redis_available(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        for name in client.scan_iter(match="veil:cache:*"):
            client.delete(name)
        return True
    except redis.RedisError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cache", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the large result")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the source sleeps per query")
    parser.add_argument("--runs", type=int, default=5, help="misses and hits measured per query")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="Redis URL (skipped when unreachable)")
    parser.add_argument("--postgres", help="admin DSN (default: $VEIL_TEST_POSTGRES, else local trust)")
    args = parser.parse_args(argv)
    console = Console(width=150)
    admin = find_postgres(args.postgres)
    dsn = database(admin, DATABASE)
    load(dsn, args.rows, args.delay)
    backends = ["memory"] + ([args.redis] if redis_available(args.redis) else [])
    if len(backends) == 1:
        console.print(f"[yellow]no Redis at {args.redis}: memory backend only[/yellow]")
    results: list[Measurement] = []
    for position, backend in enumerate(backends):
        connections = {"pg": postgres_connection(dsn, latency="1h")}
        with tempfile.TemporaryDirectory() as scratch, serve(Path(scratch), connections, cache={"backend": backend}) as server:
            label = "memory" if backend == "memory" else "redis"
            results.extend(measure(veil_dsn(server), label, args.runs, offset=position * 1000))
    table = RichTable(title=f"Latency cache — source delay {args.delay:g}s, large result {args.rows:,} rows, median of {args.runs}")
    for column in ("backend", "result", "miss s", "hit s", "speed-up"):
        table.add_column(column, justify="left" if column in ("backend", "result") else "right")
    for r in results:
        table.add_row(r.backend, r.query, f"{r.miss:.4f}", f"{r.hit:.4f}", f"{r.miss / r.hit:.1f}×")
    console.print(table)
    path = write_json("cache.json", {
        **metadata(admin, rows=args.rows, delay=args.delay, runs=args.runs),
        "measurements": [{**asdict(r), "miss_median": r.miss, "hit_median": r.hit} for r in results],
    })
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
