"""First-time planning cost: distinct statements (a literal varied, so every one misses the plan
cache), with and without numeric aggregates, divisions and CTEs, over a DuckDB source.

    .venv/bin/python -m benchmarks.planning --statements 30

Two measurements per statement family:

* in process: ``Session.prepare`` of the engine (parse, policies, PostgreSQL typing, transpile,
  the SQL checks, describe at the source): wall and CPU ms per statement;
* end to end: each statement run once through ``veil serve`` with psycopg, against the same
  statements on PostgreSQL direct (its own planning and execution), alternating the two; the
  Veil server's CPU ms per statement, and whether both returned the same rows (numeric values
  compared as text, so a display scale that differs counts as a mismatch).

The filters keep a few hundred rows, so the figures are dominated by planning. The statement with
one ``avg(numeric)`` should plan within ~2x of the same statement without it.
Results: benchmarks/results/planning.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.dataset import TABLE, duckdb_file, load_postgres
from benchmarks.points import _cpu_seconds, _server_pid
from benchmarks.report import write_results
from benchmarks.servers import bench_database, find_postgres, veil_config, veil_server
from veil.api import SessionInfo
from veil.config import parse_config
from veil.engine.engine import QueryEngine

HERE = Path(__file__).resolve().parent
_RANGE = f"FROM {TABLE} WHERE id BETWEEN {{v}} AND {{v}} + 300"

#: Statement families; ``{v}`` is replaced by a different number for every statement.
FAMILIES: dict[str, str] = {
    "point (no typing pass)": f"SELECT id, name, amount FROM {TABLE} WHERE id = {{v}}",
    "plain aggregates": f"SELECT flag, count(*) AS n, min(amount) AS lo, max(amount) AS hi {_RANGE} GROUP BY flag ORDER BY flag",
    "one avg(numeric)": f"SELECT flag, count(*) AS n, avg(amount) AS mean {_RANGE} GROUP BY flag ORDER BY flag",
    "numeric division": f"SELECT id, amount / 7 AS share FROM {TABLE} WHERE id BETWEEN {{v}} AND {{v}} + 20 ORDER BY id",
    "CTE + avg": (
        f"WITH c AS (SELECT customer_id, sum(amount) AS s {_RANGE} GROUP BY customer_id)"
        " SELECT count(*) AS n, avg(s) AS mean, max(s) AS top FROM c"
    ),
    "dashboard tile": (
        f"SELECT flag, avg(amount) AS mean, sum(amount) / count(*) AS ratio, avg(customer_id) AS mean_customer,"
        f" var_samp(amount) AS spread {_RANGE} GROUP BY flag ORDER BY flag"
    ),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.planning", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the table (default 200,000)")
    parser.add_argument("--statements", type=int, default=30, help="distinct statements per family")
    parser.add_argument("--postgres", help="PostgreSQL DSN (default: $VEIL_TEST_POSTGRES, else local trust)")
    parser.add_argument("--skip-serve", action="store_true", help="only the in-process measurement")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "planning.json")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache", help="DuckDB file and Veil state")
    return parser.parse_args(argv)


def statements(template: str, count: int, first: int) -> list[str]:
    return [template.format(v=first + 997 * i) for i in range(count)]


def _engine(duckdb_path: Path) -> QueryEngine:
    config = parse_config(
        {
            "connections": {"warehouse": {"type": "duckdb", "path": str(duckdb_path), "latency": 0}},
            "users": {"bench": {}},
            "policies": [{"name": "read", "subscription": {"tables": ["*"], "allow": {"users": ["bench"]}}}],
        }
    )
    return QueryEngine(config)


async def _prepare_each(engine: QueryEngine, sqls: list[str]) -> tuple[list[float], float]:
    session = engine.open_session(SessionInfo("bench", "veil"))
    seconds = []
    cpu = time.process_time()
    for sql in sqls:
        started = time.perf_counter()
        await session.prepare(sql, [])
        seconds.append(time.perf_counter() - started)
    return seconds, time.process_time() - cpu


def in_process(duckdb_path: Path, count: int) -> dict[str, dict[str, float]]:
    """ms per statement of ``Session.prepare``, each statement new to the plan cache."""
    engine = _engine(duckdb_path)
    try:
        results = {}
        for index, (name, template) in enumerate(FAMILIES.items()):
            asyncio.run(_prepare_each(engine, statements(template, 3, 10_000 + index)))  # warm: imports, caches
            seconds, cpu = asyncio.run(_prepare_each(engine, statements(template, count, 1 + index)))
            results[name] = {
                "ms_median": round(1000 * statistics.median(seconds), 2),
                "ms_min": round(1000 * min(seconds), 2),
                "cpu_ms_per_statement": round(1000 * cpu / count, 2),
            }
        return results
    finally:
        engine.close()


def _digest(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    return [tuple(str(value) for value in row) for row in rows]


def _run(connection: psycopg.Connection, sqls: list[str]) -> tuple[float, list[Any]]:
    digests = []
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in sqls:
            digests.append(_digest(cursor.execute(sql).fetchall()))
    return time.perf_counter() - started, digests


def end_to_end(postgres_dsn: str, veil_dsn: str, pid: int | None, count: int) -> dict[str, dict[str, Any]]:
    """ms per distinct statement on PostgreSQL direct and through Veil (alternating)."""
    results: dict[str, dict[str, Any]] = {}
    with psycopg.connect(postgres_dsn, autocommit=True) as postgres, psycopg.connect(veil_dsn, autocommit=True) as veil:
        for index, (name, template) in enumerate(FAMILIES.items()):
            warm = statements(template, 3, 20_000 + index)
            _run(postgres, warm)
            _run(veil, warm)
            sqls = statements(template, count, 1 + index)
            postgres_seconds, postgres_rows = _run(postgres, sqls)
            before = _cpu_seconds(pid)
            veil_seconds, veil_rows = _run(veil, sqls)
            cpu = _cpu_seconds(pid) - before
            results[name] = {
                "postgres_ms": round(1000 * postgres_seconds / count, 2),
                "veil_ms": round(1000 * veil_seconds / count, 2),
                "ratio": round(veil_seconds / postgres_seconds, 2),
                "veil_cpu_ms": round(1000 * cpu / count, 2),
                "same_rows": postgres_rows == veil_rows,
            }
    return results


def _print(title: str, results: dict[str, dict[str, Any]]) -> None:
    print(title)
    for name, figures in results.items():
        print(f"  {name:24} " + "  ".join(f"{key} {value}" for key, value in figures.items()))


def _figures(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    postgres_dsn = bench_database(find_postgres(args.postgres))
    duckdb_path = duckdb_file(args.cache_dir, args.rows)
    load_postgres(postgres_dsn, duckdb_path, args.rows)
    yield "in_process", in_process(duckdb_path, args.statements)
    if not args.skip_serve:
        directory = (args.cache_dir / "veil-planning").resolve()
        with veil_server(veil_config(duckdb_path), directory) as veil_dsn:
            yield "end_to_end", end_to_end(postgres_dsn, veil_dsn, _server_pid(directory), args.statements)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0]
    results = {}
    for title, figures in _figures(args):
        _print(title, figures)
        results[title] = figures
    meta = {
        "rows": args.rows,
        "statements": args.statements,
        "load_average_1m": round(load, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(f"load average {meta['load_average_1m']} (start), {meta['load_average_1m_after']} (end)")
    write_results(args.output, meta, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
