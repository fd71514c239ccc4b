"""Cost of the outgoing-SQL verifier (veil/planner/verify.py) per statement: the plans of a
point query, a 10-table join (every table masked and filtered) and a federated join are built
once, then their outgoing SQL is verified a few thousand times. Verification runs once per
planned statement (plans are cached), plus once per dynamically filtered fragment.

    .venv/bin/python -m benchmarks.verify
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable

from benchmarks.rewrite import TABLES, build_warehouse, engine_for, join_sql
from veil.api import SessionInfo
from veil.engine.engine import QueryEngine
from veil.planner.verify import verify_plan

RESULTS = Path(__file__).parent / "results"
ROUNDS = 2000
STATEMENTS = {
    "point query (1 table)": "SELECT id, name, email FROM t0 WHERE id = 42",
    f"{TABLES}-table join": join_sql(0),
}


async def plans(engine: QueryEngine) -> dict[str, object]:
    session = engine.open_session(SessionInfo("alice", "veil"))
    found = {}
    for label, sql in STATEMENTS.items():
        prepared = await session.prepare(sql, [])
        found[label] = prepared.plan.query  # type: ignore[attr-defined]
    return found


def timed(plan: object, engine: QueryEngine) -> list[float]:
    sources = engine.catalog.sources
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        verify_plan(plan, sources)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "w.duckdb"
        build_warehouse(path)
        engine = engine_for(path)
        for label, plan in asyncio.run(plans(engine)).items():
            samples = timed(plan, engine)
            figures[label] = {
                "sql_chars": len(plan.sql),  # type: ignore[attr-defined]
                "median_us": statistics.median(samples) * 1e6,
                "p90_us": statistics.quantiles(samples, n=10)[-1] * 1e6,
            }
        engine.close()
    table = RichTable(f"verify_plan, {ROUNDS} runs each", "SQL chars", "median", "p90")
    for label, row in figures.items():
        table.add_row(label, str(int(row["sql_chars"])), f"{row['median_us']:.0f} µs", f"{row['p90_us']:.0f} µs")
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "verify.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
