"""Shared by the PostgreSQL-source benchmarks (pushdown, cache): scratch databases, roles, a
`veil serve` over PostgreSQL connections, and what Veil recorded in its audit log."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from benchmarks.servers import as_url, postgres_version
from tests.conftest import VeilServer, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

USER, PASSWORD = "bench", "bench-secret"
RESULTS = Path(__file__).resolve().parent / "results"


def database(admin_dsn: str, name: str) -> str:
    """The DSN of database ``name``, created when missing (its tables are reused across runs)."""
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    return as_url(admin_dsn, dbname=name)


def ensure_role(admin_dsn: str, role: str, password: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        connection.execute(f"{'ALTER' if exists else 'CREATE'} ROLE {role} LOGIN PASSWORD '{password}'")


@contextmanager
def serve(directory: Path, connections: dict[str, object], **sections: object) -> Iterator[VeilServer]:
    """`veil serve` with these connections and one admin user who may read every table."""
    directory.mkdir(parents=True, exist_ok=True)
    warehouse = directory / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {"warehouse": {"type": "duckdb", "path": str(warehouse)}, **connections},
        "audit": {"path": str(directory / "audit.jsonl")},
        "users": {USER: {"password": make_scram_verifier(PASSWORD), "admin": True}},
        "policies": [{"name": "Bench reads all", "subscription": {"tables": ["*"], "allow": {"users": [USER]}}}],
        **sections,
    }
    process, server = start_server(directory, config)
    try:
        yield server
    finally:
        stop_server(process)


def veil_dsn(server: VeilServer) -> str:
    return f"postgresql://{USER}:{PASSWORD}@{server.host}:{server.port}/veil?sslmode=disable"


def audit_records(directory: Path, statement: str) -> list[dict[str, Any]]:
    path = directory / "audit.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["statement"] == statement]


def metadata(admin_dsn: str, **extra: object) -> dict[str, object]:
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "postgres": postgres_version(admin_dsn),
        **extra,
    }


def write_json(name: str, payload: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
