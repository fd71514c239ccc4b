"""DuckDB's own time for the point query Veil pushes down, in a bare Python loop (no Veil).

    .venv/bin/python -m benchmarks.duckdb_floor --rows 200000 --points 1000 --rounds 3

The floor under the DuckDB-source point-query figure of `benchmarks.points`: the same
`WHERE "id" = $1` statement on the wire benchmark's DuckDB file, timed per call path (Veil's
DuckDB adapter, DuckDB's DB-API `execute`, a `PREPARE`d statement run with `EXECUTE`), on the
table as built (`id` is its PRIMARY KEY, an ART index, as in PostgreSQL) and on a copy without
the key (its rows are stored in id order, so min/max statistics still skip most of the table),
plus `SELECT $1::BIGINT` (no table: DuckDB's fixed cost per statement). The cases alternate in
every round and the best round per case is kept. Results: benchmarks/results/duckdb_floor.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from benchmarks.dataset import TABLE, duckdb_file
from veil.catalog.sources.base import drain
from veil.catalog.sources.duckdb.source import DuckDBSource
from veil.catalog.sources.sandbox import sandboxed_duckdb

ADAPTER_CONFIG: dict[str, bool] = {"arrow_lossless_conversion": True, "ieee_floating_point_ops": False}
HERE = Path(__file__).resolve().parent
POINT = f'SELECT "id", "customer_id", "name", "score", "amount", "created", "flag" FROM {TABLE} WHERE "id" = $1'


def keyless_copy(path: Path) -> Path:
    """The benchmark table again, without its PRIMARY KEY (built once next to ``path``)."""
    keyless = path.with_name(path.stem + "-nokey.duckdb")
    if keyless.exists():
        return keyless
    partial = keyless.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with duckdb.connect(str(partial)) as connection:
        connection.execute(f"ATTACH '{path}' AS original (READ_ONLY)")
        connection.execute(f"CREATE SCHEMA {TABLE.split('.')[0]}")
        connection.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM original.{TABLE} ORDER BY id")
        connection.execute("DETACH original")
        connection.execute("CHECKPOINT")
    partial.rename(keyless)
    return keyless


def cases(path: Path) -> dict[str, Callable[[int], object]]:
    source = DuckDBSource("bench", path)
    # the adapter's own settings: DuckDB shares one database per file only among equal configs
    plain = sandboxed_duckdb(str(path), read_only=True, config=ADAPTER_CONFIG)
    plain.execute(f"PREPARE point AS {POINT}")

    def adapter(key: int) -> object:  # what a worker thread does per statement
        cursor = source.cursor()
        try:
            return drain(cursor.execute(POINT, [key]))
        finally:
            cursor.close()

    return {
        "Veil's DuckDB adapter (execute, drain)": adapter,
        "DB-API execute + fetchall": lambda key: plain.execute(POINT, [key]).fetchall(),
        "PREPARE once, EXECUTE point(key) + fetchall": lambda key: plain.execute(f"EXECUTE point({key})").fetchall(),
        "SELECT $1::BIGINT (no table)": lambda key: plain.execute("SELECT $1::BIGINT", [key]).fetchall(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.duckdb_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "duckdb_floor.json")
    args = parser.parse_args(argv)
    path = duckdb_file(args.cache_dir, args.rows)
    keys = random.Random(7).sample(range(1, args.rows + 1), min(args.points, args.rows))
    timed = {
        f"{name} [{table}]": run
        for table, file in (("PRIMARY KEY", path), ("no key", keyless_copy(path)))
        for name, run in cases(file).items()
    }
    best = dict.fromkeys(timed, float("inf"))
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, run in timed.items():  # cases alternate within each round
            run(keys[0])
            started = time.perf_counter()
            for key in keys:
                run(key)
            best[name] = min(best[name], (time.perf_counter() - started) / len(keys))
    results = {name: round(seconds * 1000, 4) for name, seconds in best.items()}
    for name, ms in results.items():
        print(f"{name:62} {ms:.3f} ms/query")
    print(f"load average {load:.2f}")
    meta = {
        "rows": args.rows, "points": len(keys), "rounds": args.rounds, "load_average_1m": round(load, 2),
        "duckdb": duckdb.__version__, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"meta": meta, "ms_per_query": results}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
