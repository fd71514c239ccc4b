"""TPC-H through Veil vs PostgreSQL direct: the 22 queries, pushed down whole (one connection key).

Each query runs --repeat times on PostgreSQL and through Veil (psycopg, every row fetched,
alternating the two), best time kept; Veil's rows must equal PostgreSQL's (in order where the
query orders). With --split, each query also runs over the two-key layout (lineitem and orders
behind other credentials than the rest), i.e. fragments plus a local join; --split-only runs that
layout alone. For the two-key layout the bytes each statement read from its sources (the Arrow
buffer bytes of its fragments' results, read again over ADBC from the SQL in the audit log) are
recorded too.

    .venv/bin/python -m benchmarks.tpch [--scale 1] [--repeat 3] [--split | --split-only]

Results: benchmarks/results/tpch.json and tpch.png. A layout that was not run keeps its results
from the existing tpch.json (each layout records its own scale, repeat and time), so a split run
at one scale and a pushdown run at another can share the file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc_pg
import psycopg
from rich.console import Console
from rich.table import Table as RichTable

from benchmarks.pgsources import RESULTS, database, metadata, write_json
from benchmarks.servers import find_postgres
from benchmarks.tpch.data import load
from benchmarks.tpch.queries import QUERIES, query
from benchmarks.tpch.serving import (
    READER,
    connections,
    ensure_reader,
    same_rows,
    users_and_policies,
    veil_dsn,
)
from tests.conftest import start_server, stop_server

DATABASE = "veil_bench_tpch"
TARGET = 1.1


@dataclass
class Measurement:
    query: int
    mode: str  # pushdown | two keys (fragments and a local join, unless one key holds every table)
    postgres_seconds: float
    veil_seconds: float | None
    rows: int
    same_result: bool
    error: str | None = None
    fragment_bytes: int | None = None  # two keys: Arrow bytes of the fragments' results

    @property
    def ratio(self) -> float | None:
        return self.veil_seconds / self.postgres_seconds if self.veil_seconds else None


def _timed(connection: psycopg.Connection[Any], sql: str) -> tuple[float, list[tuple[Any, ...]]]:
    start = time.perf_counter()
    rows = connection.execute(sql).fetchall()
    return time.perf_counter() - start, rows


def measure(direct: psycopg.Connection[Any], veil: psycopg.Connection[Any], number: int, schema: str,
            scale: float, repeat: int) -> Measurement:
    expected_sql, veil_sql = query(number, "tpch", scale), query(number, schema, scale)
    mode = "pushdown" if schema == "tpch" else "two keys"
    postgres_times: list[float] = []
    veil_times: list[float] = []
    expected: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    try:
        for repetition in range(repeat):
            for side in ("postgres", "veil") if repetition % 2 == 0 else ("veil", "postgres"):
                if side == "postgres":
                    seconds, expected = _timed(direct, expected_sql)
                    postgres_times.append(seconds)
                else:
                    seconds, rows = _timed(veil, veil_sql)
                    veil_times.append(seconds)
    except psycopg.Error as error:
        return Measurement(number, mode, min(postgres_times or [math.nan]), None, 0, False, str(error).strip())
    ordered = "order by" in expected_sql.lower()
    same = same_rows(rows, expected, ordered, padded=mode == "pushdown")
    return Measurement(number, mode, min(postgres_times), min(veil_times), len(rows), same)


def fragment_bytes(dsn: str, audit: Path, statement: str) -> int | None:
    """Arrow buffer bytes of the results of the fragments Veil sent for ``statement`` (its last
    audit record), read again over ADBC; None when the statement was pushed down whole."""
    records = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
    matching = [r for r in records if r["statement"] == statement]
    if not matching or len(matching[-1]["connections"]) < 2:
        return None
    total = 0
    with adbc_pg.connect(dsn) as connection, connection.cursor() as cursor:
        for sql in matching[-1]["pushed_sql"]:
            cursor.execute(sql)
            total += cursor.fetch_arrow_table().get_total_buffer_size()
    return total


def layout_results(mode: str, results: list[Measurement], **extra: object) -> dict[str, object]:
    ratios = [r.ratio for r in results if r.ratio]
    moved = [r.fragment_bytes for r in results if r.fragment_bytes is not None]
    return {
        **extra,
        "geomean": geomean(ratios),
        **({"fragment_bytes_total": sum(moved)} if moved else {}),
        "measurements": [{**asdict(r), "ratio": r.ratio} for r in results if r.mode == mode],
    }


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def report(results: list[Measurement], title: str, console: Console) -> None:
    table = RichTable(title=title)
    for column in ("query", "mode", "PostgreSQL s", "Veil s", "ratio", "rows", "same rows"):
        table.add_column(column, justify="left" if column in ("query", "mode") else "right")
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        colour = "green" if r.ratio is not None and (r.ratio <= TARGET or r.mode != "pushdown") else "red"
        same = "[green]yes[/green]" if r.same_result else f"[red]NO {r.error or ''}[/red]"
        veil = "—" if r.veil_seconds is None else f"{r.veil_seconds:.3f}"
        table.add_row(f"Q{r.query}", r.mode, f"{r.postgres_seconds:.3f}", veil, f"[{colour}]{ratio}[/{colour}]",
                      f"{r.rows:,}", same)
    console.print(table)
    for mode in ("pushdown", "two keys"):
        mean = geomean([r.ratio for r in results if r.mode == mode and r.ratio])
        if mean is not None:
            console.print(f"geometric mean, {mode}: {mean:.3f}×")


def chart(path: Path, results: list[Measurement], scale: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pushed = [r for r in results if r.mode == "pushdown"]
    fig, (times, ratios) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    positions = list(range(len(pushed)))
    times.bar([p - 0.2 for p in positions], [r.postgres_seconds for r in pushed], 0.4, label="PostgreSQL direct",
              color="#336791")
    times.bar([p + 0.2 for p in positions], [r.veil_seconds or 0 for r in pushed], 0.4, label="through Veil",
              color="#e07b39")
    times.set_ylabel("seconds (best run)")
    times.set_title(f"TPC-H scale {scale:g}, pushed down whole")
    times.legend()
    colours = ["#2e7d32" if (r.ratio or math.inf) <= TARGET and r.same_result else "#c62828" for r in pushed]
    ratios.bar(positions, [r.ratio or 0 for r in pushed], color=colours)
    ratios.axhline(TARGET, color="black", linestyle="--", linewidth=0.8, label=f"target {TARGET}×")
    ratios.axhline(1.0, color="grey", linewidth=0.6)
    ratios.set_ylabel("Veil / PostgreSQL")
    ratios.set_xticks(positions, [f"Q{r.query}" for r in pushed])
    ratios.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def merged_results(admin: str, args: argparse.Namespace, loaded: Any, results: list[Measurement]) -> dict[str, Any]:
    """tpch.json: this run's layouts, and the other layout as the previous file recorded it."""
    path = RESULTS / "tpch.json"
    previous: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    run = metadata(admin, scale=args.scale, repeat=args.repeat, cpus=os.cpu_count(), load_seconds=loaded.seconds,
                   rows=loaded.rows)
    payload: dict[str, Any] = {"target_ratio": TARGET}
    if any(r.mode == "pushdown" for r in results):
        payload["pushdown"] = layout_results("pushdown", [r for r in results if r.mode == "pushdown"], **run)
    elif "pushdown" in previous:
        payload["pushdown"] = previous["pushdown"]
    elif "measurements" in previous:  # the file's older single-layout shape
        kept = {k: v for k, v in previous.items() if k not in ("measurements", "geomean_pushdown",
                                                                 "geomean_two_keys", "target_ratio")}
        payload["pushdown"] = {**kept, "geomean": previous.get("geomean_pushdown"),
                               "measurements": [m for m in previous["measurements"] if m["mode"] == "pushdown"]}
    if any(r.mode == "two keys" for r in results):
        payload["two_keys"] = layout_results("two keys", [r for r in results if r.mode == "two keys"], **run)
    elif "two_keys" in previous:
        payload["two_keys"] = previous["two_keys"]
    return payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tpch", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--split", action="store_true", help="also run over two connection keys (local joins)")
    parser.add_argument("--split-only", action="store_true", help="run over two connection keys only")
    parser.add_argument("--database", default=DATABASE, help=f"scratch PostgreSQL database (default {DATABASE})")
    parser.add_argument("--queries", help="comma-separated query numbers (default: all 22)")
    parser.add_argument("--postgres", help="admin DSN (default: $VEIL_TEST_POSTGRES, else local trust)")
    args = parser.parse_args(argv)
    console = Console(width=150)
    numbers = [int(n) for n in args.queries.split(",")] if args.queries else list(QUERIES)
    admin = find_postgres(args.postgres)
    ensure_reader(admin)
    dsn = database(admin, args.database)
    schemas = ("split",) if args.split_only else ("tpch", "split") if args.split else ("tpch",)
    loaded = load(dsn, args.scale, grant_to=(READER,), log=console.print)
    console.print(f"data ready ({loaded.seconds:.1f}s to load), lineitem {loaded.rows['lineitem']:,} rows")
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory() as scratch:
        audit = Path(scratch) / "audit.jsonl"
        config = {"server": {"host": "127.0.0.1", "port": 0}, "connections": connections(dsn),
                  "audit": {"path": str(audit)}, **users_and_policies()}
        process, server = start_server(Path(scratch), config)
        try:
            with psycopg.connect(dsn, autocommit=True) as direct, \
                    psycopg.connect(veil_dsn(server.host, server.port), autocommit=True) as veil:
                for schema in schemas:
                    for number in numbers:
                        result = measure(direct, veil, number, schema, args.scale, args.repeat)
                        if schema == "split":
                            result.fragment_bytes = fragment_bytes(dsn, audit, query(number, schema, args.scale))
                        results.append(result)
                        console.print(f"Q{number} {schema}: {result.ratio or 0:.2f}×")
        finally:
            stop_server(process)
    report(results, f"TPC-H scale {args.scale:g} — Veil vs PostgreSQL direct, best of {args.repeat}", console)
    path = write_json("tpch.json", merged_results(admin, args, loaded, results))
    if "tpch" in schemas:
        chart(RESULTS / "tpch.png", results, args.scale)
    console.print(f"wrote {path} and {RESULTS / 'tpch.png'}")


if __name__ == "__main__":
    main()
