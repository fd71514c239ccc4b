"""The type matrix of #13 through a federated statement: every column of a PostgreSQL table with
every type joined with a DuckDB table, so that the join runs on Veil's local engine, read by
libpq (text and binary, raw bytes), and asyncpg (decoded records), compared with the same columns
read from PostgreSQL directly: the same type OID, modifier and bytes as a single-source statement.

The PostgreSQL table is read through a pass-through connection and through an Arrow connection
(``passthrough: false``); the matrix (columns, rows, user types) is the single-source matrix's
(:mod:`tests.catalog.sources.test_postgres_types`). Columns that cannot match are listed with the
reason, so a column that starts (or stops) matching fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from tests.catalog.sources.test_postgres_types import (
    BINARY_COLUMNS,
    COLUMNS,
    NAMES,
    ROWS,
    TYPES_DDL,
    _asyncpg_params,
    _raw,
    _shown,
)
from tests.catalog.support import ddl, duckdb_file, private_database
from tests.conftest import PASSWORDS, VeilServer, postgres_connection, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

DATABASE = "veil_fed_types"
# schema each connection's tables are served under
SCHEMAS = {"passthrough": "types", "arrow": "arrowtypes"}

# Columns a federated statement serves differently from PostgreSQL, and why.
DIFFERENT: dict[str, str] = {
    "cb": "a composite of a domain is served as text (as in a single-source statement)",
    "n": "an unconstrained numeric is DOUBLE in the local engine (joins and aggregates compare numbers)",
    "c3": "char(n) loses its blank padding in the local engine (PostgreSQL ignores it in comparisons)",
}


@dataclass
class Federated:
    server: VeilServer
    dsn: str

    def veil_dsn(self) -> str:
        return self.server.dsn("alice")


@pytest.fixture(scope="module")
def federated(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federated]:
    directory = tmp_path_factory.mktemp("fed_types")
    lake = duckdb_file(
        directory / "lake.duckdb",
        "CREATE SCHEMA ref",
        "CREATE TABLE ref.keys (id INTEGER, label VARCHAR)",
        "INSERT INTO ref.keys VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')",
    )
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(
            dsn,
            *TYPES_DDL,
            "CREATE SCHEMA types",
            f"CREATE TABLE types.matrix ({COLUMNS})",
            "INSERT INTO types.matrix VALUES " + ", ".join(ROWS),
        )
        population = {"schemas": ["types"]}
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "connections": {
                "pg": postgres_connection(dsn, population=population),
                "pga": postgres_connection(
                    dsn, population=population, passthrough=False, naming={"schema": SCHEMAS["arrow"]}
                ),
                "lake": {"type": "duckdb", "path": str(lake)},
            },
            "users": {"alice": {"password": make_scram_verifier(PASSWORDS["alice"])}},
            "policies": [{"name": "Everyone reads", "subscription": {"tables": ["*"], "allow": "everyone"}}],
        }
        process, server = start_server(directory, config)
        try:
            yield Federated(server, dsn)
        finally:
            stop_server(process)


def _joined(columns: str, schema: str) -> str:
    """``columns`` of the matrix joined with the DuckDB table (a federated statement)."""
    listed = ", ".join(f"m.{name.strip()}" for name in columns.split(","))
    return f"SELECT {listed} FROM {schema}.matrix m JOIN ref.keys k ON k.id = m.id ORDER BY m.id"


def _direct(columns: str) -> str:
    return f"SELECT {columns} FROM types.matrix ORDER BY id"


def _libpq_mismatches(federated: Federated, path: str, fmt: int) -> dict[str, str]:
    columns = ", ".join(NAMES) if fmt == 0 else BINARY_COLUMNS
    direct_columns, direct_cells = _raw(federated.dsn, _direct(columns), fmt)
    served_columns, served_cells = _raw(federated.veil_dsn(), _joined(columns, SCHEMAS[path]), fmt)
    assert len(served_cells) == len(direct_cells) == 3
    found = {}
    for i, (want, got) in enumerate(zip(direct_columns, served_columns, strict=True)):
        name = want[0].decode()
        if (want[1], want[2]) != (got[1], got[2]):
            found[name] = f"type {got[1:]} != {want[1:]}"
        elif cells := [(d[i], s[i]) for d, s in zip(direct_cells, served_cells, strict=True) if d[i] != s[i]]:
            found[name] = f"bytes {cells[0][1]!r} != {cells[0][0]!r}"
    return found


def _asyncpg_mismatches(federated: Federated, path: str) -> dict[str, str]:
    # Python's date cannot hold the BC date (asyncpg fails on it reading PostgreSQL too).
    columns = BINARY_COLUMNS.replace(" d,", "").replace(", ad,", ",")

    async def fetch(dsn: str, sql: str) -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            return [tuple(r) for r in await connection.fetch(sql)]
        finally:
            await connection.close()

    direct = asyncio.run(fetch(federated.dsn, _direct(columns)))
    served = asyncio.run(fetch(federated.veil_dsn(), _joined(columns, SCHEMAS[path])))
    assert len(served) == len(direct) == 3
    found = {}
    for i, name in enumerate(c.strip() for c in columns.split(",")):
        differing = [(d[i], s[i]) for d, s in zip(direct, served, strict=True) if _shown(d[i]) != _shown(s[i])]
        if differing:
            found[name] = f"{differing[0][1]!r} != {differing[0][0]!r}"
    return found


@pytest.mark.parametrize("path", list(SCHEMAS))
@pytest.mark.parametrize("client", ["libpq-text", "libpq-binary", "asyncpg"])
def test_federated_join_serves_every_column_as_postgresql_does(federated: Federated, path: str, client: str) -> None:
    if client == "asyncpg":
        found = _asyncpg_mismatches(federated, path)
    else:
        found = _libpq_mismatches(federated, path, 0 if client == "libpq-text" else 1)
    if __import__("os").environ.get("VEIL_MATRIX_REPORT"):
        print(f"\nMATRIX {path} {client}: {len(found)} differ", found)
        return
    assert {name: found[name] for name in found if name not in DIFFERENT} == {}
    # the listed differences are real: a column that starts matching must leave the list
    expected = {
        name
        for name in DIFFERENT
        if name in found
        or name not in (NAMES if client == "libpq-text" else BINARY_COLUMNS.replace(" ", "").split(","))
    }
    assert expected == set(DIFFERENT), found
