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
import psycopg
import pytest

from tests.catalog.sources.test_postgres_types import (
    BINARY_COLUMNS,
    MATRIX_DDL,
    NAMES,
    _asyncpg_params,
    _raw,
    _shown,
)
from tests.catalog.support import ddl, duckdb_file, private_database
from tests.config.support import everyone_reads, user
from tests.conftest import VeilServer, postgres_connection, start_server, stop_server

DATABASE = "veil_fed_types"
# schema each connection's tables are served under
SCHEMAS = {"passthrough": "types", "arrow": "arrowtypes"}

# Columns a federated statement serves differently from PostgreSQL, and why.
# More columns than the single-source matrix has: a domain over the enum, arrays of it and of
# types with modifiers or no Arrow form (added to the same table, NULL in its third row).
EXTRA_DDL = (
    "CREATE DOMAIN cheerful AS mood CHECK (VALUE <> 'sad')",
    "ALTER TABLE types.matrix ADD COLUMN dme cheerful, ADD COLUMN dma cheerful[], ADD COLUMN ivs interval[], "
    "ADD COLUMN n2a numeric(10,2)[], ADD COLUMN jba jsonb[], ADD COLUMN ua uuid[], ADD COLUMN ra int4range[], "
    "ADD COLUMN vca varchar(3)[]",
    "UPDATE types.matrix SET dme = 'happy', dma = '{happy,NULL}', ivs = '{\"1 day -00:00:01\",P1Y2M}', "
    "n2a = '{1.5,-0.01}', jba = ARRAY['{\"a\": 1}'::jsonb, '[]'], ua = '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', "
    "ra = '{\"[1,5)\",empty}', vca = '{ab,\"c d\"}' WHERE id = 1",
    "UPDATE types.matrix SET dme = 'très ☃', dma = '{}', ivs = '{}', n2a = '{}', jba = '{}', ua = '{}', "
    "ra = '{}', vca = '{}' WHERE id = 2",
)
EXTRA = ["dme", "dma", "ivs", "n2a", "jba", "ua", "ra", "vca"]
TEXT_COLUMNS = ", ".join([*NAMES, *EXTRA])
# binary interval[] and int4range[] are refused (0A000), as ranges are in a single-source statement
ALL_BINARY = ", ".join([BINARY_COLUMNS, *(name for name in EXTRA if name not in ("ivs", "ra"))])
# Python's date cannot hold the BC date (asyncpg fails on it reading PostgreSQL too).
ASYNCPG_COLUMNS = ALL_BINARY.replace(" d,", "").replace(", ad,", ",")

LOCAL = {
    "n": "an unconstrained numeric is DOUBLE in the local engine (joins and aggregates compare numbers)",
    "n40": "a numeric beyond 38 digits is DOUBLE in the local engine, as an unconstrained one",
}
DIFFERENT: dict[str, str] = {
    **LOCAL,
    "cb": "a composite of a domain is served as text (as in a single-source statement)",
    "dma": "an array of a domain is served as text (as in a single-source statement)",
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
            *MATRIX_DDL,
            *EXTRA_DDL,
            "CREATE TABLE types.people (id int PRIMARY KEY, secret mood, secrets mood[], addr pair)",
            "INSERT INTO types.people VALUES (1, 'happy', '{sad}', '(1,Berlin)'), (2, 'très ☃', '{}', NULL)",
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
            "secrets": {"hash_key": "fed-types-key"},
            "tables": {
                f"{name}.types.people": {"tags": {c: ["PII.Secret"] for c in ("secret", "secrets", "addr")}}
                for name in ("pg", "pga")
            },
            "users": {"alice": user("alice")},
            "policies": [
                everyone_reads(),
                {"name": "Hash secrets", "mask": {"column_tags": ["PII.Secret"], "with": "hash"}},
            ],
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


def _single(columns: str, schema: str = "types") -> str:
    return f"SELECT {columns} FROM {schema}.matrix ORDER BY id"


# A result: per column, its name, (type OID, typmod) and its values (raw bytes, or asyncpg's
# decoded values as compared by repr).
Result = list[tuple[str, tuple[int, int], list[object]]]


def _libpq(dsn: str, sql: str, fmt: int) -> Result:
    columns, cells = _raw(dsn, sql, fmt)
    assert len(cells) == 3
    return [(name.decode(), (oid, mod), [row[i] for row in cells]) for i, (name, oid, mod) in enumerate(columns)]


def _asyncpg(dsn: str, sql: str) -> Result:
    async def fetch() -> Result:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            statement = await connection.prepare(sql)
            rows = await statement.fetch()
            return [
                (a.name, (a.type.oid, -1), [_shown(row[i]) for row in rows])
                for i, a in enumerate(statement.get_attributes())
            ]
        finally:
            await connection.close()

    found = asyncio.run(fetch())
    assert len(found[0][2]) == 3
    return found


CLIENTS = {"libpq-text": TEXT_COLUMNS, "libpq-binary": ALL_BINARY, "asyncpg": ASYNCPG_COLUMNS}


def _read(dsn: str, sql: str, client: str) -> Result:
    return _asyncpg(dsn, sql) if client == "asyncpg" else _libpq(dsn, sql, 0 if client == "libpq-text" else 1)


def _differences(want: Result, got: Result) -> dict[str, str]:
    found = {}
    for (name, want_type, want_values), (_, got_type, got_values) in zip(want, got, strict=True):
        if want_type != got_type:
            found[name] = f"type {got_type} != {want_type}"
        elif differing := [(w, g) for w, g in zip(want_values, got_values, strict=True) if w != g]:
            found[name] = f"value {differing[0][1]!r} != {differing[0][0]!r}"
    return found


@pytest.mark.parametrize("path", list(SCHEMAS))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_federated_join_serves_every_column_as_postgresql_does(federated: Federated, path: str, client: str) -> None:
    columns = CLIENTS[client]
    direct = _read(federated.dsn, _single(columns), client)
    single = _read(federated.veil_dsn(), _single(columns, SCHEMAS[path]), client)
    joined = _read(federated.veil_dsn(), _joined(columns, SCHEMAS[path]), client)
    found = _differences(direct, joined)
    assert {name: found[name] for name in found if name not in DIFFERENT} == {}
    # the listed differences are real: a column that starts matching must leave the list
    assert {name: DIFFERENT[name] for name in found} == {n: r for n, r in DIFFERENT.items() if n in columns.split(", ")}
    # ... and but for the local engine's own, a federated statement serves what a single-source one does
    assert [name for name in _differences(single, joined) if name not in LOCAL] == []


def test_only_untouched_columns_keep_the_source_type(federated: Federated) -> None:
    """What the local engine computes from a column is its own type (as DuckDB describes it); a
    column it only carries (through a derived table, DISTINCT, CASE, min) keeps the source's."""
    sql = (
        "SELECT x.e, upper(x.e::text) AS shout, x.e::text AS label, CASE WHEN x.id > 1 THEN x.e END AS late, "
        "x.ip, x.cp, x.ea, x.e || '!' AS more, x.ts3 "
        "FROM (SELECT DISTINCT m.id, m.e, m.ip, m.cp, m.ea, m.ts3 FROM types.matrix m JOIN ref.keys k ON k.id = m.id) x "
        "ORDER BY x.id"
    )
    direct = _libpq(federated.dsn, sql.replace("JOIN ref.keys k ON k.id = m.id", ""), 1)
    joined = _libpq(federated.veil_dsn(), sql, 1)
    assert _differences(direct, joined) == {}
    assert [t[0] for _, t, _ in joined][1:3] == [25, 25]
    assert joined[3][2] == [None, b"sad", None]
    grouped = "SELECT min(m.e::text) AS e, count(*) AS n FROM types.matrix m JOIN ref.keys k ON k.id = m.id GROUP BY m.e ORDER BY 1"
    assert _libpq(federated.veil_dsn(), grouped, 0) == [
        ("e", (25, -1), [b"happy", b"sad", None]),
        ("n", (20, -1), [b"1", b"1", b"1"]),
    ]


@pytest.mark.parametrize("path", list(SCHEMAS))
@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_a_masked_enum_or_composite_stays_a_text_hash(federated: Federated, path: str, fmt: int) -> None:
    sql = (
        f"SELECT p.id, p.secret, p.secrets, p.addr FROM {SCHEMAS[path]}.people p JOIN ref.keys k ON k.id = p.id "
        "ORDER BY p.id"
    )
    columns, cells = _raw(federated.veil_dsn(), sql, fmt)
    assert [c[1] for c in columns] == [23, 25, 25, 25]
    raw = [b"happy", b"sad", "très ☃".encode(), b"Berlin"]
    assert len(cells) == 2
    for row in cells:
        assert all(v is not None and not any(label in v for label in raw) for v in row[1:3])


def _rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        return connection.execute(sql).fetchall()


JOIN = "FROM {schema}.matrix m JOIN ref.keys k ON k.id = m.id"
# The local engine holds an enum as its label text: ordering it there would sort 'happy' before
# 'sad', where PostgreSQL sorts by the labels' order ('sad', 'happy', 'très ☃').
ORDERING = {
    "order by": "SELECT m.id, m.e {join} ORDER BY m.e, m.id",
    "order by position": "SELECT m.e, m.id {join} ORDER BY 1 DESC, 2",
    "through a derived table": "SELECT x.e FROM (SELECT m.e {join}) x ORDER BY x.e",
    "window": "SELECT m.id, row_number() OVER (ORDER BY m.e) {join} ORDER BY m.id",
    "less than a column": (
        "SELECT k.id FROM ref.keys k LEFT JOIN {schema}.matrix m ON m.id = k.id "
        "LEFT JOIN {schema}.matrix o ON o.id = k.id + 1 WHERE m.e < o.e"
    ),
    "greater than a label": "SELECT m.id, m.e > 'sad' {join} ORDER BY m.id",
    "between": "SELECT m.id {join} WHERE m.e BETWEEN 'sad' AND 'happy' OR k.id = 0",
    "max": "SELECT max(m.e) {join}",
    "greatest": "SELECT greatest(m.e, 'happy') {join} ORDER BY m.id",
    "a union by position": "SELECT m.e {join} UNION SELECT m.e {join} ORDER BY 1",
    "a union by name": "SELECT m.id, m.e AS mood {join} UNION ALL SELECT 9, NULL ORDER BY mood",
    "an enum array": "SELECT m.id {join} ORDER BY m.ea",
    "a domain over the enum": "SELECT m.id {join} ORDER BY m.dme",
    "a composite": "SELECT m.id {join} ORDER BY m.cp DESC",
}


@pytest.mark.parametrize("path", list(SCHEMAS))
@pytest.mark.parametrize("case", list(ORDERING))
def test_ordering_an_enum_locally_is_refused(federated: Federated, path: str, case: str) -> None:
    """Never the alphabetical order of the labels: PostgreSQL's error class 0A000, no DuckDB message."""
    sql = ORDERING[case].format(join=JOIN.format(schema=SCHEMAS[path]), schema=SCHEMAS[path])
    with pytest.raises(psycopg.Error) as refused:
        _rows(federated.veil_dsn(), sql)
    assert refused.value.sqlstate == "0A000"
    message = str(refused.value)
    assert (
        f"ordering of {'composite' if 'composite' in case else 'enum'} column " in message
        and "across sources is not supported" in message
    )
    assert "duckdb" not in message.casefold() and "veil_part" not in message


@pytest.mark.parametrize("path", list(SCHEMAS))
def test_enum_equality_and_source_side_ordering_answer_as_postgresql(federated: Federated, path: str) -> None:
    schema = SCHEMAS[path]
    statements = [
        "SELECT m.id {join} WHERE m.e = 'sad' ORDER BY m.id",
        "SELECT m.id {join} WHERE m.e IN ('happy', 'très ☃') ORDER BY m.id",
        "SELECT m.id {join} WHERE m.e <> 'happy' ORDER BY m.id",
        "SELECT m.e::text AS e, count(*) {join} GROUP BY m.e ORDER BY 1",
        "SELECT DISTINCT m.e::text AS e {join} ORDER BY 1",
        # a condition on the PostgreSQL table alone runs there, in PostgreSQL's order
        "SELECT m.id {join} WHERE m.e < 'happy' ORDER BY m.id",
        "SELECT m.id {join} WHERE m.e >= 'happy' ORDER BY m.id",
        "SELECT x.id FROM (SELECT id, e FROM {schema}.matrix ORDER BY e LIMIT 1) x JOIN ref.keys k ON k.id = x.id",
    ]
    for statement in statements:
        sql = statement.format(join=JOIN.format(schema=schema), schema=schema)
        direct = (
            sql.replace(f"{schema}.", "types.")
            .replace(
                "JOIN ref.keys k ON k.id = m.id",
                "JOIN (VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')) k(id, label) ON k.id = m.id",
            )
            .replace("JOIN ref.keys k ON k.id = x.id", "JOIN (VALUES (1), (2), (3)) k(id) ON k.id = x.id")
        )
        assert _rows(federated.veil_dsn(), sql) == _rows(federated.dsn, direct), sql
    assert _rows(federated.veil_dsn(), JOIN.join(["SELECT m.id ", " WHERE m.e < 'happy'"]).format(schema=schema)) == [
        (2,)
    ]
