"""Every PostgreSQL 15 built-in type a table-less statement can produce, through Veil's local
engine and straight from PostgreSQL, with psycopg in text and binary format and with asyncpg
(binary, its own decoders): RowDescription's type OIDs and typmods and every value must be
PostgreSQL's. A type the local engine cannot compute is refused with SQLSTATE 0A000, never
served under another type (text) nor with a DuckDB message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from tests.conftest import VeilServer, base_config, start_server, stop_server

#: Literal, cast and expression statements, one or more columns each, by type family.
MATRIX: list[str] = [
    "SELECT true, false, 't'::bool, NULL::bool",
    "SELECT 1::int2, '-32768'::int2, 7, 2147483647, 9223372036854775807, 5::int8",
    "SELECT 1.5::float4, 2.25::float8, 'Infinity'::float8, '-Infinity'::float4",
    "SELECT 1.5, '3.14'::numeric, 12.345::numeric(10,2), 1e3, 2::numeric / 3, 7 / 2, 7 % 3",
    "SELECT 'abc'::text, 'ab'::varchar(5), 'x'::char(3), 'n'::name, 'q'::\"char\"",
    "SELECT '\\xdeadbeef'::bytea, ''::bytea",
    "SELECT '2020-02-29'::date, '12:34:56.5'::time, '2020-01-01 10:00:00'::timestamp",
    "SELECT '2020-01-01 10:00:00+02'::timestamptz, '1 day 02:00:00'::interval, '3 months'::interval",
    "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    "SELECT '{\"a\": [1, 2]}'::json",
    'SELECT \'{"b": 1, "a": 2, "aa": [1.50, 1e2, true, null, "x\\\\ny"], "a": 3}\'::jsonb',
    "SELECT 16::oid",
    "SELECT ARRAY[1, 2, 3], ARRAY['a', 'b'], ARRAY[true, NULL]",
    "SELECT 12.5::money, '$1,000.005'::money, 12::money, '-3.1'::money",
    "SELECT B'101', B'101'::bit(3), '1010'::bit, B'101'::bit(5), 5::bit(3)",
    "SELECT '1010'::varbit, B'1'::varbit, ''::varbit",
    "SELECT row(1, 'a'), row(1, 'a b', NULL, true, '')",
    "SELECT int4range(1, 5), '(1,5]'::int4range, 'empty'::int4range, '(,)'::int4range",
    "SELECT int8range(1, 10, '(]'), '[3,7]'::int8range",
    "SELECT numrange(1.5, 2.5), numrange(1.50, NULL, '(]'), '[1,1)'::numrange",
    "SELECT '[2020-01-01,2021-01-01)'::daterange, daterange('2020-01-01', '2020-02-01', '[]')",
    "SELECT '[2020-01-01 00:00,2021-01-01)'::tsrange, tsrange('2020-01-01 10:00', NULL)",
    "SELECT '[2020-01-01,2021-01-01)'::tstzrange",
    "SELECT '{[1,3),[2,7), empty}'::int4multirange, '{}'::int8multirange",
    "SELECT '{[1.5,2.5)}'::nummultirange, '{[2020-01-01,2020-02-01)}'::datemultirange",
    "SELECT '{[2020-01-01 00:00,2020-02-01)}'::tsmultirange",
    "SELECT 12.5::money::text, int4range(1, 5)::text, B'101'::text",
    "SELECT (SELECT avg(x) FROM (VALUES (1), (2)) v(x)) / 3",
    "WITH t AS (SELECT avg(x) AS a FROM (VALUES (1), (2), (4)) v(x)) SELECT a / 3 FROM t",
    "SELECT a / 2, b / 3 FROM (SELECT 1.25 + 2.5 AS a, 10 / 4.0 AS b) s",
    # reg*: the OID in binary format, the name in text format
    "SELECT 'pg_class'::regclass, 'int4'::regtype",
    "SELECT 'now'::regproc, 'sum(int4)'::regprocedure, '+(int4,int4)'::regoperator, '||/'::regoper, "
    "'pg_catalog'::regnamespace, 'postgres'::regrole, 'english'::regconfig, 'simple'::regdictionary, "
    "'\"C\"'::regcollation",
    "SELECT 1259::regclass, 0::regtype, 99999::regclass, NULL::regclass, 0::regproc, 10::regrole",
    "SELECT ARRAY['int4'::regtype, 'int8'::regtype], ARRAY['pg_class'::regclass, NULL], '{int4,NULL,text}'::regtype[]",
    "SELECT x::regtype[], '{}'::regclass[] FROM (VALUES ('{int4,text}')) v(x)",
    # ... and from the catalog tables
    "SELECT oid::regclass, relnamespace::regnamespace, relowner::regrole FROM pg_class "
    "WHERE relname IN ('pg_class', 'pg_type') ORDER BY relname",
    "SELECT attrelid::regclass, atttypid::regtype, attname FROM pg_attribute "
    "WHERE attrelid = 'pg_class'::regclass AND attnum BETWEEN 1 AND 3 ORDER BY attnum",
    "SELECT typname::regtype, oid::regtype, typrelid::regclass FROM pg_type "
    "WHERE typname IN ('int4', 'text', '_int4', 'pg_class') ORDER BY oid",
    "SELECT oid::regprocedure, oid::regproc, prorettype::regtype FROM pg_proc WHERE proname = 'now'",
    "SELECT o.oid::regoperator, o.oid::regoper FROM pg_operator o WHERE o.oid IN (551, 597) ORDER BY o.oid",
    "SELECT oid::regcollation FROM pg_collation WHERE collname IN ('C', 'POSIX') ORDER BY collname",
    "SELECT oid::regconfig FROM pg_ts_config WHERE cfgname = 'english'",
    "SELECT array_agg(oid::regclass ORDER BY relname) FROM pg_class WHERE relname IN ('pg_class', 'pg_proc')",
]

#: Numeric arrays: each element keeps its own scale, as PostgreSQL's do.
MATRIX += [
    "SELECT '{1.5,2.5}'::numeric[], '{1.5,2.50,3,NULL}'::numeric[], '{1.55,2.50}'::numeric(5,1)[]",
    "SELECT ARRAY[1.5, 2.50], ARRAY[1, NULL, 2.5], '{}'::numeric[]",
]

#: Types the local engine cannot compute: refused with 0A000 (PostgreSQL answers them).
REFUSED: list[str] = [
    "SELECT 'a fat cat'::tsvector",
    "SELECT 'fat & cat'::tsquery",
    "SELECT '$.a'::jsonpath",
    "SELECT '<a/>'::xml",
    "SELECT '(1,2)'::point",
    "SELECT '((0,0),(1,1))'::box",
    "SELECT '<(0,0),1>'::circle",
    "SELECT '12:00+02'::timetz",
    "SELECT '08:00:2b:01:02:03'::macaddr",
    "SELECT '192.168.0.1/24'::inet",
    "SELECT '16/B374D848'::pg_lsn",
    "SELECT '10:20:10,14,15'::txid_snapshot",
    "SELECT int4range(x, x + 1) FROM (VALUES (1)) v(x)",
    "SELECT x::money FROM (VALUES (1.5)) v(x)",
    # computing with a value DuckDB holds as PostgreSQL's text form
    "SELECT 12.5::money + 1::money",
    "SELECT 12.5::money < 13::money",
    "SELECT upper(int4range(1, 5))",
    "SELECT int4range(1, 5) @> 3",
    "SELECT B'101' & B'011'",
    "SELECT (row(1, 'a')).f1",
    "SELECT m FROM (SELECT 10::money AS m UNION ALL SELECT 9::money) s ORDER BY m",
]

Outcome = tuple[object, ...]


def _pq(dsn: str, sql: str, fmt: int) -> Outcome:
    with psycopg.connect(dsn, autocommit=True) as conn:
        result = conn.pgconn.exec_params(sql.encode(), [], result_format=fmt)
        if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
            state = result.error_field(psycopg.pq.DiagnosticField.SQLSTATE)
            return ("error", (state or b"").decode(), (result.error_message or b"").decode())
        types = [(result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
        rows = [[result.get_value(r, i) for i in range(result.nfields)] for r in range(result.ntuples)]
        return (types, rows)


async def _asyncpg(dsn: str, sql: str) -> Outcome:
    conn = await asyncpg.connect(dsn)
    try:
        statement = await conn.prepare(sql)
        rows = await statement.fetch()
        return ([a.type.oid for a in statement.get_attributes()], [tuple(r) for r in rows])
    except asyncpg.PostgresError as error:
        return ("error", error.sqlstate, str(error))
    finally:
        await conn.close()


def outcomes(dsn: str, sql: str) -> dict[str, Outcome]:
    """The statement's result (or error) with each client and format."""
    return {
        "psycopg text": _pq(dsn, sql, 0),
        "psycopg binary": _pq(dsn, sql, 1),
        "asyncpg": asyncio.run(_asyncpg(dsn, sql)),
    }


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[VeilServer]:
    process, server = start_server(tmp_path_factory.mktemp("localtypes"), base_config(warehouse))
    try:
        yield server
    finally:
        stop_server(process)


@pytest.mark.parametrize("sql", MATRIX)
def test_types_and_values_are_postgres(veil: VeilServer, postgres_dsn: str, sql: str) -> None:
    expected = outcomes(postgres_dsn, sql)
    assert all(outcome[0] != "error" for outcome in expected.values()), expected
    assert outcomes(veil.dsn(), sql) == expected


@pytest.mark.parametrize("sql", REFUSED)
def test_types_the_local_engine_cannot_compute_are_refused(veil: VeilServer, postgres_dsn: str, sql: str) -> None:
    assert all(outcome[0] != "error" for outcome in outcomes(postgres_dsn, sql).values())
    for client, outcome in outcomes(veil.dsn(), sql).items():
        assert outcome[:2] == ("error", "0A000"), (client, outcome)
        message = str(outcome[2]).lower()
        assert "local engine" in message, (client, outcome)
        assert "duckdb" not in message and "binder" not in message and "conversion" not in message


async def _with_parameter(dsn: str, sql: str, value: object) -> Outcome:
    conn = await asyncpg.connect(dsn)
    try:
        return ("rows", await conn.fetch(sql, value))
    except asyncpg.PostgresError as error:
        return ("error", error.sqlstate, str(error))
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("sql", "value"), [("SELECT $1::money", "12.5"), ("SELECT $1::int4range", asyncpg.Range(1, 5))]
)
def test_parameters_of_types_the_local_engine_holds_as_text_are_refused(
    veil: VeilServer, postgres_dsn: str, sql: str, value: object
) -> None:
    """Veil would have to parse the client's value (text or binary) to serve it: refused, never
    echoed back as it came (``12.5`` is not money's ``$12.50``)."""
    assert asyncio.run(_with_parameter(postgres_dsn, sql, value))[0] == "rows"
    outcome = asyncio.run(_with_parameter(veil.dsn(), sql, value))
    assert outcome[:2] == ("error", "0A000"), outcome
    assert "local engine" in str(outcome[2])


#: A ``reg*`` parameter of each type: (type OID, the OID as sent in binary, its text form).
REG_PARAMETERS = [
    (2205, 1259, "pg_class"),
    (2206, 23, "int4"),
    (24, 1299, "now"),
    (2202, 2108, "sum(int4)"),
    (2203, 597, "||/"),
    (2204, 551, "+(int4,int4)"),
    (4089, 11, "pg_catalog"),
    (4096, 10, "postgres"),
    (3734, 13164, "english"),
    (3769, 3765, "simple"),
    (4191, 950, '"C"'),
]


def _bound(dsn: str, sql: str, type_oid: int, value: bytes, fmt: int) -> Outcome:
    with psycopg.connect(dsn, autocommit=True) as conn:
        result = conn.pgconn.exec_params(sql.encode(), [value], [type_oid], [fmt], result_format=fmt)
        if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
            state = result.error_field(psycopg.pq.DiagnosticField.SQLSTATE)
            return ("error", (state or b"").decode())
        return ([result.ftype(i) for i in range(result.nfields)], [result.get_value(0, i) for i in range(result.nfields)])


@pytest.mark.parametrize(("type_oid", "oid", "text"), REG_PARAMETERS)
@pytest.mark.parametrize("sql", ["SELECT $1", "SELECT $1, $1::text, $1::oid"])
def test_reg_parameters(veil: VeilServer, postgres_dsn: str, sql: str, type_oid: int, oid: int, text: str) -> None:
    """A reg* parameter sent in binary (its OID) or text (a name) format, answered in the same."""
    for fmt, value in ((1, oid.to_bytes(4, "big")), (0, text.encode())):
        expected = _bound(postgres_dsn, sql, type_oid, value, fmt)
        assert expected[0] != "error", expected
        assert _bound(veil.dsn(), sql, type_oid, value, fmt) == expected
