"""Long leak hunt without Hypothesis: ``python -m tests.security.hunt [STATEMENTS] [SEED]``.

Starts the two leak-suite servers (PostgreSQL from VEIL_TEST_POSTGRES), runs seeded random
statements as every user, and prints each leak kind found with its shortest statement, plus the
answered/refused counts by SQLSTATE. For exploring; the CI check is test_leak_properties.py.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import (
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.security.leak_data import (
    DEFAULT_SCHEMA,
    USERS,
    leak_config,
    write_duckdb,
    write_postgres,
)
from tests.security.leak_runner import STATS, LeakClient, find_leaks
from tests.security.leak_sql import for_source, random_statement


def main(count: int, seed: int) -> None:
    # The servers are subprocesses: make them import veil from this checkout, whatever the cwd.
    root = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    directory = Path(tempfile.mkdtemp(prefix="veil-hunt-"))
    dsn = scratch_database(os.environ["VEIL_TEST_POSTGRES"], "veil_leak_hunt")
    write_postgres(dsn)
    servers = []
    for source, connection in (("duckdb", write_duckdb(directory / "wh.duckdb")), ("postgres", postgres_connection(dsn))):
        (directory / source).mkdir()
        servers.append((source, *start_server(directory / source, leak_config(connection, source))))
    found: dict[tuple[str, str, str, str], str] = {}
    samples: dict[tuple[str, str], list[str]] = {}
    leaking = 0
    rng = random.Random(seed)
    started = time.monotonic()
    try:
        clients = [LeakClient(server, source, user) for source, _, server in servers for user in USERS]
        for _ in range(count):
            sql = random_statement(rng)
            leaked = False
            for client in clients:
                outcome = client.run(for_source(sql, DEFAULT_SCHEMA[client.source]))
                samples.setdefault((client.user, outcome.sqlstate), []).append(sql)
                for leak in find_leaks(client.user, outcome, sql):
                    leaked = True
                    key = (client.source, client.user, leak.kind, leak.channel)
                    if key not in found or len(sql) < len(found[key]):
                        found[key] = sql
            leaking += leaked
    finally:
        for _, process, _ in servers:
            stop_server(process)
    elapsed = time.monotonic() - started
    total = sum(STATS.outcomes.values())
    print(f"{leaking} of {count} statements leaked")
    print(f"{count} statements, {total} executions in {elapsed:.0f}s ({total / elapsed * 60:.0f}/min)")
    for key, sql in sorted(found.items()):
        print("LEAK", key, "\n   ", sql)
    for (source, user, state), n in sorted(STATS.outcomes.items()):
        print(source, user, state, n)
    for (user, state), sqls in sorted(samples.items()):
        if state != "00000":
            print("SAMPLE", user, state, STATS.messages.get(state, "")[:100].replace("\n", " "), "\n   ", min(sqls, key=len))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
