"""Pushdown benchmark: a join of 1M orders with 50k customers in PostgreSQL, through Veil.

* **pushdown**: both tables behind one connection key: PostgreSQL runs the whole statement.
* **local join**: the customers table is read through a second connection with other
  credentials (another key), so Veil sends one query per table (only the columns used, with the
  single-table filters) and joins the results in its local DuckDB.
* **direct**: the same SQL on PostgreSQL, for reference.

Time is the best of --repeat client round trips (psycopg, all rows fetched). Bytes moved are the
Arrow bytes of what Veil read from PostgreSQL: every SQL in the statement's audit record, run once
more through ADBC.

    .venv/bin/python -m benchmarks.pushdown [--orders 1000000] [--customers 50000] [--repeat 3]

Results: benchmarks/results/pushdown.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc_pg
import psycopg
from rich.console import Console
from rich.table import Table as RichTable

from benchmarks.pgsources import (
    audit_records,
    database,
    ensure_role,
    metadata,
    serve,
    veil_dsn,
    write_json,
)
from benchmarks.servers import find_postgres
from tests.conftest import postgres_connection

DATABASE = "veil_bench_pushdown"
READER, READER_PASSWORD = "veil_bench_reader", "reader-secret"
QUERIES = {
    "aggregate": (
        "SELECT c.country, count(*) AS orders, sum(o.amount) AS revenue FROM {s}.orders o "
        "JOIN {s}.customers c ON c.id = o.customer_id WHERE c.segment = 'enterprise' GROUP BY c.country ORDER BY 1"
    ),
    "selective": (
        "SELECT o.id, o.amount, c.name FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id "
        "WHERE o.created >= DATE '2024-12-20' AND c.country = 'DE' ORDER BY o.id"
    ),
    "wide": (
        "SELECT o.id, o.amount, c.name, c.country FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id "
        "WHERE o.amount >= 900 ORDER BY o.id"
    ),
}


def load(dsn: str, orders: int, customers: int) -> None:
    """bench.orders and bench.customers, rebuilt only when their sizes differ."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS bench")
        present = connection.execute(
            "SELECT to_regclass('bench.orders') IS NOT NULL AND to_regclass('bench.customers') IS NOT NULL"
        ).fetchone()
        if present and present[0]:
            sizes = connection.execute(
                "SELECT (SELECT count(*) FROM bench.orders), (SELECT count(*) FROM bench.customers)"
            ).fetchone()
            if sizes == (orders, customers):
                return
        connection.execute("DROP TABLE IF EXISTS bench.orders, bench.customers")
        connection.execute(
            "CREATE TABLE bench.customers AS SELECT i AS id, 'customer ' || i AS name, "
            "(ARRAY['smb', 'mid', 'enterprise'])[1 + i % 3] AS segment, "
            "(ARRAY['DE', 'FR', 'US', 'CA', 'JP', 'BR', 'IN', 'GB'])[1 + i % 8] AS country "
            f"FROM generate_series(1, {customers}) i"
        )
        connection.execute(
            f"CREATE TABLE bench.orders AS SELECT i::bigint AS id, (1 + (i::bigint * 7919) % {customers})::int AS customer_id, "
            "((i % 100000) / 100.0)::numeric(12, 2) AS amount, (ARRAY['paid', 'open', 'void'])[1 + i % 3] AS status, "
            f"DATE '2024-01-01' + (i % 366)::int AS created FROM generate_series(1, {orders}) i"
        )
        connection.execute("ALTER TABLE bench.customers ADD PRIMARY KEY (id)")
        connection.execute("ALTER TABLE bench.orders ADD PRIMARY KEY (id)")
        connection.execute("ANALYZE bench.orders, bench.customers")
        connection.execute(f"GRANT USAGE ON SCHEMA bench TO {READER}")
        connection.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA bench TO {READER}")


def best_time(dsn: str, sql: str, repeat: int) -> tuple[float, list[tuple[Any, ...]]]:
    seconds, rows = [], []
    with psycopg.connect(dsn, autocommit=True) as connection:
        for _ in range(repeat):
            start = time.perf_counter()
            rows = connection.execute(sql).fetchall()
            seconds.append(time.perf_counter() - start)
    return min(seconds), rows


def moved(dsn: str, statements: list[str]) -> tuple[int, int]:
    """Rows and Arrow bytes the statements return (what Veil read from PostgreSQL)."""
    rows = nbytes = 0
    with adbc_pg.connect(dsn) as connection, connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            table = cursor.fetch_arrow_table()
            rows += table.num_rows
            nbytes += table.nbytes
    return rows, nbytes


@dataclass
class Measurement:
    query: str
    mode: str
    seconds: float
    source_queries: int
    rows_moved: int
    bytes_moved: int
    result_rows: int
    same_result: bool


def run(args: argparse.Namespace, console: Console) -> list[Measurement]:
    admin = find_postgres(args.postgres)
    ensure_role(admin, READER, READER_PASSWORD)
    dsn = database(admin, DATABASE)
    started = time.perf_counter()
    load(dsn, args.orders, args.customers)
    console.print(f"data ready in {time.perf_counter() - started:.1f}s ({args.orders:,} orders × {args.customers:,} customers)")
    reader = postgres_connection(dsn, user=READER, password=READER_PASSWORD)
    connections = {
        # bench.*: one connection, one key -> whole statements pushed down
        "pg": postgres_connection(dsn, latency=0, population={"schemas": ["bench"]}),
        # split.*: orders and customers behind different credentials -> joined by Veil
        "split_orders": postgres_connection(dsn, latency=0, population={"tables": ["bench.orders"]},
                                          naming={"schema": "split"}),
        "split_customers": {**reader, "latency": 0, "population": {"tables": ["bench.customers"]},
                            "naming": {"schema": "split"}},
    }
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory() as scratch, serve(Path(scratch), connections) as server:
        for name, template in QUERIES.items():
            direct_seconds, expected = best_time(dsn, template.format(s="bench"), args.repeat)
            results.append(Measurement(name, "direct", direct_seconds, 1, 0, 0, len(expected), True))
            for mode, schema in (("pushdown", "bench"), ("local join", "split")):
                sql = template.format(s=schema)
                seconds, rows = best_time(veil_dsn(server), sql, args.repeat)
                pushed = audit_records(Path(scratch), sql)[-1]["pushed_sql"]
                rows_moved, bytes_moved = moved(dsn, pushed)
                results.append(Measurement(name, mode, seconds, len(pushed), rows_moved, bytes_moved, len(rows), rows == expected))
    return results


def report(results: list[Measurement], args: argparse.Namespace, console: Console) -> None:
    table = RichTable(title=f"Join pushdown — {args.orders:,} orders × {args.customers:,} customers, best of {args.repeat}")
    for column in ("query", "mode", "seconds", "vs direct", "source queries", "rows moved", "MB moved", "same rows"):
        table.add_column(column, justify="left" if column in ("query", "mode") else "right")
    direct = {r.query: r.seconds for r in results if r.mode == "direct"}
    for r in results:
        moved_mb = "—" if r.mode == "direct" else f"{r.bytes_moved / 1e6:.2f}"
        rows = "—" if r.mode == "direct" else f"{r.rows_moved:,}"
        same = "[green]yes[/green]" if r.same_result else "[red]NO[/red]"
        table.add_row(r.query, r.mode, f"{r.seconds:.3f}", f"{r.seconds / direct[r.query]:.2f}×", str(r.source_queries), rows, moved_mb, same)
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pushdown", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="admin DSN (default: $VEIL_TEST_POSTGRES, else local trust)")
    args = parser.parse_args(argv)
    console = Console(width=150)
    results = run(args, console)
    report(results, args, console)
    admin = find_postgres(args.postgres)
    path = write_json("pushdown.json", {
        **metadata(admin, orders=args.orders, customers=args.customers, repeat=args.repeat),
        "measurements": [asdict(r) for r in results],
    })
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
