"""Overhead of data policies on the wire benchmark's workloads (target ≤ 5 %).

Two `veil serve` processes over the same DuckDB file: one with a subscription only, one that
also enforces a row filter on a user attribute and a conditional hash mask, both chosen so the
results stay identical (the harness checks that both sides read the same rows). The ratio is
the cost of the policy rewrite and guards, not of returning fewer rows.

    .venv/bin/python -m benchmarks.policy_overhead [--rows N]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable

from benchmarks.dataset import duckdb_file
from benchmarks.harness import compare
from benchmarks.servers import BENCH_PASSWORD, BENCH_USER, veil_config
from benchmarks.workloads import WORKLOADS, Options
from tests.conftest import start_server, stop_server

HERE = Path(__file__).parent
TARGET = 1.05


def policy_config(duckdb_path: Path) -> dict[str, object]:
    config = veil_config(duckdb_path)
    config["secrets"] = {"hash_key": "bench"}
    config["users"][BENCH_USER]["attributes"] = {"flags": ["true", "false"]}  # type: ignore[index]
    config["policies"] = [
        *config["policies"],  # type: ignore[list-item]
        {"name": "Rows by attribute", "row_filter": {"where": "@attributeValuesContains('flags', CAST(flag AS TEXT))"}},
        {"name": "Hash names of negative ids", "mask": {"columns": ["name"], "with": "hash", "where": "id < 0"}},
    ]
    return config


@contextmanager
def serve(config: dict[str, object], directory: Path) -> Iterator[str]:
    directory.mkdir(parents=True, exist_ok=True)
    process, server = start_server(directory, config)
    try:
        yield f"postgresql://{BENCH_USER}:{BENCH_PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable"
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.policy_overhead")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args()
    cache = HERE / ".cache"
    options = Options(rows=args.rows, repeat=args.repeat, points=args.points, budget_seconds=60.0)
    path = duckdb_file(cache, args.rows)
    console = Console(width=120)
    with serve(veil_config(path), cache / "plain") as plain, serve(policy_config(path), cache / "policies") as guarded:
        results = [compare(workload, plain, guarded, options) for workload in WORKLOADS]
    table = RichTable("workload", "no data policies (s)", "with policies (s)", "ratio", "same rows")
    for result in results:
        ratio = f"{result.ratio:.3f}×" if result.ratio else "—"
        table.add_row(
            result.workload, f"{result.postgres_best or 0:.3f}", f"{result.veil_best or 0:.3f}", ratio,
            "yes" if result.results_match else f"NO: {result.difference or result.error}",
        )
    console.print(table)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "policy_overhead.json").write_text(
        json.dumps(
            [{"workload": r.workload, "plain": r.postgres_best, "policies": r.veil_best, "ratio": r.ratio,
              "target": TARGET, "results_match": r.results_match} for r in results],
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
