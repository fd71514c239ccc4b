"""CPU of every process a bulk read keeps busy, with and without a row filter and a hash mask.

Wall-clock ratios on a shared machine measure its load; CPU seconds do not much. For the wire
benchmark's bulk reads (1M rows, psycopg text and asyncpg binary) this counts, per run, the
client's CPU (this process), the `veil serve` process's and the PostgreSQL backends' (every
backend of the benchmark database), for four ways of reading the same rows:

* ``PostgreSQL``: the statement on PostgreSQL directly (what the ratios are relative to);
* ``PostgreSQL, Veil's SQL``: PostgreSQL directly running the SQL Veil sends it with the
  policies in force (the hash key bound as ``$n``): no proxy can cost less than this;
* ``Veil``: pass-through, no policies; ``Veil, policies``: pass-through, row filter + hash mask.

When every process competes for the cores the wall-clock ratio tends to the ratio of the CPU
totals; on an idle machine with a core each it tends to the ratio of the busiest process's.

    .venv/bin/python -m benchmarks.policy_cpu [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchmarks.floor import source_statement
from benchmarks.passthru_cpu import cpu_benchmark, cpu_seconds
from benchmarks.servers import (
    BENCH_PASSWORD,
    BENCH_USER,
    veil_postgres_config,
)
from benchmarks.workloads import BULK_SQL, WORKLOADS, Options, Run, Statement
from tests.conftest import start_server, stop_server

PARTS = ("client", "veil", "postgres")


class Backends:
    """CPU seconds of the benchmark database's backends (but the observer's own)."""

    def __init__(self, dsn: str) -> None:
        self.connection = psycopg.connect(dsn, autocommit=True)
        row = self.connection.execute("SELECT pg_backend_pid()").fetchone()
        self.own = row[0] if row else 0

    def pids(self) -> set[int]:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s"
        return {row[0] for row in self.connection.execute(query, (self.own,))}

    @contextmanager
    def measure(self, into: dict[str, float]) -> Iterator[None]:
        before = {pid: cpu_seconds(pid) for pid in self.pids()}
        yield
        # a backend started during the run counts from zero; one that ended is lost (none do here)
        into["postgres"] = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in self.pids() | set(before))


def _cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except FileNotFoundError:
        return 0.0


def main(argv: list[str] | None = None) -> int:
    args, postgres_dsn = cpu_benchmark("python -m benchmarks.policy_cpu", __doc__.splitlines()[0], argv)
    options = Options(rows=args.rows, repeat=args.repeat, points=0, budget_seconds=float("inf"))
    policies = veil_postgres_config(postgres_dsn, passthrough=True, policies=True)
    floor = source_statement(policies, BENCH_USER, BULK_SQL, args.cache_dir / "veil-floor")
    backends = Backends(postgres_dsn)
    report: dict[str, dict[str, dict[str, float]]] = {}
    with ExitStack() as stack:
        plain_dsn, plain_pid = stack.enter_context(
            _serve(veil_postgres_config(postgres_dsn, passthrough=True), args.cache_dir / "veil-cpu-plain")
        )
        policies_dsn, policies_pid = stack.enter_context(_serve(policies, args.cache_dir / "veil-cpu-policies"))
        veil_pids = {plain_dsn: plain_pid, policies_dsn: policies_pid}
        for workload in (w for w in WORKLOADS if w.statement_session is not None):
            assert workload.statement_session is not None
            sides: dict[str, tuple[str, Statement | None]] = {
                "PostgreSQL": (postgres_dsn, None),
                "PostgreSQL, Veil's SQL": (postgres_dsn, floor),
                "Veil": (plain_dsn, None),
                "Veil, policies": (policies_dsn, None),
            }
            with ExitStack() as sessions:
                runs: dict[str, Run] = {
                    name: sessions.enter_context(
                        workload.session(dsn, options)
                        if statement is None
                        else workload.statement_session(dsn, options, statement)
                    )
                    for name, (dsn, statement) in sides.items()
                }
                best: dict[str, dict[str, float]] = {name: {} for name in sides}
                digests = {name: run() for name, run in runs.items()}  # warm: plans, pooled connections
                if len(set(map(str, digests.values()))) != 1:
                    raise SystemExit(f"{workload.name}: the sides read different rows: {digests}")
                for _ in range(args.repeat):
                    for name, run in runs.items():
                        used = _measure(run, backends, veil_pids.get(sides[name][0]))
                        for part, seconds in used.items():
                            best[name][part] = min(best[name].get(part, float("inf")), seconds)
            base = best["PostgreSQL"]["total"]
            for name, parts in best.items():
                parts["cpu_ratio"] = round(parts["total"] / base, 3)
                print(f"{workload.name:22s} {name:24s} " + "  ".join(f"{k} {v:.2f}" for k, v in parts.items()))
            report[workload.name] = best
    backends.connection.close()
    args.output.mkdir(parents=True, exist_ok=True)
    payload = {
        "rows": args.rows,
        "repeat": args.repeat,
        "unit": "CPU seconds per read (least of the runs, each part and the total on its own)",
        "floor_sql": floor.sql,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": os.getloadavg(),
        "workloads": report,
    }
    (args.output / "policy_cpu.json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


@contextmanager
def _serve(config: dict[str, object], directory: Path) -> Iterator[tuple[str, int]]:
    """`veil serve` with ``config``: the bench user's DSN and the server's pid."""
    directory.mkdir(parents=True, exist_ok=True)
    process, server = start_server(directory, config)
    try:
        yield (
            f"postgresql://{BENCH_USER}:{BENCH_PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable",
            process.pid,
        )
    finally:
        stop_server(process)


def _measure(run: Run, backends: Backends, veil_pid: int | None) -> dict[str, float]:
    used: dict[str, float] = {}
    veil_before = _cpu(veil_pid) if veil_pid else 0.0
    client_before = time.process_time()
    wall_before = time.perf_counter()
    with backends.measure(used):
        run()
    used["wall"] = time.perf_counter() - wall_before
    used["client"] = time.process_time() - client_before
    used["veil"] = (_cpu(veil_pid) - veil_before) if veil_pid else 0.0
    used["total"] = used["client"] + used["veil"] + used["postgres"]
    return used


if __name__ == "__main__":
    raise SystemExit(main())
