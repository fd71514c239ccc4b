"""Wire benchmark: the same client workloads against PostgreSQL directly and through `veil serve`.

    .venv/bin/python -m benchmarks.wire              # 1M rows (`make bench`)
    .venv/bin/python -m benchmarks.wire --rows 50000 # quick run

Loads one 7-column table into PostgreSQL (database `veil_bench`) and into a DuckDB file that Veil
serves, then times each workload (best of --repeat, the two servers alternating) on both and prints
the ratio Veil/PostgreSQL. The workloads run a second time through a Veil whose source is that same
PostgreSQL database ("PostgreSQL source"), which shows what the proxy adds on its own, and the
point queries are timed in-process through Veil's own source adapters (`engine_floor` in the
JSON, see benchmarks/floor.py): no proxy can answer faster than its source does. With --policies the
bulk reads also run, on PostgreSQL directly, the SQL Veil sends it (row filter and hash mask
applied; `floor` in the table and JSON): the least ratio any proxy could reach with those policies.
Results: benchmarks/results/wire.json and wire.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from benchmarks.dataset import duckdb_file, load_postgres
from benchmarks.floor import measure as measure_engine_floor
from benchmarks.floor import source_statement
from benchmarks.harness import compare
from benchmarks.report import Result, print_table, write_chart, write_json
from benchmarks.servers import (
    BENCH_USER,
    bench_database,
    find_postgres,
    postgres_version,
    veil_config,
    veil_postgres_config,
    veil_server,
)
from benchmarks.workloads import BULK_SQL, WORKLOADS, Options, Statement

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wire", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per workload and server; best is kept")
    parser.add_argument("--points", type=int, default=2000, help="point queries per run")
    parser.add_argument("--postgres", help="PostgreSQL DSN (default: $VEIL_TEST_POSTGRES, else local trust auth)")
    parser.add_argument("--budget", type=float, default=60.0, help="stop repeating a workload after this many s")
    parser.add_argument("--output", type=Path, default=HERE / "results", help="where wire.json and wire.png go")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache", help="DuckDB file and Veil state")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed or results differ")
    parser.add_argument(
        "--postgres-source-only",
        action="store_true",
        help="only the PostgreSQL-source pass (no DuckDB pass, no engine floor); writes wire_postgres.json",
    )
    parser.add_argument(
        "--passthrough",
        action="store_true",
        help="the PostgreSQL source passes statements through (the source's DataRows, no Arrow; the "
        "default of a postgres connection), with issue #13's targets; with --postgres-source-only writes "
        "wire_postgres_passthrough.json",
    )
    parser.add_argument(
        "--policies",
        action="store_true",
        help="the PostgreSQL source pass with a row filter and a hash mask in force (same rows read); "
        "with --postgres-source-only writes wire_postgres[_passthrough]_policies.json",
    )
    return parser.parse_args(argv)


#: Issue #13's targets for a PostgreSQL source passing statements through (policies: bulk 1.2×).
PASSTHROUGH_TARGETS = {"bulk psycopg text": 1.1, "bulk asyncpg binary": 1.1, "point queries": 2.0}
POLICY_BULK_TARGET = 1.2


def passthrough_targets(policies: bool) -> dict[str, float]:
    return {
        name: POLICY_BULK_TARGET if policies and name.startswith("bulk") else target
        for name, target in PASSTHROUGH_TARGETS.items()
    }


def run_workloads(
    postgres_dsn: str,
    veil_dsn: str,
    options: Options,
    console: Console,
    suffix: str = "",
    targets: dict[str, float] | None = None,
    floor: Statement | None = None,
) -> list[Result]:
    results = []
    targets = targets or {}
    for workload in (
        dataclasses.replace(w, name=w.name + suffix, target_ratio=targets.get(w.name, w.target_ratio))
        for w in WORKLOADS
    ):
        with console.status(f"{workload.name}: PostgreSQL and Veil, alternating"):
            result = compare(workload, postgres_dsn, veil_dsn, options, floor)
        floor_runs = f"; PostgreSQL, Veil's SQL {_runs(result.floor_seconds)}" if result.floor_seconds else ""
        console.log(
            f"{workload.name}: PostgreSQL {_runs(result.postgres_seconds)}; Veil {_runs(result.veil_seconds)}{floor_runs}"
        )
        results.append(result)
    return results


def _runs(seconds: list[float]) -> str:
    return " ".join(f"{s:.3f}s" for s in seconds) or "failed"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    options = Options(rows=args.rows, repeat=args.repeat, points=args.points, budget_seconds=args.budget)
    started = time.perf_counter()

    postgres_dsn = bench_database(find_postgres(args.postgres))
    with console.status("building the DuckDB copy"):
        duckdb_path = duckdb_file(args.cache_dir, args.rows)
    with console.status("loading PostgreSQL"):
        load_postgres(postgres_dsn, duckdb_path, args.rows)
    console.log(f"data ready ({args.rows:,} rows) in {time.perf_counter() - started:.1f}s")

    results = []
    if not args.postgres_source_only:
        with veil_server(veil_config(duckdb_path), args.cache_dir / "veil") as veil_dsn:
            results = run_workloads(postgres_dsn, veil_dsn, options, console)
    config = veil_postgres_config(postgres_dsn, args.passthrough, args.policies)
    suffix = " (PostgreSQL source, row filter + hash mask)" if args.policies else " (PostgreSQL source)"
    targets = passthrough_targets(args.policies) if args.passthrough else None
    floor_statement = None
    if args.policies:
        floor_statement = source_statement(config, BENCH_USER, BULK_SQL, args.cache_dir / "veil-floor")
        console.log(f"SQL Veil sends PostgreSQL for the bulk reads: {floor_statement.sql}")
    with veil_server(config, args.cache_dir / "veil-pg") as veil_dsn:
        results += run_workloads(postgres_dsn, veil_dsn, options, console, suffix, targets, floor_statement)
    floor = None
    if not args.postgres_source_only:
        with console.status("point queries in-process through the DuckDB and PostgreSQL source adapters"):
            floor = measure_engine_floor(duckdb_path, postgres_dsn, options)
        console.log(
            f"engine floor, {floor.points} point queries: DuckDB {floor.duckdb_seconds:.3f}s, "
            f"PostgreSQL {floor.postgres_seconds:.3f}s"
        )

    print_table(results, args.rows, console)
    meta = {
        "rows": args.rows,
        "repeat": args.repeat,
        "points": args.points,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "postgres_version": postgres_version(postgres_dsn),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "total_seconds": round(time.perf_counter() - started, 1),
        "engine_floor": floor.as_json() if floor is not None else None,
        "passthrough": args.passthrough,
        "policies": args.policies,
        "floor_sql": floor_statement.sql if floor_statement is not None else None,
        "load_average": os.getloadavg(),
    }
    if args.postgres_source_only:
        name = "wire_postgres" + ("_passthrough" if args.passthrough else "") + ("_policies" if args.policies else "")
        name += ".json"
        write_json(args.output / name, results, meta)
        console.log(f"wrote {args.output / name} ({meta['total_seconds']}s total)")
    else:
        write_json(args.output / "wire.json", results, meta)
        write_chart(args.output / "wire.png", results, args.rows)
        console.log(
            f"wrote {args.output / 'wire.json'} and {args.output / 'wire.png'} ({meta['total_seconds']}s total)"
        )
    missed = [r for r in results if r.meets_target is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
