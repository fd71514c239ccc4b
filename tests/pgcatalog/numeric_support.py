"""Helpers shared by the numeric tests (test_pgnumeric*): a Veil server reading one table from
PostgreSQL and from a DuckDB copy, and a statement's result as PostgreSQL's wire sends it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg

from tests.catalog.support import ddl, duckdb_file
from tests.conftest import VeilServer, base_config, postgres_connection, start_server, stop_server


def numbers_server(
    directory: Path, warehouse: Path, dsn: str, postgres_ddl: Sequence[str], duckdb_ddl: Sequence[str]
) -> Iterator[tuple[str, VeilServer]]:
    """Run ``postgres_ddl`` in the PostgreSQL database ``dsn`` (connection ``pg``) and
    ``duckdb_ddl`` in a new DuckDB file (connection ``numbers``), then yield ``dsn`` and a Veil
    server where alice reads every table; the server is stopped after."""
    ddl(dsn, *postgres_ddl)
    duck_path = duckdb_file(directory / "numbers.duckdb", *duckdb_ddl)
    config = base_config(warehouse)
    config["connections"] = {
        "numbers": {"type": "duckdb", "path": str(duck_path)},  # type: ignore[index]
        "pg": postgres_connection(dsn),
    }
    config["policies"] = [{"name": "all", "subscription": {"tables": ["*"], "allow": {"users": ["alice"]}}}]
    process, server = start_server(directory, config)
    try:
        yield dsn, server
    finally:
        stop_server(process)


def wire_result(dsn: str, sql: str) -> tuple[list[tuple[bytes | None, int, int]], list[list[str | None]]]:
    """Each column's (name, type OID, typmod) and the rows as text, in the order they came."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        result = conn.pgconn.exec_(sql.encode())
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, (result.error_message or b"").decode()
        types = [(result.fname(i), result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
        rows = [
            [None if (v := result.get_value(r, i)) is None else v.decode() for i in range(result.nfields)]
            for r in range(result.ntuples)
        ]
    return types, rows
