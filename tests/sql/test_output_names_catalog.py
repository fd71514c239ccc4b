"""Every function and aggregate of the PostgreSQL allow-list that Veil runs, named as PostgreSQL
names it: ``SELECT f(args)`` for each allowed pg_proc name (the first signature whose argument
types have a sample value and that PostgreSQL itself accepts), sent to PostgreSQL and to Veil
(table-less: the local engine; ``FROM sales.customers``: the DuckDB source), and the
RowDescription's column name (and, where Veil sends PostgreSQL's type, its OID) compared.
Functions Veil refuses or cannot run are not compared; how many were is asserted."""

from __future__ import annotations

import psycopg
import psycopg.rows
import psycopg.types.string
import pytest

from tests.conftest import VeilServer
from veil.policy import allowlist

# A literal of each argument type PostgreSQL can resolve a call with.
SAMPLES = {
    "smallint": "2::int2",
    "integer": "2",
    "bigint": "2::int8",
    "numeric": "2.5",
    "real": "2.5::float4",
    "double precision": "2.5::float8",
    "text": "'abc'",
    "character varying": "'abc'::varchar",
    "character": "'abc'::char(3)",
    "name": "'abc'::name",
    "boolean": "true",
    "date": "'2024-02-03'::date",
    "timestamp without time zone": "'2024-02-03 04:05:06'::timestamp",
    "timestamp with time zone": "'2024-02-03 04:05:06+00'::timestamptz",
    "time without time zone": "'04:05:06'::time",
    "interval": "'1 day'::interval",
    "bytea": "'\\x0102'::bytea",
    "json": "'{\"a\": 1}'::json",
    "jsonb": "'{\"a\": 1}'::jsonb",
    "uuid": "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    "anyelement": "2",
    "anycompatible": "2",
    "anynonarray": "2",
    "anyarray": "ARRAY[1, 2]",
    "anycompatiblearray": "ARRAY[1, 2]",
    "integer[]": "ARRAY[1, 2]",
    "text[]": "ARRAY['a', 'b']",
}

SIGNATURES = """
SELECT p.proname, array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t),
  p.prokind = 'f' AND p.provolatile = 'i'
FROM pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind IN ('f', 'a') AND NOT p.proretset
  AND p.provariadic = 0 AND p.pronargs <= 3
ORDER BY p.proname, p.pronargs, p.oid
"""


def _allowed() -> set[str]:
    return {name for name, entry in allowlist.function_list("postgres").items() if entry.allowed and entry.kind != "w"}


def _calls(postgres: psycopg.Connection) -> list[tuple[str, bool]]:
    """One statement per allowed function name that PostgreSQL answers with one column, and
    whether its value is fixed by its arguments (an immutable function, not an aggregate)."""
    allowed = _allowed()
    chosen: dict[str, tuple[str, bool]] = {}
    for name, arguments, immutable in postgres.execute(SIGNATURES).fetchall():
        if name not in allowed or name in chosen or any(a not in SAMPLES for a in arguments):
            continue
        sql = f"SELECT {name}({', '.join(SAMPLES[a] for a in arguments)})"
        try:
            postgres.execute(sql).fetchall()
        except psycopg.Error:
            continue
        chosen[name] = (sql, immutable)
    return list(chosen.values())


def _described(conn: psycopg.Connection, sql: str) -> tuple[str, int, str | None] | None:
    """The column's name, type OID and first value as PostgreSQL's text form."""
    try:
        cursor = conn.cursor(row_factory=psycopg.rows.tuple_row)
        cursor.adapters.register_loader(0, psycopg.types.string.TextLoader)
        rows = cursor.execute(sql).fetchall()
    except psycopg.Error:
        return None
    description = cursor.description
    assert description is not None and len(description) == 1
    value = rows[0][0] if rows else None
    return description[0].name, description[0].type_code, value


@pytest.fixture(scope="module")
def postgres(postgres_dsn: str) -> psycopg.Connection:
    return psycopg.connect(postgres_dsn, autocommit=True)


# Functions whose result type Veil does not give as PostgreSQL does; no other may join them (a
# text or unknown column where PostgreSQL says another type counts too).
KNOWN_TYPE_GAPS: frozenset[str] = frozenset()
# Immutable functions whose value (as text) Veil does not yet give as PostgreSQL does: known
# defects, each to be fixed (none may join them).
KNOWN_VALUE_GAPS: frozenset[str] = frozenset()
# Calls PostgreSQL answers and Veil does not (refused, or "function does not exist": mostly
# PostgreSQL's operator implementations such as int4eq or numeric_add, allowed but not
# emulated), measured 2026-12: at most this many, so that a call Veil stops answering fails the
# test instead of silently leaving the comparison.
MOST_NOT_RUN = {"": 599, " FROM sales.customers LIMIT 1": 617}


def _compare(postgres: psycopg.Connection, veil: psycopg.Connection, suffix: str) -> None:
    calls = _calls(postgres)
    assert len(calls) > 500
    checked, not_run, names, types, values = 0, 0, [], set(), set()
    for sql, immutable in calls:
        expected = _described(postgres, sql)
        got = _described(veil, sql + suffix)
        if expected is None or got is None:
            not_run += expected is not None
            continue
        checked += 1
        function = sql.removeprefix("SELECT ").split("(")[0]
        if got[0] != expected[0]:
            names.append((sql, expected[0], got[0]))
        elif got[1] != expected[1]:
            types.add(function)
        if immutable and got[2] != expected[2]:
            values.add(function)
    assert checked > 100
    assert not_run <= MOST_NOT_RUN[suffix]
    assert names == []
    assert types <= KNOWN_TYPE_GAPS
    assert values <= KNOWN_VALUE_GAPS


def test_local_engine_names(postgres: psycopg.Connection, veil_server: VeilServer) -> None:
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        _compare(postgres, veil, "")


def test_duckdb_source_names(postgres: psycopg.Connection, veil_server: VeilServer) -> None:
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        _compare(postgres, veil, " FROM sales.customers LIMIT 1")


def test_duckdb_source_casts_keep_filters_and_groups(veil_server: VeilServer) -> None:
    """A call cast to PostgreSQL's result type (``length``: int4) filters and groups as before,
    and a result beyond int4 raises PostgreSQL's 22003 rather than wrapping."""
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        names = [row[0] for row in veil.execute("SELECT name FROM sales.customers").fetchall()]
        cursor = veil.execute(
            "SELECT length(name), count(*) FROM sales.customers WHERE length(name) > 3 "
            "GROUP BY length(name) HAVING count(*) > 0 ORDER BY 1"
        )
        assert cursor.description is not None and cursor.description[0].type_code == 23
        lengths = [len(n) for n in names if n is not None and len(n) > 3]
        assert cursor.fetchall() == [(k, lengths.count(k)) for k in sorted(set(lengths))]
        for suffix in ("", " FROM sales.customers LIMIT 1"):
            with pytest.raises(psycopg.errors.NumericValueOutOfRange):
                veil.execute("SELECT lcm(2147483647, 2147483646)" + suffix).fetchall()


EXPRESSIONS = [
    "SELECT gcd(6, 4) + 1, length('abc') * 2, regexp_count('abc', 'b') / 2, strpos('abc', 'c') - 1",
    "SELECT lcm(2::int8, 3) + 1, array_length(ARRAY[1, 2], 1) % 3, char_length('ab') + 0.5, -cardinality(ARRAY[1, 2])",
]


@pytest.mark.parametrize("suffix", ["", " FROM sales.customers LIMIT 1"])
def test_calls_inside_expressions(postgres: psycopg.Connection, veil_server: VeilServer, suffix: str) -> None:
    """A call's PostgreSQL result type decides the type of the expression around it too."""
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        for sql in EXPRESSIONS:
            expected, got = postgres.execute(sql), veil.execute(sql + suffix)
            assert expected.description is not None and got.description is not None
            assert [c.type_code for c in got.description] == [c.type_code for c in expected.description]
            assert got.fetchall() == expected.fetchall()


EXACT_VALUES = [
    "SELECT round(2.5::float8), round(3.5::float8), round(-2.5::float8), round(2.5::float4), round(2.5), round(-2.5)",
    "SELECT bit_length('abc'), octet_length('é'), octet_length('abc'::varchar), bit_length('é'::text)",
    'SELECT json_strip_nulls(\'{"a": 1, "b": null, "c": [1, {"d": null}]}\'::json)',
    "SELECT octet_length('\\x0102'::bytea), sha256('\\x0102'::bytea), md5('abc'), sha256('ab'::bytea)",
]


@pytest.mark.parametrize("suffix", ["", " FROM sales.customers LIMIT 1"])
def test_values_duckdb_computes_differently(postgres: psycopg.Connection, veil_server: VeilServer, suffix: str) -> None:
    """Rounding half to even for floats, lengths of text and of bytea literals, SHA-256 of a
    bytea literal: PostgreSQL's values on the local engine and on a DuckDB source."""
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        for sql in EXACT_VALUES:
            assert veil.execute(sql + suffix).fetchall() == postgres.execute(sql).fetchall()


@pytest.mark.parametrize("suffix", ["", " FROM sales.customers LIMIT 1"])
@pytest.mark.parametrize("sql", ["SELECT sha384('ab'::bytea)", "SELECT sha512('ab'::bytea)"])
def test_digests_duckdb_lacks_are_refused(veil_server: VeilServer, sql: str, suffix: str) -> None:
    """DuckDB computes only SHA-256: sha384/sha512 are refused, never answered with another digest."""
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        with pytest.raises(psycopg.errors.FeatureNotSupported) as error:
            veil.execute(sql + suffix).fetchall()
        assert "duckdb" not in str(error.value).lower()


def test_bytea_escape_literal_on_source_refused(veil_server: VeilServer) -> None:
    """A bytea escape-format literal DuckDB would read differently is refused on a DuckDB source."""
    sql = "SELECT octet_length('a\\\\b'::bytea) FROM sales.customers LIMIT 1"
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil, pytest.raises(psycopg.errors.FeatureNotSupported):
        veil.execute(sql).fetchall()


ENCODING_NAMES = (
    "abc tcvn vscii alt win koi8 unicode mskanji shiftjis utf-8 latin1 iso8859-1 iso_8859_9 windows1251 WIN866 x"
)


def test_encoding_aliases(postgres: psycopg.Connection, veil_server: VeilServer) -> None:
    """pg_char_to_encoding knows PostgreSQL's aliases ('abc' is WIN1258), not only the names."""
    sql = "SELECT " + ", ".join(f"pg_char_to_encoding('{n}')" for n in ENCODING_NAMES.split())
    with psycopg.connect(veil_server.dsn(), autocommit=True) as veil:
        assert veil.execute(sql).fetchall() == postgres.execute(sql).fetchall()
