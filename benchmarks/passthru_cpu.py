"""Veil's own CPU per workload on a PostgreSQL source: pass-through vs the Arrow path.

Wall-clock ratios move with the machine's load (the wire benchmark's PostgreSQL-direct runs vary
2-3x on a busy machine); the CPU seconds the `veil serve` process spends on the same work do not
much. Two servers over the benchmark database (`passthrough: true` and `false`) answer the same
reads, alternating; each run's CPU is read from /proc before and after.

    .venv/bin/python -m benchmarks.passthru_cpu [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psycopg

from benchmarks.dataset import duckdb_file, load_postgres
from benchmarks.servers import BENCH_PASSWORD, BENCH_USER, bench_database, find_postgres, veil_postgres_config
from benchmarks.workloads import BULK_SQL, POINT_SQL
from tests.conftest import start_server, stop_server

HERE = Path(__file__).parent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bulk_text(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as connection, connection.cursor() as cursor:
        return sum(1 for _ in cursor.execute(BULK_SQL))


def bulk_binary(dsn: str) -> int:
    async def fetch() -> int:
        connection = await asyncpg.connect(dsn)
        try:
            return len(await connection.fetch(BULK_SQL))
        finally:
            await connection.close()

    return asyncio.run(fetch())


def points(ids: list[int]) -> Callable[[str], int]:
    def run(dsn: str) -> int:
        with psycopg.connect(dsn, autocommit=True) as connection, connection.cursor() as cursor:
            return sum(cursor.execute(POINT_SQL, (i,), prepare=True).fetchone() is not None for i in ids)

    return run


def cpu_benchmark(
    prog: str, description: str, argv: list[str] | None, points: int | None = None
) -> tuple[argparse.Namespace, str]:
    """A CPU benchmark's command line (``--points`` when ``points``, its default, is given) and
    the DSN of its PostgreSQL database, loaded with ``--rows`` rows."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    if points is not None:
        parser.add_argument("--points", type=int, default=points)
    parser.add_argument("--postgres", help="PostgreSQL DSN (default: $VEIL_TEST_POSTGRES, else local trust auth)")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    postgres_dsn = bench_database(find_postgres(args.postgres))
    load_postgres(postgres_dsn, duckdb_file(args.cache_dir, args.rows), args.rows)
    return args, postgres_dsn


def main(argv: list[str] | None = None) -> int:
    args, postgres_dsn = cpu_benchmark("python -m benchmarks.passthru_cpu", __doc__.splitlines()[0], argv, points=2000)
    ids = random.Random(42).sample(range(1, args.rows + 1), min(args.points, args.rows))
    workloads: dict[str, Callable[[str], int]] = {
        "bulk psycopg text": bulk_text,
        "bulk asyncpg binary": bulk_binary,
        f"{len(ids)} point queries": points(ids),
    }
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, passthrough in (("pass-through", True), ("arrow", False)):
            directory = args.cache_dir / f"veil-cpu-{name}"
            directory.mkdir(parents=True, exist_ok=True)
            process, server = start_server(directory, veil_postgres_config(postgres_dsn, passthrough))
            servers[name] = (
                process,
                f"postgresql://{BENCH_USER}:{BENCH_PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable",
            )
        results: dict[str, dict[str, list[float]]] = {w: {s: [] for s in servers} for w in workloads}
        for workload, run in workloads.items():
            for _, dsn in servers.values():
                run(dsn)  # warm: plans, pooled connections
            for _ in range(args.repeat):
                for name, (process, dsn) in servers.items():
                    before = cpu_seconds(process.pid)
                    run(dsn)
                    results[workload][name].append(round(cpu_seconds(process.pid) - before, 3))
            print(workload, {name: min(runs) for name, runs in results[workload].items()})
    finally:
        for process, _ in servers.values():
            stop_server(process)
    report = {
        "rows": args.rows,
        "repeat": args.repeat,
        "unit": "CPU seconds of the veil serve process (least of the runs)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": os.getloadavg(),
        "workloads": {
            w: {name: {"best": min(runs), "runs": runs} for name, runs in by.items()} for w, by in results.items()
        },
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "passthru_cpu.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"{time.perf_counter() - started:.0f}s")
    raise SystemExit(code)
