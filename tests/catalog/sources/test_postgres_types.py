"""The type matrix (#13): one PostgreSQL table holding every built-in type a table can hold,
read through Veil and directly by the same clients; every column's type and every value must be
identical.

The comparison is byte for byte where the protocol allows it: libpq (psycopg's ``pq`` layer)
reads each result in text and in binary format and compares type OIDs, modifiers and the raw
cells; psql compares its printed output and ``\\d``; asyncpg compares decoded records; the
catalog emulation is compared with PostgreSQL's own ``information_schema.columns``. Enums and
composite types are served as ``text`` (their OIDs are not in Veil's pg_type): the test states
that difference explicitly instead of skipping those columns.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import asyncpg
import psycopg
import pytest
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from tests.catalog.support import ddl, private_database
from tests.conftest import (
    PASSWORDS,
    VeilServer,
    postgres_connection,
    require_tool,
    start_server,
    stop_server,
)
from veil.proxy.auth import make_scram_verifier
from veil.proxy.codec.textbinary import numeric_send

DATABASE = "veil_pg_types"

COLUMNS = """
    id int PRIMARY KEY,
    i2 smallint, i4 integer NOT NULL DEFAULT 7, i8 bigint,
    n numeric, n2 numeric(10,2), n40 numeric(40,5),
    f4 real, f8 double precision, mo money,
    c3 char(3), vc varchar(40) NOT NULL DEFAULT 'none', tx text, nm name, ch "char",
    ba bytea, bo boolean,
    d date, t time, ttz timetz, ts timestamp, tstz timestamptz, ts3 timestamp(3), iv interval,
    u uuid, j json, jb jsonb, x xml,
    ip inet, cd cidr, mac macaddr, mac8 macaddr8, b bit(5), vb varbit(10),
    pt point, ln line, ls lseg, bx box, pa path, pg polygon, ci circle,
    tv tsvector, tq tsquery,
    r int4range, nr numrange, tr tstzrange, mr int4multirange,
    o oid, rc regclass,
    ai int[], ai2 int[], at text[], aip inet[], an numeric[], ad date[], ats timestamptz[],
    e mood, dm posint, cp pair
"""

ROWS = [
    """(1, -32768, 2147483647, -9223372036854775808, 123.4500, 12345678.90, 1234567890123456789012345678901234.56789,
        3.14, 2.718281828459045, 1234.56, 'ab', 'héllo ☃ 日本', 'line1
line2 "quoted" \\ back', 'a_name', 'x', '\\x00ff10', true,
        '2024-02-29', '23:59:59.999999', '13:45:00+05:30', '2024-01-02 03:04:05.678901', '2024-06-30 12:00:00+02',
        '2024-01-02 03:04:05.678', '1 year 2 months 3 days 04:05:06.789',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, "ü"]}', '{"b": {"c": null}, "a": 1}', '<a>ü</a>',
        '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'10101', B'110',
        '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '((2,2),(0,0))', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))',
        '<(1,1),2.5>', 'a fat:1 cat sat', 'fat & (rat | cat)', '[1,10)', '(1.5,2.5]',
        '[2024-01-01 00:00+00,2024-02-01 00:00+00)', '{[1,3),[5,7)}', 4294967295, 'pg_class',
        '{1,NULL,3}', '{{1,2},{3,4}}', '{"a b","ü",NULL,"\\"q\\""}', '{10.0.0.1,::1}', '{1.50,NaN,-0.001}',
        '{2024-02-29,"0044-03-15 BC",infinity}', '{"2024-06-30 12:00:00+02",NULL}',
        'happy', 5, '(1,"x y")')""",
    """(2, 32767, -2147483648, 9223372036854775807, 'NaN', -0.01, -0.00001,
        '-Infinity', 'NaN', -0.99, 'xyz', '', '', '', '', '', false,
        '0044-03-15 BC', '00:00:00', '00:00:00-11', '0001-01-01 00:00:00', '1999-12-31 23:59:59.5+00',
        '2000-01-01 00:00:00', '-1 days -00:00:01',
        '00000000-0000-0000-0000-000000000000', '[]', '{}', '',
        '::ffff:1.2.3.4', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', B'00000', B'',
        '(0,0)', '{0,1,0}', '[(0,0),(0,0)]', '((0,0),(0,0))', '((0,0),(1,1))', '((0,0))',
        '<(0,0),0>', '', 'a', 'empty', 'empty', 'empty', '{}', 0, 'pg_type',
        '{}', '{{{1}}}', '{""}', '{}', '{}', '[0:1]={2000-01-01,2000-01-02}', '{}',
        'sad', 1, '(,)')""",
]
NAMES = [part.split()[0] for part in " ".join(COLUMNS.split()).split(", ")]
# A row of NULLs but for the key and the NOT NULL columns.
ROWS.append("(" + ", ".join({"id": "3", "i4": "0", "vc": "'x'"}.get(name, "NULL") for name in NAMES) + ")")


# The type matrix and a people table (e-mails to mask, DE rows to filter); test_pgpassthru.py reads them too.
MATRIX_DDL = (
    "CREATE TYPE mood AS ENUM ('sad', 'happy')",
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    "CREATE TYPE pair AS (a int, b text)",
    "CREATE SCHEMA types",
    f"CREATE TABLE types.matrix ({COLUMNS})",
    "INSERT INTO types.matrix VALUES " + ", ".join(ROWS),
    "CREATE TABLE types.people (id int PRIMARY KEY, email text NOT NULL, country char(2), ip inet)",
    "INSERT INTO types.people VALUES (1, 'a@x.org', 'DE', '10.0.0.1'), (2, 'b@y.org', 'FR', '::1'),"
    " (3, 'c@z.org', 'DE', NULL)",
)

@dataclass
class Matrix:
    server: VeilServer
    dsn: str
    directory: Path

    def veil_dsn(self, user: str = "alice") -> str:
        return self.server.dsn(user)


@pytest.fixture(scope="module")
def matrix(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    directory = tmp_path_factory.mktemp("pg_types")
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(dsn, *MATRIX_DDL, "COMMENT ON COLUMN types.matrix.vc IS 'a varchar with a comment'")
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "secrets": {"hash_key": "type-matrix-key"},
            "connections": {"pg": postgres_connection(dsn, population={"schemas": ["types"]})},
            "tables": {"pg.types.people": {"tags": {"email": ["PII.Email"]}}},
            "users": {
                "alice": {"password": make_scram_verifier(PASSWORDS["alice"]), "groups": ["Analytics"]},
                "root": {"password": make_scram_verifier(PASSWORDS["root"]), "admin": True},
            },
            "policies": [
                {"name": "Everyone reads", "subscription": {"tables": ["*"], "allow": "everyone"}},
                {"name": "Hash emails", "mask": {"column_tags": ["PII.Email"], "with": "hash"}},
                {"name": "Germany only", "row_filter": {"tables": ["types.people"], "where": "country = 'DE'"}},
            ],
        }
        process, server = start_server(directory, config)
        try:
            yield Matrix(server, dsn, directory)
        finally:
            stop_server(process)


def _raw(dsn: str, sql: str, fmt: int) -> tuple[list[tuple[bytes, int, int]], list[list[bytes | None]]]:
    """Column (name, type OID, typmod) and raw cells of ``sql`` in one result format."""
    connection = pq.PGconn.connect(dsn.encode())
    try:
        assert connection.status == pq.ConnStatus.OK, connection.get_error_message()
        result = connection.exec_params(sql.encode(), [], result_format=fmt)
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise AssertionError((result.error_field(pq.DiagnosticField.SQLSTATE), result.error_message))
        columns = [(result.fname(i), result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
        cells = [[result.get_value(r, c) for c in range(result.nfields)] for r in range(result.ntuples)]
        return columns, cells
    finally:
        connection.finish()


# Served as text: Veil's pg_type has no row for a user-defined enum or composite type.
USER_TYPES = ("e", "cp")
SELECT_ALL = "SELECT * FROM types.matrix ORDER BY id"
# Columns whose binary form Veil builds (or forwards): everything but the types it refuses.
BINARY_COLUMNS = (
    "id, i2, i4, i8, n, n2, n40, f4, f8, mo, c3, vc, tx, nm, ch, ba, bo, d, t, ttz, ts, tstz, ts3, iv, "
    "u, j, jb, x, ip, cd, mac, mac8, b, vb, o, ai, ai2, at, aip, an, ad, ats"
)


def _expected_columns(direct: list[tuple[bytes, int, int]]) -> list[tuple[bytes, int, int]]:
    return [(name, 25, -1) if name.decode() in USER_TYPES else (name, oid, mod) for name, oid, mod in direct]


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_libpq_reads_the_same_types_and_bytes(matrix: Matrix, fmt: int) -> None:
    sql = SELECT_ALL if fmt == 0 else f"SELECT {BINARY_COLUMNS} FROM types.matrix ORDER BY id"
    direct_columns, direct_cells = _raw(matrix.dsn, sql, fmt)
    veil_columns, veil_cells = _raw(matrix.veil_dsn(), sql, fmt)
    assert veil_columns == _expected_columns(direct_columns)
    for row_direct, row_veil in zip(direct_cells, veil_cells, strict=True):
        for (name, _, _), want, got in zip(direct_columns, row_direct, row_veil, strict=True):
            assert got == want, f"column {name.decode()}: {got!r} != {want!r}"
    assert len(veil_cells) == 3


def test_binary_of_a_type_veil_cannot_build_is_refused_not_corrupted(matrix: Matrix) -> None:
    with pytest.raises(AssertionError) as refused:
        _raw(matrix.veil_dsn(), "SELECT pt FROM types.matrix", 1)
    assert refused.value.args[0][0] == b"0A000"
    # ... and the session is not harmed: text format still serves the type.
    _, cells = _raw(matrix.veil_dsn(), "SELECT pt FROM types.matrix ORDER BY id", 0)
    assert cells == [[b"(1.5,-2)"], [b"(0,0)"], [None]]


def test_psql_prints_the_same_values_and_describes_the_same_columns(matrix: Matrix) -> None:
    psql = require_tool("psql")

    def run(dsn: str, command: str) -> str:
        result = subprocess.run(
            [psql, dsn, "-X", "-A", "-c", command], capture_output=True, text=True, timeout=60, check=True
        )
        return result.stdout

    assert run(matrix.veil_dsn(), SELECT_ALL) == run(matrix.dsn, SELECT_ALL)
    direct = run(matrix.dsn, r"\d types.matrix").splitlines()
    served = run(matrix.veil_dsn(), r"\d types.matrix").splitlines()
    # Column lines: name|type|collation|nullable|default.
    direct_columns = [line for line in direct if line.count("|") == 4 and not line.startswith("Column")]
    served_columns = [line for line in served if line.count("|") == 4 and not line.startswith("Column")]
    user_types = {"e|mood|||", "dm|posint|||", "cp|pair|||"}
    assert [c for c in served_columns if c.split("|")[0] not in ("e", "dm", "cp")] == [
        c for c in direct_columns if c not in user_types
    ]
    assert "i4|integer||not null|7" in served_columns
    assert "vc|character varying(40)||not null|'none'::character varying" in served_columns
    assert "dm|integer|||" in served_columns  # a domain is served as its base type


def test_catalog_reports_the_source_columns(matrix: Matrix) -> None:
    query = (
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
        "datetime_precision, udt_name, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = 'types' AND table_name = 'matrix' AND column_name NOT IN ('e', 'dm', 'cp') "
        "ORDER BY ordinal_position"
    )
    attributes = (
        "SELECT a.attname, a.atttypid::int, a.atttypmod, a.attnotnull FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'matrix' AND a.attnum > 0 "
        "AND a.attname NOT IN ('e', 'dm', 'cp') ORDER BY a.attnum"
    )
    comment = "SELECT col_description('types.matrix'::regclass, 12)"
    with psycopg.connect(matrix.dsn) as direct, psycopg.connect(matrix.veil_dsn()) as served:
        for sql in (query, attributes, comment):
            assert served.execute(sql).fetchall() == direct.execute(sql).fetchall(), sql


def _asyncpg_params(dsn: str) -> dict[str, object]:
    params = conninfo_to_dict(dsn)
    names = {"dbname": "database", "host": "host", "port": "port", "user": "user", "password": "password"}
    kwargs: dict[str, object] = {names[k]: v for k, v in params.items() if k in names}
    kwargs["port"] = int(str(kwargs.get("port", 5432)))
    if params.get("sslmode") == "disable":
        kwargs["ssl"] = False
    return kwargs


def test_asyncpg_decodes_the_same_records(matrix: Matrix) -> None:
    # Python's date cannot hold the BC date (asyncpg fails on it reading PostgreSQL too).
    sql = f"SELECT {BINARY_COLUMNS.replace(' d,', '').replace(', ad,', ',')} FROM types.matrix ORDER BY id"

    async def fetch(dsn: str) -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            return [tuple(r) for r in await connection.fetch(sql)]
        finally:
            await connection.close()

    direct = asyncio.run(fetch(matrix.dsn))
    served = asyncio.run(fetch(matrix.veil_dsn()))
    assert len(served) == 3
    assert [repr(row) for row in served] == [repr(row) for row in direct]  # repr: NaN != NaN


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_mask_and_row_filter_keep_the_other_columns_exact(matrix: Matrix, fmt: int) -> None:
    sql = "SELECT id, email, country, ip FROM types.people ORDER BY id"
    direct_columns, direct_cells = _raw(matrix.dsn, sql, fmt)
    veil_columns, veil_cells = _raw(matrix.veil_dsn(), sql, fmt)
    # The row filter: only German rows; the mask: emails are hashed text, never the raw value.
    assert [row[0] for row in veil_cells] == [row[0] for row in direct_cells if row[2] == b"DE"]
    raw_emails = {row[1] for row in direct_cells}
    assert all(row[1] is not None and row[1] not in raw_emails for row in veil_cells)
    assert veil_columns[1][1] == 25  # a hash mask is documented as text
    kept = [c for i, c in enumerate(direct_columns) if i != 1]
    assert [c for i, c in enumerate(veil_columns) if i != 1] == kept
    german = [row for row in direct_cells if row[2] == b"DE"]
    assert [[row[0], row[2], row[3]] for row in veil_cells] == [[row[0], row[2], row[3]] for row in german]


NUMERICS = ["0", "0.000", "-0.5", "1", "10000", "12345678.9", "0.0001", "-99999999999999999999.00001", "1e-20",
            "123456789012345678901234567890", "NaN", "Infinity", "-Infinity", "100.100"]


def test_numeric_send_from_text_matches_postgresql(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as connection:
        for literal in NUMERICS:
            text, sent = connection.execute("SELECT %s::numeric::text, numeric_send(%s::numeric)", (literal, literal)).fetchone()
            assert numeric_send(text) == bytes(sent), literal


def test_a_dropped_source_connection_is_replaced(matrix: Matrix) -> None:
    with psycopg.connect(matrix.dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    with psycopg.connect(matrix.veil_dsn(), autocommit=True) as connection:
        found = connection.execute("SELECT ip::text AS ip FROM types.matrix WHERE id = 1").fetchall()
    assert found == [("192.168.1.5/24",)]


PARAMETER_QUERIES = [
    ("SELECT id FROM types.matrix WHERE vc = %s ORDER BY id", "héllo ☃ 日本"),
    ("SELECT id FROM types.matrix WHERE n2 = %s ORDER BY id", Decimal("-0.01")),
    ("SELECT id FROM types.matrix WHERE ip = %s::inet ORDER BY id", "192.168.1.5/24"),
    ("SELECT id FROM types.matrix WHERE mac = %s ORDER BY id", "ff:ff:ff:ff:ff:ff"),
    ("SELECT id FROM types.matrix WHERE b = %s ORDER BY id", "10101"),
    ("SELECT id FROM types.matrix WHERE ttz = %s ORDER BY id", "13:45:00+05:30"),
    ("SELECT id FROM types.matrix WHERE u = %s ORDER BY id", UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    ("SELECT id FROM types.matrix WHERE c3 = %s ORDER BY id", "ab"),
]


@pytest.mark.parametrize(("sql", "value"), PARAMETER_QUERIES, ids=[q[0].split("WHERE ")[1][:6] for q in PARAMETER_QUERIES])
def test_parameters_compared_with_source_typed_columns(matrix: Matrix, sql: str, value: object) -> None:
    with psycopg.connect(matrix.dsn) as direct, psycopg.connect(matrix.veil_dsn()) as served:
        for binary in (False, True):
            want = direct.cursor(binary=binary).execute(sql, (value,)).fetchall()
            assert want, sql
            assert served.cursor(binary=binary).execute(sql, (value,), prepare=True).fetchall() == want


def test_asyncpg_parameters_of_source_types(matrix: Matrix) -> None:
    sql = "SELECT id FROM types.matrix WHERE ip = $1 OR mac = $2 OR n = $3 ORDER BY id"
    args = (ipaddress.ip_interface("192.168.1.5/24"), "ff:ff:ff:ff:ff:ff", Decimal("123.4500"))

    async def fetch(dsn: str) -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            return [tuple(r) for r in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    assert asyncio.run(fetch(matrix.veil_dsn())) == asyncio.run(fetch(matrix.dsn)) == [(1,), (2,)]
