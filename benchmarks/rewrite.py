"""Cost of planning a statement with policies: a 10-table join, cold (parse, resolve, rewrite,
transpile) and warm (the plan cache hit a repeated statement takes).

    .venv/bin/python -m benchmarks.rewrite
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table as RichTable

from veil.api import SessionInfo
from veil.config import parse_config
from veil.engine.engine import QueryEngine
from veil.sql.statements import classify

TABLES = 10
RESULTS = Path(__file__).parent / "results"


def build_warehouse(path: Path) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA sales")
    for i in range(TABLES):
        connection.execute(
            f"CREATE TABLE sales.t{i} AS SELECT r AS id, 'name ' || r AS name, 'x' || r || '@example.com' AS email, "
            f"['US','CA','DE'][1 + r % 3] AS country FROM range(100) t(r)"
        )
    connection.close()


def engine_for(path: Path) -> QueryEngine:
    config = parse_config(
        {
            "secrets": {"hash_key": "bench"},
            "server": {"search_path": "sales"},
            "connections": {"w": {"type": "duckdb", "path": str(path)}},
            "tables": {f"w.sales.t{i}": {"tags": {"email": ["PII.Email"], "name": ["PII"]}} for i in range(TABLES)},
            "users": {"alice": {"groups": ["Analytics"], "attributes": {"country": ["US", "CA"]}}},
            "policies": [
                {"name": "read", "subscription": {"tables": ["w.sales.*"], "allow": {"groups": ["Analytics"]}}},
                {"name": "pii", "mask": {"column_tags": ["PII"], "with": "hash"}},
                {"name": "email", "mask": {"column_tags": ["PII.Email"], "with": "email_domain"}},
                {"name": "rows", "row_filter": {"where": "@attributeValuesContains('country', country)"}},
            ],
        }
    )
    return QueryEngine(config)


def join_sql(variant: int) -> str:
    joins = " ".join(f"JOIN t{i} ON t{i}.id = t0.id" for i in range(1, TABLES))
    columns = ", ".join(f"t{i}.email" for i in range(TABLES))
    return f"SELECT {columns} FROM t0 {joins} WHERE t0.id > {variant}"


async def measure(engine: QueryEngine, rounds: int) -> tuple[list[float], list[float]]:
    session = engine.open_session(SessionInfo("alice", "veil"))
    cold: list[float] = []
    warm: list[float] = []
    for variant in range(rounds):
        sql = join_sql(variant)
        started = time.perf_counter()
        await session.prepare(sql, [])
        cold.append(time.perf_counter() - started)
        for _ in range(20):
            started = time.perf_counter()
            await session.prepare(sql, [])
            warm.append(time.perf_counter() - started)
    return cold, warm


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "w.duckdb"
        build_warehouse(path)
        engine = engine_for(path)
        classify.cache_clear()
        cold, warm = asyncio.run(measure(engine, rounds=30))
        engine.close()
    figures = {
        "tables": TABLES,
        "cold_ms_median": statistics.median(cold) * 1000,
        "cold_ms_p90": statistics.quantiles(cold, n=10)[-1] * 1000,
        "warm_us_median": statistics.median(warm) * 1e6,
        "warm_us_p90": statistics.quantiles(warm, n=10)[-1] * 1e6,
    }
    table = RichTable("10-table join with masks and row filters", "median", "p90")
    table.add_row("cold plan (parse, policies, rewrite, transpile, describe)", f"{figures['cold_ms_median']:.2f} ms", f"{figures['cold_ms_p90']:.2f} ms")
    table.add_row("warm plan (repeated statement)", f"{figures['warm_us_median']:.1f} µs", f"{figures['warm_us_p90']:.1f} µs")
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rewrite.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
