"""PostgreSQL's result types, values and column names of date/time, bytea, jsonb and
varchar/char expressions through Veil, compared with PostgreSQL itself (the fuzzer's oracle) in
text and binary results: over a DuckDB source (``d``), a PostgreSQL source (``p``) and both
(the local engine of a federated plan). See veil/pgcatalog/pgtemporal.py,
veil/executor/jsonb_text.py and veil/pgcatalog/naming.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from tests.stress.fuzz_runner import FuzzEnv, differences, execute, start
from veil.executor.jsonb_text import jsonb_text

FROM = {
    "duckdb": "FROM d.t1 a",
    "postgres": "FROM p.t1 a",
    "federated": "FROM d.t1 a JOIN p.t2 b ON a.id = b.id",
}
EXPRESSIONS = (
    # EXTRACT is numeric (fractional seconds at scale 6), date_part float8
    "EXTRACT(YEAR FROM a.d)", "EXTRACT(SECOND FROM a.ts)", "EXTRACT(MILLISECONDS FROM a.tz)",
    "EXTRACT(EPOCH FROM a.ts)", "EXTRACT(EPOCH FROM a.d)", "EXTRACT(EPOCH FROM a.iv)", "EXTRACT(SECOND FROM a.iv)",
    "EXTRACT(MICROSECONDS FROM a.ts)", "EXTRACT(DOW FROM a.d)", "a.n / EXTRACT(DAY FROM a.d)",
    "EXTRACT(SECOND FROM a.ts) / 7", "a.n * EXTRACT(EPOCH FROM a.iv)", "EXTRACT(MILLISECONDS FROM a.ts) + a.n",
    "date_part('second', a.ts)", "date_part('hour', a.iv)", "date_part('epoch', a.ts)", "date_part('year', a.d)",
    "date_part('hour', INTERVAL '2 hours')",
    # date arithmetic
    "a.d - a.d", "a.d - DATE '2000-01-01'", "a.d + 1", "a.d - 3", "date_trunc('month', a.d)", "a.ts - a.ts",
    "a.d + INTERVAL '1 day'",
    # bytea conversions
    "decode('00ff', 'hex')", "decode('AQID', 'base64')", "encode(a.by, 'hex')", "encode(a.by, 'base64')",
    "encode(decode('4142', 'hex'), 'hex')", "length(a.by)",
    # varchar / char
    "CAST(a.tx AS varchar)", "CAST(a.tx AS varchar(2))", "CAST(a.ts AS char(2))", "upper(CAST(a.tx AS char(5)))",
    "CAST(a.i4 AS varchar(3))", "CAST(a.tx AS character)", "CASE WHEN a.b THEN CAST(a.tx AS varchar(3)) END",
    # jsonb
    "CAST('{\"b\": 1,  \"a\": [1e2, 2.50]}' AS jsonb)", "CAST('[1, \"x\"]' AS jsonb)", "CAST(NULL AS jsonb)",
    "CAST('{\"a\": {\"bb\": 1, \"b\": null}}' AS jsonb) -> 'a'",
    "to_jsonb(a.n)", "to_jsonb(a.tx)", "to_jsonb(a.i4)", "to_jsonb(a.b)", "jsonb_build_object('k', a.i4, 'v', a.tx)",
    "jsonb_typeof(to_jsonb(a.tx))", "jsonb_array_length(CAST('[1, [2]]' AS jsonb))",
    "CAST('{\"a\": 1, \"b\": [1, 2]}' AS jsonb) @> jsonb_build_object('b', to_jsonb(a.i2))",
    "CAST('{\"a\": 1}' AS jsonb) <@ CAST('{\"a\": 1, \"b\": 2}' AS jsonb)",
    # output names
    "a.ts AT TIME ZONE 'UTC'", "INTERVAL '2 hours'", "trim(a.tx)", "ROW(1, 2) IS NULL", "CURRENT_DATE - CURRENT_DATE",
    "LOCALTIMESTAMP > TIMESTAMP '2000-01-01'",
)
AGGREGATES = ("max(CAST(a.tx AS varchar(3)))", "min(CAST(a.d AS varchar(4)))", "min(jsonb_typeof(to_jsonb(a.tx)))")
SET_OPERATIONS = (
    "(SELECT CAST(a.tx AS varchar(3)) AS c {f}) UNION (SELECT CAST(a.tx AS varchar(3)) {f}) ORDER BY 1",
    "(SELECT CAST(a.ts AS char(2)) AS c {f}) EXCEPT (SELECT CAST(a.tx AS char(2)) {f}) ORDER BY 1",
)


@pytest.fixture(scope="module")
def env(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    started = start(tmp_path_factory.mktemp("pgtemporal"), postgres_dsn, f"pgt{os.getpid()}")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def connections(env: FuzzEnv) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    oracle = psycopg.connect(env.oracle_dsn, autocommit=True)
    veil = psycopg.connect(env.veil_dsn(), autocommit=True)
    try:
        yield oracle, veil
    finally:
        oracle.close()
        veil.close()


@pytest.mark.parametrize("where", sorted(FROM))
@pytest.mark.parametrize("mode", ["text", "binary"])
def test_results_are_postgres(connections: tuple[psycopg.Connection, psycopg.Connection], where: str, mode: str) -> None:
    oracle, veil = connections
    failures = []
    for expression in EXPRESSIONS:
        sql = f"SELECT {expression} {FROM[where]} ORDER BY a.id"
        expected = execute(oracle, sql, mode, [], True)
        got = execute(veil, sql, mode, [], True)
        assert expected.sqlstate is None, (sql, expected.message)
        found = differences(expected, got, ordered=True)
        if found:
            failures.append(f"{sql}: {found}\n  postgres: {expected.short()}\n  veil:     {got.short()}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("where", sorted(FROM))
def test_aggregate_results_are_postgres(
    connections: tuple[psycopg.Connection, psycopg.Connection], where: str
) -> None:
    """There is no max(varchar): PostgreSQL's result is text."""
    oracle, veil = connections
    for expression in AGGREGATES:
        sql = f"SELECT {expression} {FROM[where]}"
        expected, got = execute(oracle, sql, "text", [], True), execute(veil, sql, "text", [], True)
        assert not differences(expected, got, ordered=True), (sql, expected.short(), got.short())


@pytest.mark.parametrize("where", sorted(FROM))
@pytest.mark.parametrize("template", SET_OPERATIONS)
def test_set_operation_results_are_postgres(
    connections: tuple[psycopg.Connection, psycopg.Connection], where: str, template: str
) -> None:
    """A length every branch has is kept (varchar(3) stays 1043/7)."""
    oracle, veil = connections
    sql = template.format(f=FROM[where])
    expected, got = execute(oracle, sql, "binary", [], True), execute(veil, sql, "binary", [], True)
    assert not differences(expected, got, ordered=True), (sql, expected.short(), got.short())


REFUSED = (
    "encode(a.by, 'escape')", "CAST('{}' AS jsonb) ? 'a'", "CAST('{}' AS jsonb) ?| ARRAY['a']",
    "CAST('[]' AS jsonb) || to_jsonb(a.i4)", "jsonb_build_object('a', a.tx) - 'a'", "CAST('{}' AS jsonb) #> '{a}'",
    "jsonb_strip_nulls(to_jsonb(a.i4))",
)


@pytest.mark.parametrize("where", ["duckdb", "federated"])
@pytest.mark.parametrize("expression", REFUSED)
def test_what_duckdb_cannot_compute_is_refused(
    connections: tuple[psycopg.Connection, psycopg.Connection], where: str, expression: str
) -> None:
    """What DuckDB cannot compute as PostgreSQL does is refused with 0A000 (PostgreSQL answers
    it), never answered differently nor with DuckDB's words."""
    oracle, veil = connections
    sql = f"SELECT {expression} {FROM[where]}"
    assert execute(oracle, sql, "text", [], True).sqlstate is None
    got = execute(veil, sql, "text", [], True)
    assert got.sqlstate == "0A000", got.short()
    assert "duckdb" not in got.message.lower()


@pytest.mark.parametrize(
    "text",
    ['{"b":1,"a":2,"a":3}', '[1e2, 2.50, -0, 1.5E-3]', '"tab\\there \\u00e9 \\/"', '{"aa": [], "b": {}}', "null", "true"],
)
def test_jsonb_text_is_postgres(connections: tuple[psycopg.Connection, psycopg.Connection], text: str) -> None:
    oracle, _ = connections
    expected = oracle.execute("SELECT CAST(%s AS jsonb)::text", (text,)).fetchone()
    assert expected is not None
    assert jsonb_text(text) == expected[0]


@pytest.mark.parametrize("where", ["duckdb", "federated"])
@pytest.mark.parametrize("expression", ["jsonb_array_length(to_jsonb(a.tx))", "jsonb_array_length(jsonb_build_object('a', 1))"])
def test_errors_are_postgres(
    connections: tuple[psycopg.Connection, psycopg.Connection], where: str, expression: str
) -> None:
    """What PostgreSQL rejects is rejected with its SQLSTATE and message, never answered."""
    oracle, veil = connections
    sql = f"SELECT {expression} {FROM[where]}"
    expected, got = execute(oracle, sql, "text", [], True), execute(veil, sql, "text", [], True)
    assert expected.sqlstate == "22023"
    assert (got.sqlstate, got.message) == (expected.sqlstate, expected.message)


def test_bytea_conversions_without_a_table(connections: tuple[psycopg.Connection, psycopg.Connection]) -> None:
    """The local engine (no table) converts bytea as PostgreSQL does too."""
    oracle, veil = connections
    sql = "SELECT decode('00ff', 'hex'), encode(CAST('Zoë' AS bytea), 'hex'), encode(decode('4142', 'hex'), 'base64')"
    for mode in ("text", "binary"):
        expected, got = execute(oracle, sql, mode, [], True), execute(veil, sql, mode, [], True)
        assert not differences(expected, got, ordered=True), (expected.short(), got.short())


def test_date_trunc_of_a_subquery_is_planned(connections: tuple[psycopg.Connection, psycopg.Connection]) -> None:
    """date_trunc of a date subquery over another source: federated, not refused."""
    oracle, veil = connections
    sql = "SELECT date_trunc('hour', (SELECT max(x.d) FROM d.t2 x)) FROM p.t1 a ORDER BY a.id"
    expected, got = execute(oracle, sql, "text", [], True), execute(veil, sql, "text", [], True)
    assert not differences(expected, got, ordered=True), (expected.short(), got.short())


@pytest.mark.parametrize("where", ["duckdb", "federated"])
@pytest.mark.parametrize("text", ["zz", "abc", " 00 ff "])
def test_hex_decoding_is_postgres(
    connections: tuple[psycopg.Connection, psycopg.Connection], where: str, text: str
) -> None:
    """decode(text, 'hex') reads only pairs of hex digits (blanks skipped), else fails with 22023,
    as PostgreSQL does: never DuckDB's looser from_hex."""
    oracle, veil = connections
    sql = f"SELECT decode(CAST('{text}' AS text) || CAST(a.i4 - a.i4 AS text) || '0', 'hex') AS b {FROM[where]}"
    expected, got = execute(oracle, sql, "text", [], True), execute(veil, sql, "text", [], True)
    if expected.sqlstate is not None:
        assert (expected.sqlstate, got.sqlstate) == ("22023", "22023"), got.short()
    else:
        assert not differences(expected, got, ordered=False), (expected.short(), got.short())
