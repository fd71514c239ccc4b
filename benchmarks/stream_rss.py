"""Memory of a long pass-through stream (issue #13: Veil's RSS grows by less than 100 MiB).

A view of --rows generated rows (an id and a 32-character text) in the benchmark database is
read through `veil serve` (its PostgreSQL connection passing statements through) by a libpq
client that reads the result in chunks; Veil's resident memory is sampled from /proc meanwhile.
The client also checks it read every row.

    .venv/bin/python -m benchmarks.stream_rss [--rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import pq

from benchmarks.servers import BENCH_PASSWORD, BENCH_USER, bench_database, find_postgres, veil_postgres_config
from tests.conftest import start_server, stop_server

HERE = Path(__file__).parent
TARGET_MIB = 100
VIEW = "bench.stream_rows"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def read_all(dsn: str, sql: str) -> tuple[int, int]:
    """Rows read and the sum of their first column, in chunks (never the whole result at once)."""
    connection = pq.PGconn.connect(dsn.encode())
    if connection.status != pq.ConnStatus.OK:
        raise SystemExit(connection.get_error_message().decode())
    try:
        connection.send_query(sql.encode())
        if hasattr(connection, "set_chunked_rows_mode") and pq.version() >= 170000:
            connection.set_chunked_rows_mode(10_000)
        else:
            connection.set_single_row_mode()
        rows = total = 0
        while (result := connection.get_result()) is not None:
            if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE) and result.status != getattr(
                pq.ExecStatus, "TUPLES_CHUNK", -1
            ):
                raise SystemExit(result.error_message.decode())
            for row in range(result.ntuples):
                total += int(result.get_value(row, 0) or b"0")
            rows += result.ntuples
        return rows, total
    finally:
        connection.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stream_rss", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--postgres", help="PostgreSQL DSN (default: $VEIL_TEST_POSTGRES, else local trust auth)")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    postgres_dsn = bench_database(find_postgres(args.postgres))
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS bench")
        connection.execute(
            f"CREATE OR REPLACE VIEW {VIEW} AS SELECT g AS id, md5(g::text) AS label"
            f" FROM generate_series(1, {int(args.rows)}) AS g"
        )
    directory = Path(os.environ.get("TMPDIR", "/tmp")) / f"veil-stream-rss-{os.getpid()}"
    directory.mkdir(parents=True, exist_ok=True)
    process, server = start_server(directory, veil_postgres_config(postgres_dsn, passthrough=True))
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_mib(process.pid))
            time.sleep(0.1)

    try:
        dsn = f"postgresql://{BENCH_USER}:{BENCH_PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable"
        read_all(dsn, f"SELECT id FROM {VIEW} LIMIT 1")  # warm: catalog loaded, pool open
        before = rss_mib(process.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        rows, total = read_all(dsn, f"SELECT id, label FROM {VIEW}")
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    finally:
        stop_server(process)
    expected = args.rows * (args.rows + 1) // 2
    growth = max(samples, default=before) - before
    result = {
        "rows": rows, "complete": rows == args.rows and total == expected, "seconds": round(seconds, 2),
        "rss_before_mib": round(before, 1), "rss_max_mib": round(max(samples, default=before), 1),
        "rss_growth_mib": round(growth, 1), "target_mib": TARGET_MIB,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "stream_rss.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["complete"] and growth < TARGET_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
