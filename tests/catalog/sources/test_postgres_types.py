"""The type matrix (#13): one PostgreSQL table holding every built-in type a table can hold,
read through Veil and directly by the same clients; every column's type and every value must be
identical.

The comparison is byte for byte where the protocol allows it: libpq (psycopg's ``pq`` layer)
reads each result in text and in binary format and compares type OIDs, modifiers and the raw
cells; psql compares its printed output and ``\\d``; asyncpg compares decoded records; the
catalog emulation is compared with PostgreSQL's own ``information_schema.columns``, pg_type and
pg_enum; psycopg's and asyncpg's enum introspection and pgJDBC's metadata run through Veil. Enums
(and arrays of them) are served as their own type with the source's OID. Composite types are
served as ``text`` (their OIDs are not in Veil's pg_type): the test states that difference
explicitly instead of skipping those columns.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
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
from psycopg.types.composite import CompositeInfo, register_composite
from psycopg.types.enum import EnumInfo, register_enum

from tests.catalog.support import compile_java, ddl, private_database, write_config
from tests.catalog.support import veil as veil_cli
from tests.config.support import alice_and_root, everyone_reads, germany_only, hash_emails
from tests.conftest import (
    VeilServer,
    postgres_connection,
    require_tool,
    start_server,
    stop_server,
)
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
    e mood, ea mood[], dm posint, cp pair, cpa pair[], cb boxed
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
        'happy', '{{happy,sad},{"très ☃",NULL}}', 5, '(1,"x y")',
        ARRAY[ROW(2, 'ü, "q" \\ (z)')::pair, NULL, ROW(NULL, NULL)::pair, ROW(-3, '')::pair], '(7)')""",
    """(2, 32767, -2147483648, 9223372036854775807, 'NaN', -0.01, -0.00001,
        '-Infinity', 'NaN', -0.99, 'xyz', '', '', '', '', '', false,
        '0044-03-15 BC', '00:00:00', '00:00:00-11', '0001-01-01 00:00:00', '1999-12-31 23:59:59.5+00',
        '2000-01-01 00:00:00', '-1 days -00:00:01',
        '00000000-0000-0000-0000-000000000000', '[]', '{}', '',
        '::ffff:1.2.3.4', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', B'00000', B'',
        '(0,0)', '{0,1,0}', '[(0,0),(0,0)]', '((0,0),(0,0))', '((0,0),(1,1))', '((0,0))',
        '<(0,0),0>', '', 'a', 'empty', 'empty', 'empty', '{}', 0, 'pg_type',
        '{}', '{{{1}}}', '{""}', '{}', '{}', '[0:1]={2000-01-01,2000-01-02}', '{}',
        'sad', '{}', 1, '(,)', '{}', '()')""",
]
# The enum, domain and composite types the matrix's columns use.
TYPES_DDL = (
    "CREATE TYPE mood AS ENUM ('sad', 'happy', 'très ☃')",
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    "CREATE TYPE pair AS (a int, b text)",
    "CREATE TYPE boxed AS (n posint)",
)
NAMES = [part.split()[0] for part in " ".join(COLUMNS.split()).split(", ")]
# A row of NULLs but for the key and the NOT NULL columns.
ROWS.append("(" + ", ".join({"id": "3", "i4": "0", "vc": "'x'"}.get(name, "NULL") for name in NAMES) + ")")
# The matrix in a new database: its user types, schema ``types`` and table ``types.matrix``.
MATRIX_DDL = (
    *TYPES_DDL,
    "CREATE SCHEMA types",
    f"CREATE TABLE types.matrix ({COLUMNS})",
    "INSERT INTO types.matrix VALUES " + ", ".join(ROWS),
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
        ddl(
            dsn,
            *MATRIX_DDL,
            "COMMENT ON COLUMN types.matrix.vc IS 'a varchar with a comment'",
            "CREATE TABLE types.people (id int PRIMARY KEY, email text NOT NULL, country char(2), ip inet, "
            "m mood, secret mood, secrets mood[], addr pair)",
            "INSERT INTO types.people VALUES (1, 'a@x.org', 'DE', '10.0.0.1', 'happy', 'sad', '{sad}', '(1,Berlin)'),"
            " (2, 'b@y.org', 'FR', '::1', 'sad', 'happy', '{happy}', '(2,Paris)'),"
            " (3, 'c@z.org', 'DE', NULL, NULL, 'très ☃', '{}', '(3,\"Köln am Rhein\")')",
        )
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "secrets": {"hash_key": "type-matrix-key"},
            "connections": {"pg": postgres_connection(dsn, population={"schemas": ["types"]})},
            "tables": {"pg.types.people": {"tags": {"email": ["PII.Email"], "secret": ["PII.Secret"],
                                                   "secrets": ["PII.Secret"], "addr": ["PII.Secret"]}}},
            "users": alice_and_root(groups=["Analytics"]),
            "policies": [
                everyone_reads(),
                hash_emails(exempt=()),
                {"name": "Hash secrets", "mask": {"column_tags": ["PII.Secret"], "with": "hash"}},
                germany_only("types.people", exempt=()),
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


# Served as text: a composite type with a field of a domain (or of another user-defined type).
USER_TYPES = ("cb",)
SELECT_ALL = "SELECT * FROM types.matrix ORDER BY id"
# Columns whose binary form Veil builds (or forwards): everything but the types it refuses.
BINARY_COLUMNS = (
    "id, i2, i4, i8, n, n2, n40, f4, f8, mo, c3, vc, tx, nm, ch, ba, bo, d, t, ttz, ts, tstz, ts3, iv, "
    "u, j, jb, x, ip, cd, mac, mac8, b, vb, pt, ln, ls, bx, pa, pg, ci, o, ai, ai2, at, aip, an, ad, ats, e, ea, cp, cpa, "
    "r, nr, tr, mr"
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
        _raw(matrix.veil_dsn(), "SELECT tv FROM types.matrix", 1)
    assert refused.value.args[0][0] == b"0A000"
    # ... and the session is not harmed: text format still serves the type.
    _, cells = _raw(matrix.veil_dsn(), "SELECT tv FROM types.matrix ORDER BY id", 0)
    assert cells == [[b"'a' 'cat' 'fat':1 'sat'"], [b""], [None]]


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
    user_types = {"dm|posint|||", "cb|boxed|||"}
    assert [c for c in served_columns if c.split("|")[0] not in ("dm", "cb")] == [
        c for c in direct_columns if c not in user_types
    ]
    assert "e|mood|||" in served_columns and "ea|mood[]|||" in served_columns
    assert "cp|pair|||" in served_columns and "cpa|pair[]|||" in served_columns and "cb|text|||" in served_columns
    assert "i4|integer||not null|7" in served_columns
    assert "vc|character varying(40)||not null|'none'::character varying" in served_columns
    assert "dm|integer|||" in served_columns  # a domain is served as its base type


def test_catalog_reports_the_source_columns(matrix: Matrix) -> None:
    query = (
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
        "datetime_precision, udt_schema, udt_name, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = 'types' AND table_name = 'matrix' AND column_name NOT IN ('dm', 'cb') "
        "ORDER BY ordinal_position"
    )
    attributes = (
        "SELECT a.attname, a.atttypid::int, a.atttypmod, a.attnotnull FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'matrix' AND a.attnum > 0 "
        "AND a.attname NOT IN ('dm', 'cb') ORDER BY a.attnum"
    )
    comment = "SELECT col_description('types.matrix'::regclass, 12)"
    with psycopg.connect(matrix.dsn) as direct, psycopg.connect(matrix.veil_dsn()) as served:
        _same_rows(direct, served, query, attributes, comment)


def _same_rows(direct: psycopg.Connection, served: psycopg.Connection, *queries: str) -> None:
    for sql in queries:
        assert served.execute(sql).fetchall() == direct.execute(sql).fetchall(), sql


def _asyncpg_params(dsn: str) -> dict[str, object]:
    params = conninfo_to_dict(dsn)
    names = {"dbname": "database", "host": "host", "port": "port", "user": "user", "password": "password"}
    kwargs: dict[str, object] = {names[k]: v for k, v in params.items() if k in names}
    kwargs["port"] = int(str(kwargs.get("port", 5432)))
    if params.get("sslmode") == "disable":
        kwargs["ssl"] = False
    return kwargs


def _shown(value: object) -> str:
    """A decoded value compared by its repr (NaN != NaN); asyncpg's Path shows only its address."""
    if " at 0x" in repr(value):
        return repr((type(value).__name__, getattr(value, "is_closed", None), tuple(value)))  # type: ignore[call-overload]
    return repr(value)


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
    names = sql.split("SELECT ")[1].split(" FROM")[0].split(", ")
    for row_direct, row_served in zip(direct, served, strict=True):
        for name, want, got in zip(names, row_direct, row_served, strict=True):
            assert _shown(got) == _shown(want), name


MASKED = (1, 5, 6, 7)  # email, secret, secrets, addr: hashed for everyone


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_mask_and_row_filter_keep_the_other_columns_exact(matrix: Matrix, fmt: int) -> None:
    sql = "SELECT id, email, country, ip, m, secret, secrets, addr FROM types.people ORDER BY id"
    direct_columns, direct_cells = _raw(matrix.dsn, sql, fmt)
    veil_columns, veil_cells = _raw(matrix.veil_dsn(), sql, fmt)
    # The row filter: only German rows; the masks: emails and the enum columns tagged secret are
    # hashed text, never the raw value (nor any label of the enum or a city, in either format).
    assert [row[0] for row in veil_cells] == [row[0] for row in direct_cells if row[2] == b"DE"]
    labels = {"sad", "happy", "très ☃", "Berlin", "Köln"}
    raw = {row[i] for row in direct_cells for i in MASKED} | {label.encode() for label in labels}
    for row in veil_cells:
        for i in MASKED:
            assert row[i] is not None and row[i] not in raw
            assert not any(label.encode() in row[i] for label in labels)
    assert [veil_columns[i][1] for i in MASKED] == [25, 25, 25, 25]  # a hash mask is documented as text
    kept = [c for i, c in enumerate(direct_columns) if i not in MASKED]
    assert [c for i, c in enumerate(veil_columns) if i not in MASKED] == kept  # m keeps the enum's OID
    german = [row for row in direct_cells if row[2] == b"DE"]
    unmasked = [0, 2, 3, 4]
    assert [[row[i] for i in unmasked] for row in veil_cells] == [[row[i] for i in unmasked] for row in german]
    assert german[0][4] == b"happy"


def test_enum_types_and_labels_are_the_sources(matrix: Matrix) -> None:
    types = (
        "SELECT t.oid::int, t.typname, n.nspname, t.typtype, t.typcategory, t.typlen, t.typbyval, t.typalign, "
        "t.typarray::int, a.typname, a.typelem::int, a.typcategory, t.typinput::text, t.typsend::text "
        "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type a ON a.oid = t.typarray "
        "WHERE t.typname = 'mood'"
    )
    labels = (
        "SELECT e.enumsortorder, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
        "WHERE t.typname = 'mood' ORDER BY e.enumsortorder"
    )
    regtype = "SELECT 'mood'::regtype::oid::int, 'mood[]'::regtype::text, format_type('mood'::regtype, -1)"
    with psycopg.connect(matrix.dsn) as direct, psycopg.connect(matrix.veil_dsn()) as served:
        _same_rows(direct, served, types, labels, regtype)
        # psycopg's enum adapter reads pg_type and pg_enum: the same Python enum, in binary too.
        infos = [EnumInfo.fetch(c, "mood") for c in (direct, served)]
        assert infos[0] is not None and infos[1] is not None
        assert [(i.name, i.oid, i.array_oid, i.labels) for i in infos] == [
            (infos[0].name, infos[0].oid, infos[0].array_oid, ["sad", "happy", "très ☃"])
        ] * 2
        results = []
        for connection, info in zip((direct, served), infos, strict=True):
            register_enum(info, connection)
            cursor = connection.cursor(binary=True)
            results.append([(r[0], r[1] and r[1].name, r[2] and [[e and e.name for e in d] for d in r[2]])
                            for r in cursor.execute("SELECT id, e, ea FROM types.matrix ORDER BY id")])
        assert results[1] == results[0]
        assert results[0][0] == (1, "happy", [["happy", "sad"], ["très ☃", None]])


def test_composite_types_and_fields_are_the_sources(matrix: Matrix) -> None:
    types = (
        "SELECT t.oid::int, t.typname, t.typtype, t.typcategory, t.typlen, t.typalign, a.typname, a.typelem::int, "
        "t.typinput::text, t.typsend::text, c.relname, c.relkind, c.reltype::int, c.relnatts "
        "FROM pg_type t JOIN pg_type a ON a.oid = t.typarray JOIN pg_class c ON c.oid = t.typrelid "
        "WHERE t.typname = 'pair'"
    )
    fields = (
        "SELECT a.attnum, a.attname, a.atttypid::int, a.atttypmod, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid WHERE t.typname = 'pair' AND a.attnum > 0 "
        "ORDER BY a.attnum"
    )
    with psycopg.connect(matrix.dsn) as direct, psycopg.connect(matrix.veil_dsn()) as served:
        _same_rows(direct, served, types, fields)
        # psycopg's composite adapter reads pg_type and pg_attribute: the same fields, in binary too.
        infos = [CompositeInfo.fetch(c, "pair") for c in (direct, served)]
        assert infos[0] is not None and infos[1] is not None
        assert [(i.name, i.oid, i.array_oid, i.field_names, i.field_types) for i in infos] == [
            (infos[0].name, infos[0].oid, infos[0].array_oid, ("a", "b"), (23, 25))
        ] * 2
        results = []
        for connection, info in zip((direct, served), infos, strict=True):
            register_composite(info, connection)
            for binary in (False, True):
                results.append(connection.cursor(binary=binary).execute(
                    "SELECT cp, cpa FROM types.matrix ORDER BY id").fetchall())
        assert results[2:] == results[:2]
        assert [tuple(v) for v in results[0][0][1] if v is not None] == [(2, 'ü, "q" \\ (z)'), (None, None), (-3, "")]


def test_masks_that_cannot_mask_an_enum_or_composite_are_config_problems(matrix: Matrix, tmp_path: Path) -> None:
    config = {
        "state_dir": str(tmp_path / "state"),
        "secrets": {"hash_key": "check-key"},
        "connections": {"pg": postgres_connection(matrix.dsn, population={"schemas": ["types"]})},
        "policies": [
            {"name": "Round moods", "mask": {"tables": ["types.matrix"], "columns": ["e"], "with": "round"}},
            {"name": "Year of pairs", "mask": {"tables": ["types.matrix"], "columns": ["cp"], "with": "year"}},
            {"name": "Mood domains", "mask": {"tables": ["types.matrix"], "columns": ["ea"], "with": "email_domain"}},
            {"name": "Fine", "mask": {"tables": ["types.matrix"], "columns": ["e", "cp", "cpa"], "with": "hash"}},
        ],
    }
    checked = veil_cli("check", "-c", str(write_config(tmp_path, config)))
    assert checked.returncode == 1, checked.stdout
    assert "policies[0].mask.with: cannot mask pg.types.matrix.e: `round` with `digits` rounds numbers, not mood" \
        in checked.stderr
    assert "policies[1].mask.with: cannot mask pg.types.matrix.cp: `year` takes the year of dates and timestamps, " \
        "not pair" in checked.stderr
    assert "policies[2].mask.with: cannot mask pg.types.matrix.ea: `email_domain` masks text, not mood[]" \
        in checked.stderr
    assert "policies[3]" not in checked.stderr


def test_psql_lists_and_describes_the_user_types(matrix: Matrix) -> None:
    psql = require_tool("psql")

    def run(dsn: str, command: str) -> list[str]:
        result = subprocess.run([psql, dsn, "-X", "-A", "-c", command], capture_output=True, text=True,
                                timeout=60, check=True)
        return result.stdout.splitlines()

    for command in (r"\dT mood", r"\d pair", "SELECT 'pair'::regclass, 'pair'::regclass::oid = "
                    "(SELECT typrelid FROM pg_type WHERE typname = 'pair')"):
        assert run(matrix.veil_dsn(), command) == run(matrix.dsn, command), command
    assert "public|mood|" in run(matrix.veil_dsn(), r"\dT mood")
    assert "b|text|||" in run(matrix.veil_dsn(), r"\d pair")


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


JDBC_SOURCE = Path(__file__).parents[2] / "clients" / "java" / "VeilJdbcTypes.java"
# A composite of a domain is served as text, and pgJDBC's getColumns names a domain, not its base.
JDBC_COLUMNS = ", ".join(name for name in NAMES if name != "cb")


@pytest.fixture(scope="module")
def jdbc_types(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    return compile_java(JDBC_SOURCE, tmp_path_factory.mktemp("jdbc_types"))


def _jdbc(build: tuple[str, Path, Path], dsn: str, table: str, query: str) -> list[str]:
    java, jar, classes = build
    params = conninfo_to_dict(dsn)
    url = f"jdbc:postgresql://{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{params['dbname']}" \
        "?sslmode=disable"
    ran = subprocess.run(
        [java, "-Duser.timezone=UTC", "-cp", f"{jar}{os.pathsep}{classes}", "VeilJdbcTypes", url,
         str(params.get("user", "postgres")), str(params.get("password", "")), "types", table, query],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # pgJDBC's getString of a binary bytea is the Java array's identity ("[B@1b2c3d"), even against PostgreSQL.
    return re.sub(r"\[B@[0-9a-f]+", "[B@", ran.stdout).splitlines()


def test_pgjdbc_reads_the_same_types_and_values(matrix: Matrix, jdbc_types: tuple[str, Path, Path]) -> None:
    query = f"SELECT {JDBC_COLUMNS} FROM types.matrix ORDER BY id"
    direct = _jdbc(jdbc_types, matrix.dsn, "matrix", query)
    served = _jdbc(jdbc_types, matrix.veil_dsn(), "matrix", query)

    def comparable(lines: list[str]) -> list[str]:
        return [line for line in lines if not line.startswith(("column\tdm\t", "column\tcb\t"))]

    assert comparable(served) == comparable(direct)
    assert "column\te\t12\tmood" in served and "column\tea\t2003\t_mood" in served
    assert "prepared type\te\tmood\t12" in served
    assert "column\tdm\t4\tint4" in served and "column\tcb\t12\ttext" in served
    assert "column\tcp\t2002\tpair" in served and "column\tcpa\t2003\t_pair" in served
    assert len([line for line in served if line.startswith("prepared row")]) == 3


def test_pgjdbc_under_a_mask_and_a_row_filter(matrix: Matrix, jdbc_types: tuple[str, Path, Path]) -> None:
    served = _jdbc(jdbc_types, matrix.veil_dsn(), "people", "SELECT id, country, m, secret FROM types.people ORDER BY id")
    direct = _jdbc(jdbc_types, matrix.dsn, "people",
                   "SELECT id, country, m, secret FROM types.people WHERE country = 'DE' ORDER BY id")
    masked = ("column\temail\t", "column\tsecret\t", "column\tsecrets\t", "column\taddr\t", "text type\tsecret",
              "prepared type\tsecret")

    def unmasked(lines: list[str]) -> list[str]:
        return [line.rsplit("\t", 1)[0] if " row\t" in line else line for line in lines if not line.startswith(masked)]

    assert unmasked(served) == unmasked(direct)
    assert "column\tsecret\t12\ttext" in served and "column\tsecrets\t12\ttext" in served
    assert "column\taddr\t12\ttext" in served
    assert "prepared type\tsecret\ttext\t12" in served
    secrets = [line.rsplit("\t", 1)[1] for line in served if " row\t" in line]
    assert len(secrets) == 4 and not {"sad", "happy", "très ☃"} & set(secrets)


def test_enum_and_composite_parameters(matrix: Matrix) -> None:
    queries = ["SELECT id FROM types.matrix WHERE e = %s ORDER BY id", "SELECT id FROM types.matrix WHERE cp = %s",
               "SELECT id FROM types.matrix WHERE e = ANY(%s) ORDER BY id"]
    found = []
    for dsn in (matrix.dsn, matrix.veil_dsn()):
        with psycopg.connect(dsn) as connection:
            enum, pair = EnumInfo.fetch(connection, "mood"), CompositeInfo.fetch(connection, "pair")
            assert enum is not None and pair is not None
            register_enum(enum, connection)
            register_composite(pair, connection)
            values = (enum.enum["happy"], pair.python_type(1, "x y"), [enum.enum["très ☃"], enum.enum["sad"]])
            # text and binary cursors; psycopg binds the enum in binary, the composite in text
            found.append([connection.cursor(binary=binary).execute(sql, (value,), prepare=True).fetchall()
                          for binary in (False, True) for sql, value in zip(queries, values, strict=True)])
    assert found[1] == found[0] == [[(1,)], [(1,)], [(2,)]] * 2

    async def fetch(dsn: str) -> list[list[tuple[object, ...]]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:  # asyncpg binds everything in binary: an enum label, an enum[] array
            return [[tuple(r) for r in await connection.fetch(sql, value)] for sql, value in (
                ("SELECT id FROM types.matrix WHERE e = $1", "sad"),
                ("SELECT id FROM types.matrix WHERE e = ANY($1) ORDER BY id", ["happy", "sad"]),
            )]
        finally:
            await connection.close()

    assert asyncio.run(fetch(matrix.veil_dsn())) == asyncio.run(fetch(matrix.dsn)) == [[(2,)], [(1,), (2,)]]


def test_multi_dimensional_array_parameters(matrix: Matrix) -> None:
    queries = [
        ("SELECT id FROM types.matrix WHERE ai2 = %s::int[]", [[1, 2], [3, 4]]),
        ("SELECT id FROM types.matrix WHERE at = %s", ["a b", "ü", None, '"q"']),
    ]
    with psycopg.connect(matrix.dsn) as direct, psycopg.connect(matrix.veil_dsn()) as served:
        for binary in (False, True):
            for sql, value in queries:
                want = direct.cursor(binary=binary).execute(sql, (value,)).fetchall()
                assert want == [(1,)]
                assert served.cursor(binary=binary).execute(sql, (value,), prepare=True).fetchall() == want
        enum = EnumInfo.fetch(served, "mood")
        assert enum is not None
        register_enum(enum, served)
        moods = [[enum.enum["happy"], enum.enum["sad"]], [enum.enum["très ☃"], None]]
        assert served.execute("SELECT id FROM types.matrix WHERE ea = %s", (moods,)).fetchall() == [(1,)]
