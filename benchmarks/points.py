"""Point-query cost per statement: prepared `WHERE id = $1` through `veil serve`, against PostgreSQL.

    .venv/bin/python -m benchmarks.points --rows 200000 --points 1500 --rounds 5

Starts a uvloop byte relay in front of PostgreSQL (benchmarks/relay.py: the least any Python
proxy hop costs, timed with the PostgreSQL sources) and five Veils over the wire benchmark's table (see benchmarks/wire.py): a DuckDB source, a
PostgreSQL source (Arrow path) and a PostgreSQL source passing statements through, all with latency
0 (every statement reaches the source), and a DuckDB source and a PostgreSQL source with a latency
cache whose entries are warmed first (every statement is a cache hit). The "protocol floor" row is
benchmarks/protocol_floor.py: Veil's framing answering with canned rows and no engine at all,
what any statement costs a Python proxy built this way (its CPU is that process's). Each round times N prepared point queries on one psycopg connection per server, the
servers alternating, and the best round per server is kept; the output gives ms/query and the
ratio to PostgreSQL direct measured in the same rounds. With ``--baseline DIR`` (a checkout of
another commit, e.g. from ``git archive``) each Veil also runs from that code, alternating with
this one in the same rounds: a paired before/after comparison on a noisy machine.
Results: benchmarks/results/points.json.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchmarks.dataset import duckdb_file, load_postgres
from benchmarks.relay import relay
from benchmarks.report import write_results
from benchmarks.servers import _config, bench_database, find_postgres, veil_config, veil_postgres_config, veil_server
from benchmarks.workloads import POINT_SQL
from tests.conftest import free_port, postgres_connection, stop_server, wait_for_port

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.points", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the table (default 200,000)")
    parser.add_argument("--points", type=int, default=1500, help="point queries per round and server")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best per server is kept")
    parser.add_argument("--postgres", help="PostgreSQL DSN (default: $VEIL_TEST_POSTGRES, else local trust)")
    parser.add_argument("--only", nargs="*", default=None, help="servers to time (default: all)")
    parser.add_argument("--baseline", type=Path, help="also run every Veil from this checkout (paired)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "points.json")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache", help="DuckDB file and Veil state")
    return parser.parse_args(argv)


def _ids(rows: int, points: int) -> list[int]:
    return random.Random(7).sample(range(1, rows + 1), min(points, rows))


def _round(connection: psycopg.Connection, ids: list[int]) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for id_ in ids:
            row = cursor.execute(POINT_SQL, (id_,), prepare=True).fetchone()
            assert row is not None and row[0] == id_
    return time.perf_counter() - started


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process, all its threads (0 for PostgreSQL direct)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(directory: Path) -> int | None:
    """The `veil serve` process whose config lives in ``directory``."""
    config = str(directory / "veil.yaml")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if config in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0"):
                    return int(entry.name)
            except OSError:
                continue
    return None


def _servers(args: argparse.Namespace, stack: ExitStack, postgres_dsn: str, duckdb_path: Path) -> Iterator[tuple[str, str, int | None]]:
    yield "postgres direct", postgres_dsn, None
    floor = stack.enter_context(protocol_floor(args.cache_dir.resolve() / "veil-points-floor.log"))
    yield "protocol floor", *floor
    if args.only is None or any(name.startswith("postgres ") for name in args.only):
        # the floor of any Python proxy hop: bytes relayed by uvloop, no parsing
        params = conninfo_to_dict(postgres_dsn)
        port = free_port()
        pid = stack.enter_context(relay(port, str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))))
        yield "uvloop relay (floor)", make_conninfo(postgres_dsn, host="127.0.0.1", port=str(port)), pid
    cached = _config({"type": "duckdb", "path": str(duckdb_path), "latency": 3600})
    cached_pg = _config(postgres_connection(postgres_dsn, latency=3600, population={"schemas": ["bench"]}))
    configs = {
        "duckdb source": (veil_config(duckdb_path), "veil-points-duckdb"),
        "postgres source": (veil_postgres_config(postgres_dsn), "veil-points-pg"),
        "postgres pass-through": (veil_postgres_config(postgres_dsn, passthrough=True), "veil-points-pgpass"),
        "cache hit": (cached, "veil-points-cached"),
        "cache hit (postgres source)": (cached_pg, "veil-points-pg-cached"),
    }
    for name, (config, directory) in configs.items():
        if args.only is None or name in args.only:
            path = (args.cache_dir / directory).resolve()
            yield name, stack.enter_context(veil_server(config, path)), _server_pid(path)
            if args.baseline is not None:
                path = (args.cache_dir / f"{directory}-baseline").resolve()
                with _code_from(args.baseline):  # the server process is started with it
                    dsn = stack.enter_context(veil_server(config, path))
                yield f"{name} (baseline)", dsn, _server_pid(path)


@contextmanager
def protocol_floor(log_path: Path) -> Iterator[tuple[str, int]]:
    """benchmarks.protocol_floor in a process of its own: its DSN and pid."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.protocol_floor", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port("127.0.0.1", port, process, log_path, name="protocol floor")
        yield f"postgresql://floor@127.0.0.1:{port}/floor?sslmode=disable", process.pid
    finally:
        stop_server(process)


@contextmanager
def _code_from(checkout: Path) -> Iterator[None]:
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(checkout.resolve())
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    postgres_dsn = bench_database(find_postgres(args.postgres))
    duckdb_path = duckdb_file(args.cache_dir, args.rows)
    load_postgres(postgres_dsn, duckdb_path, args.rows)
    ids = _ids(args.rows, args.points)
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}  # the Veil process's CPU time, least over the rounds
    with ExitStack() as stack:
        servers = {
            name: (stack.enter_context(psycopg.connect(dsn, autocommit=True)), pid)
            for name, dsn, pid in _servers(args, stack, postgres_dsn, duckdb_path)
        }
        for connection, _pid in servers.values():
            _round(connection, ids)  # warm: plans prepared, cache entries filled
        load = os.getloadavg()[0]
        for _ in range(args.rounds):
            for name, (connection, pid) in servers.items():
                before = _cpu_seconds(pid)
                seconds = _round(connection, ids)
                used = _cpu_seconds(pid) - before
                best[name] = min(best.get(name, seconds), seconds)
                cpu[name] = min(cpu.get(name, used), used)
    direct = best["postgres direct"]
    results = {
        name: {
            "ms_per_query": round(1000 * seconds / len(ids), 4),
            "ratio": round(seconds / direct, 2),
            "server_cpu_ms_per_query": round(1000 * cpu[name] / len(ids), 4) if name != "postgres direct" else None,
        }
        for name, seconds in best.items()
    }
    for name, result in results.items():
        server = result["server_cpu_ms_per_query"]
        print(
            f"{name:27} {result['ms_per_query']:8.3f} ms/query  {result['ratio']:6.2f}x PostgreSQL direct"
            + (f"  Veil CPU {server:.3f} ms/query" if server is not None else "")
        )
    meta = {
        "rows": args.rows, "baseline": str(args.baseline) if args.baseline else None, "points": len(ids), "rounds": args.rounds, "load_average_1m": round(load, 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
    }
    print(f"load average {load:.2f}")
    write_results(args.output, meta, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
