"""Soak: N concurrent sessions running a mix of point queries, aggregates and 100k-row scans for
M minutes, against Veil (a PostgreSQL source and a DuckDB source, same rows) and against the same
PostgreSQL directly, one after the other in one run. Reports statements/s, p50/p99 per kind,
errors, and Veil's RSS over time (``/proc/<pid>/status`` VmRSS), including after the load once idle.

    python -m benchmarks.soak                                   # 500 sessions x 10 minutes per side
    python -m benchmarks.soak --sessions 100 --minutes 2        # a trial

The client load comes from ``--workers`` processes (default: half the CPUs, at least 2), each
running its share of the sessions on its own event loop, so the client is not the bottleneck.
PostgreSQL must accept ``sessions`` direct connections plus Veil's: without ``--postgres`` the
benchmark starts a private cluster (``initdb``/``pg_ctl`` from ``--pg-bin``, default the newest
/usr/lib/postgresql/*/bin) with ``max_connections = sessions + 200`` and removes it afterwards; a
``--postgres`` DSN is refused when its ``max_connections`` is too small.

Writes benchmarks/results/soak.json. Targets (issue #14): 0 errors, peak RSS <= max_memory + 25 %,
point-query p99 <= 3x PostgreSQL's p99 under the same mix.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.dataset import duckdb_file, load_postgres
from benchmarks.pgsources import metadata, write_json
from benchmarks.servers import BENCH_PASSWORD, BENCH_USER, bench_database
from tests.conftest import _throwaway_cluster, postgres_connection, start_server, stop_server
from veil.config.models import parse_size
from veil.executor.membudget import default_max_memory
from veil.proxy.auth import make_scram_verifier

ROWS = 200_000
SCAN_ROWS = 100_000
#: Share of each statement kind in the mix.
MIX = (("point", 0.75), ("aggregate", 0.17), ("scan", 0.08))


def statements(table: str) -> dict[str, str]:
    return {
        "point": f"SELECT id, customer_id, name, score, amount FROM {table} WHERE id = %s",
        "aggregate": f"SELECT customer_id %% 10 AS k, count(*), sum(amount) FROM {table} WHERE id <= %s GROUP BY 1",
        "scan": f"SELECT id, name, score FROM {table} WHERE id <= {SCAN_ROWS} AND id > %s",
    }


def parameter(kind: str, rng: random.Random) -> int:
    if kind == "point":
        return rng.randint(1, ROWS)
    if kind == "aggregate":
        return rng.randint(5_000, 20_000)
    return 0


@dataclass
class Side:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    statements: int = 0
    seconds: float = 0.0
    started_at: float = 0.0  # wall clock

    def add(self, part: Side) -> None:
        for kind, values in part.latencies.items():
            self.latencies[kind] += values
        self.errors.update(part.errors)
        self.statements += part.statements

    def summary(self) -> dict[str, Any]:
        kinds = {}
        for kind, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            kinds[kind] = {
                "count": len(ordered),
                "p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            }
        return {
            "statements": self.statements,
            "statements_per_s": round(self.statements / self.seconds, 1) if self.seconds else 0.0,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(5)),
            "kinds": kinds,
        }


@dataclass(frozen=True)
class Load:
    """One worker process's share: these sessions, from ``start_at`` to ``until`` (wall clock)."""

    dsn: str
    tables: tuple[str, ...]
    seeds: tuple[int, ...]
    start_at: float
    until: float


async def session(load: Load, side: Side, seed: int) -> None:
    rng = random.Random(seed)
    texts = [statements(table) for table in load.tables]
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    connection: psycopg.AsyncConnection[Any] | None = None
    try:
        connection = await psycopg.AsyncConnection.connect(load.dsn, autocommit=True, connect_timeout=60)
    except psycopg.Error as error:
        side.errors[f"connect: {type(error).__name__}: {str(error).strip()[:120]}"] += 1
    await asyncio.sleep(max(0.0, load.start_at - time.time()))  # every session starts together
    while time.time() < load.until:
        try:
            if connection is None:
                connection = await psycopg.AsyncConnection.connect(load.dsn, autocommit=True, connect_timeout=60)
            kind = rng.choices(kinds, weights)[0]
            sql = rng.choice(texts)[kind]
            started = time.perf_counter()
            cursor = await connection.execute(sql, (parameter(kind, rng),))
            await cursor.fetchall()
            side.latencies[kind].append(time.perf_counter() - started)
            side.statements += 1
        except psycopg.Error as error:
            side.errors[f"{type(error).__name__}: {str(error).strip()[:120]}"] += 1
            if connection is not None and connection.closed:
                connection = None
            await asyncio.sleep(0.1)
    if connection is not None:
        await connection.close()


def worker(load: Load) -> Side:
    """Runs in a client process of its own."""
    side = Side("part")

    async def sessions() -> None:
        await asyncio.gather(*(session(load, side, seed) for seed in load.seeds))

    asyncio.run(sessions())
    return side


def run_side(name: str, dsn: str, tables: list[str], sessions: int, seconds: float, workers: int) -> Side:
    """``sessions`` sessions spread over ``workers`` client processes, all starting at once."""
    side = Side(name)
    workers = max(1, min(workers, sessions))
    context = multiprocessing.get_context("spawn")  # no threads or sockets of this process inherited
    with context.Pool(workers) as pool:
        # time for the processes to start and every session to connect before the clock starts
        start_at = time.time() + 5 + sessions / 50
        loads = [Load(dsn, tuple(tables), tuple(range(w, sessions, workers)), start_at, start_at + seconds)
                 for w in range(workers)]
        for part in pool.map(worker, loads):
            side.add(part)
    side.seconds, side.started_at = seconds, start_at
    return side


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.time(), rss_bytes(self.pid)))
            self.stopped.wait(self.every)


def veil_config(pg_dsn: str, duck_path: Path, max_memory: str | None) -> dict[str, Any]:
    server: dict[str, Any] = {"host": "127.0.0.1", "port": 0}
    if max_memory:
        server["max_memory"] = max_memory
    return {
        "server": server,
        "connections": {
            "pg": postgres_connection(pg_dsn, latency=0, population={"schemas": ["bench"]}, naming={"schema": "pg"}),
            "duck": {"type": "duckdb", "path": str(duck_path), "latency": 0},
        },
        "users": {BENCH_USER: {"password": make_scram_verifier(BENCH_PASSWORD)}},
        "policies": [{"name": "Soak reads all", "subscription": {"tables": ["*"], "allow": {"users": [BENCH_USER]}}}],
    }


def private_postgres(sessions: int, pg_bin: Path | None) -> tuple[str, Callable[[], None]]:
    """A throwaway cluster accepting every session directly plus Veil's source connections."""
    directory = Path(tempfile.mkdtemp(prefix="veil-soak-pg-"))
    dsn, stop = _throwaway_cluster(directory, f"-c max_connections={sessions + 200}", pg_bin)

    def remove() -> None:
        stop()
        shutil.rmtree(directory, ignore_errors=True)

    return dsn, remove


def check_capacity(admin: str, sessions: int) -> None:
    with psycopg.connect(admin, connect_timeout=10) as connection:
        row = connection.execute("SHOW max_connections").fetchone()
    allowed = int(row[0]) if row else 0
    if allowed < sessions + 50:
        raise SystemExit(f"{admin} allows {allowed} connections; {sessions} sessions need at least "
                         f"{sessions + 50} (or leave out --postgres for a private cluster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 2) // 2),
                        help="client processes (default: half the CPUs, at least 2)")
    parser.add_argument("--postgres", help="admin DSN of a PostgreSQL allowing sessions + 50 connections "
                                           "(default: a private cluster started for the run)")
    parser.add_argument("--pg-bin", type=Path, help="directory of initdb/pg_ctl (default: newest /usr/lib/postgresql/*/bin)")
    parser.add_argument("--max-memory", help="server.max_memory for Veil (default: Veil's default)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "veil-bench")
    args = parser.parse_args()

    if args.postgres:
        admin, stop_postgres = args.postgres, None
        check_capacity(admin, args.sessions)
    else:
        admin, stop_postgres = private_postgres(args.sessions, args.pg_bin)
    try:
        run(args, admin)
    finally:
        if stop_postgres is not None:
            stop_postgres()


def run(args: argparse.Namespace, admin: str) -> None:
    pg_dsn = bench_database(admin)
    duck_path = duckdb_file(args.cache_dir, ROWS)
    load_postgres(pg_dsn, duck_path, ROWS)
    seconds = args.minutes * 60

    postgres = run_side("postgres", pg_dsn, ["bench.t"], args.sessions, seconds, args.workers)

    with tempfile.TemporaryDirectory() as tmp:
        process, server = start_server(Path(tmp), veil_config(pg_dsn, duck_path, args.max_memory))
        try:
            sampler = RssSampler(process.pid)
            sampler.start()
            idle_before = rss_bytes(process.pid)
            dsn = f"postgresql://{BENCH_USER}:{BENCH_PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable"
            veil = run_side("veil", dsn, ["pg.t", "bench.t"], args.sessions, seconds, args.workers)
            right_after = rss_bytes(process.pid)
            time.sleep(5)  # idle: the budget trims the allocator one second after the last release
            idle_after = rss_bytes(process.pid)
            limit = parse_size(args.max_memory) if args.max_memory else default_max_memory()
            sampler.stopped.set()
            sampler.join()
        finally:
            stop_server(process)

    mib = 1024 * 1024
    peak = max(value for _, value in sampler.samples)
    veil_summary, pg_summary = veil.summary(), postgres.summary()
    point_ratio = (
        veil_summary["kinds"]["point"]["p99_ms"] / pg_summary["kinds"]["point"]["p99_ms"]
        if "point" in veil_summary["kinds"] and "point" in pg_summary["kinds"] else None
    )
    payload: dict[str, Any] = {
        **metadata(admin, sessions=args.sessions, minutes=args.minutes, rows=ROWS, mix=dict(MIX),
                   client_processes=args.workers, load_average=os.getloadavg()),
        "veil": veil_summary,
        "postgres": pg_summary,
        "veil_rss_mib": {
            "idle_before": round(idle_before / mib, 1),
            "peak": round(peak / mib, 1),
            "right_after_load": round(right_after / mib, 1),
            "idle_after_5s": round(idle_after / mib, 1),
            "max_memory": round(limit / mib, 1),
            # (seconds since the load started: negative while sessions connect, then past its end)
            "samples": [(round(t - veil.started_at, 1), round(v / mib, 1)) for t, v in sampler.samples],
        },
        "targets": {
            "zero_errors": veil_summary["errors"] == 0,
            "peak_rss_within_max_memory_plus_25pct": peak <= limit * 1.25,
            "point_p99_ratio_to_postgres": round(point_ratio, 2) if point_ratio else None,
            "point_p99_within_3x": point_ratio is not None and point_ratio <= 3,
        },
    }
    path = write_json("soak.json", payload)
    for side in (veil_summary, pg_summary):
        print(side)
    print({**payload["veil_rss_mib"], "samples": len(sampler.samples)}, payload["targets"])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
