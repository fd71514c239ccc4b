"""The two servers under test: a local PostgreSQL and `veil serve` over the benchmark DuckDB file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import postgres_connection, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

BENCH_DATABASE = "veil_bench"
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-secret"
DEFAULT_POSTGRES = (
    "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable",
    "postgresql://root@127.0.0.1:5432/postgres?sslmode=disable",
)


def find_postgres(explicit: str | None) -> str:
    """A DSN for a PostgreSQL we may create a database on: --postgres, VEIL_TEST_POSTGRES, or local trust."""
    candidates = [c for c in (explicit, os.environ.get("VEIL_TEST_POSTGRES")) if c] or list(DEFAULT_POSTGRES)
    errors = []
    for dsn in candidates:
        try:
            with psycopg.connect(dsn, connect_timeout=5):
                return dsn
        except psycopg.Error as error:
            errors.append(f"{dsn}: {str(error).strip()}")
    raise SystemExit(
        "no PostgreSQL to compare against; pass --postgres DSN or set VEIL_TEST_POSTGRES\n" + "\n".join(errors)
    )


def bench_database(admin_dsn: str) -> str:
    """The DSN of the scratch database `veil_bench`, created when missing."""
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)).fetchone()
        if not exists:
            connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return as_url(admin_dsn, dbname=BENCH_DATABASE)


def as_url(dsn: str, **overrides: str) -> str:
    """A postgresql:// URL (asyncpg accepts no key=value conninfo) for a DSN in either form."""
    params = {**conninfo_to_dict(dsn), **overrides}
    user = quote(str(params.pop("user", "")), safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = params.pop("host", "127.0.0.1")
    port = params.pop("port", "5432")
    database = params.pop("dbname", "postgres")
    query = urlencode({k: str(v) for k, v in params.items()})
    return f"postgresql://{auth}{host}:{port}/{database}" + (f"?{query}" if query else "")


def postgres_version(dsn: str) -> str:
    with psycopg.connect(dsn) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def veil_config(duckdb_path: Path) -> dict[str, object]:
    # latency 0: every read goes to the source, so the figures never measure a cache hit
    return _config({"type": "duckdb", "path": str(duckdb_path), "latency": 0})


def veil_postgres_config(postgres_dsn: str, passthrough: bool = False, policies: bool = False) -> dict[str, object]:
    """Veil in front of the benchmark's own PostgreSQL database: what the proxy adds, alone
    (``passthrough``: through the pass-through path rather than ADBC and Arrow; ``policies``: a
    row filter and a hash mask in force, chosen so the rows read stay the same)."""
    connection = postgres_connection(
        postgres_dsn, latency=0, population={"schemas": ["bench"]}, passthrough=passthrough
    )
    config = _config(connection)
    if policies:
        config["secrets"] = {"hash_key": "bench"}
        config["users"][BENCH_USER]["attributes"] = {"flags": ["true", "false"]}  # type: ignore[index]
        config["policies"] = [
            *config["policies"],  # type: ignore[list-item]
            {"name": "Rows by attribute",
             "row_filter": {"where": "@attributeValuesContains('flags', CAST(flag AS TEXT))"}},
            {"name": "Hash every name", "mask": {"columns": ["name"], "with": "hash"}},
        ]
    return config


def _config(connection: dict[str, object]) -> dict[str, object]:
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {"warehouse": connection},
        "users": {BENCH_USER: {"password": make_scram_verifier(BENCH_PASSWORD)}},
        "policies": [
            {"name": "Benchmark reads everything", "subscription": {"tables": ["*"], "allow": {"users": [BENCH_USER]}}},
        ],
    }


@contextmanager
def veil_server(config: dict[str, object], directory: Path) -> Iterator[str]:
    """Runs `python -m veil serve` with ``config``; yields the DSN of the bench user."""
    directory.mkdir(parents=True, exist_ok=True)
    process: subprocess.Popen[bytes]
    process, server = start_server(directory, config)
    try:
        yield f"postgresql://{BENCH_USER}:{BENCH_PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable"
    finally:
        stop_server(process)
