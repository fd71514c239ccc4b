"""The leak suite's servers: the same warehouse (see leak_data) served by `veil serve` from a
DuckDB source and from a PostgreSQL source, once per session, with one connection per user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import (
    VeilServer,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.security.leak_data import USERS, leak_config, write_duckdb, write_postgres
from tests.security.leak_runner import STATS, LeakClient


@pytest.fixture(scope="session", params=["duckdb", "postgres"])
def leak_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, VeilServer]]:
    source = request.param
    directory = tmp_path_factory.mktemp(f"leak-{source}")
    if source == "duckdb":
        connection = write_duckdb(directory / "warehouse.duckdb")
    else:
        dsn = scratch_database(request.getfixturevalue("postgres_dsn"), "veil_leak_suite")
        write_postgres(dsn)
        connection = postgres_connection(dsn)
    process, server = start_server(directory, leak_config(connection, source))
    try:
        yield source, server
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def leak_clients(leak_server: tuple[str, VeilServer]) -> Iterator[dict[str, LeakClient]]:
    source, server = leak_server
    clients = {user: LeakClient(server, source, user) for user in USERS}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not STATS.outcomes:
        return
    total = sum(STATS.outcomes.values())
    write = terminalreporter.write_line
    terminalreporter.section("Veil leak suite: statements answered / refused")
    rate = total / STATS.seconds * 60 if STATS.seconds else 0.0
    write(f"{total} statement executions in {STATS.seconds:.1f}s of client time ({rate:.0f}/min)")
    by_state: dict[str, int] = {}
    for (_source, _user, state), count in sorted(STATS.outcomes.items()):
        by_state[state] = by_state.get(state, 0) + count
    for state, count in sorted(by_state.items(), key=lambda item: -item[1]):
        example = STATS.messages.get(state, "").splitlines()[0] if state in STATS.messages else "answered"
        write(f"  {state}: {count:6d} ({100 * count / total:5.1f}%)  {example[:110]}")
    for (source, user, state), count in sorted(STATS.outcomes.items()):
        write(f"  {source:8s} {user:9s} {state}: {count}")
