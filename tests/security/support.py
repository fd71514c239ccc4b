"""A warehouse whose table sits in the source's default schema (DuckDB ``main``, PostgreSQL
``public``), so an unqualified name the rewrite failed to protect would resolve at the source:
exactly the situation in which a leak is possible. Users: ``analyst`` (cards hashed, US/CA rows
only), ``root`` (admin)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import (
    VeilServer,
    postgres_connection,
    scratch_database,
    start_server,
    stop_server,
)
from tests.seed import seed_duckdb, seed_postgres
from veil.proxy.auth import make_scram_verifier

HASH_KEY = "sEcReT-hash-key-7f3a9c41"
PREVIOUS_KEY = "oLd-hash-key-0b12d9e8"
PASSWORD = "pw"
NOW = datetime.now(UTC).replace(microsecond=0)
ROWS = [
    (1, "4111111111111111", "US", NOW - timedelta(days=1)),
    (2, "5500005555555559", "US", NOW - timedelta(days=2)),
    (3, "340000000000009", "CA", NOW - timedelta(days=3)),
    (4, "6011000990139424", "DE", NOW - timedelta(days=4)),
    (5, "3530111333300000", "DE", NOW - timedelta(days=5)),
]
RAW_CARDS = {row[1] for row in ROWS}
HIDDEN_IDS = {4, 5}
SCHEMA = {"duckdb": "main", "postgres": "public"}
CREATE = [
    "CREATE TABLE transactions (id INTEGER, card_number VARCHAR, country VARCHAR, created_at TIMESTAMPTZ)",
    "CREATE TABLE countries AS SELECT * FROM (VALUES ('US', 'United States'), ('CA', 'Canada'), ('DE', 'Germany')) t(code, name)",
]


def write_duckdb(path: Path) -> dict[str, object]:
    return seed_duckdb(path, CREATE, {"transactions": ROWS})


def write_postgres(dsn: str) -> dict[str, object]:
    seed_postgres(dsn, CREATE, {"transactions": ROWS})
    return postgres_connection(dsn)


def write_side(path: Path) -> dict[str, object]:
    """A second source (another connection key): statements joining it are federated."""
    if path.exists():
        return {"type": "duckdb", "path": str(path)}
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA geo")
    connection.execute("CREATE TABLE geo.regions AS SELECT * FROM (VALUES ('US', 'Americas'), ('DE', 'Europe')) t(code, region)")
    connection.close()
    return {"type": "duckdb", "path": str(path)}


def config(connection: dict[str, object], schema: str, directory: Path) -> dict[str, object]:
    user = {"password": make_scram_verifier(PASSWORD)}
    table = f"warehouse.{schema}.transactions"
    return {
        "server": {"host": "127.0.0.1", "port": 0, "search_path": f"{schema}"},
        "secrets": {"hash_key": HASH_KEY, "hash_key_previous": PREVIOUS_KEY},
        "state_dir": str(directory / "state"),
        "audit": {"path": str(directory / "audit" / "audit.jsonl")},
        "connections": {"warehouse": connection, "side": write_side(directory / "side.duckdb")},
        "tables": {table: {"tags": {"card_number": ["PII.CreditCard"]}}},
        "users": {
            "analyst": {**user, "groups": ["Analytics"], "attributes": {"country": ["US", "CA"]}},
            "root": {**user, "admin": True},
        },
        "policies": [
            {"name": "Readers", "subscription": {"tables": ["*"], "allow": {"groups": ["Analytics"], "users": ["root"]}}},
            {"name": "Hash cards", "mask": {"column_tags": ["PII.CreditCard"], "with": "hash"}},
            {"name": "Own countries", "row_filter": {"tables": [table], "where": "@attributeValuesContains('country', country)"}},
        ],
    }


def serve(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kind: str) -> Iterator[VeilServer]:
    directory = tmp_path_factory.mktemp(f"security-{kind}")
    if kind == "duckdb":
        connection = write_duckdb(directory / "wh.duckdb")
    else:
        admin_dsn = request.getfixturevalue("postgres_dsn")
        connection = write_postgres(scratch_database(admin_dsn, "veil_security"))
    process, info = start_server(directory, config(connection, SCHEMA[kind], directory))
    try:
        yield info
    finally:
        stop_server(process)


def connect(server: VeilServer, user: str) -> psycopg.Connection:
    return psycopg.connect(host=server.host, port=server.port, user=user, password=PASSWORD, dbname="veil", autocommit=True)


def rows(server: VeilServer, user: str, sql: str) -> list[tuple[object, ...]]:
    with connect(server, user) as connection:
        return connection.execute(sql).fetchall()
