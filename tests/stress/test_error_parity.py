"""Errors (and the answers next to them) through Veil as PostgreSQL gives them, on the fuzzer's
data (tests/stress/fuzz_schema.py): each statement runs on the DuckDB source (``d.t1``), the
PostgreSQL source (``p.t1``) and the local engine (``d.t1`` joined to a PostgreSQL fragment),
and on the oracle PostgreSQL with the same text. The SQLSTATE must be PostgreSQL's, the message
PostgreSQL's words (values Veil redacts aside) and never an engine's; an answer PostgreSQL gives
must be Veil's too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import psycopg
import pytest

from tests.stress.fuzz_runner import UNCLEAN, FuzzEnv, Outcome, execute, start

# every kind of error DuckDB raises that a statement can reach, with PostgreSQL's SQLSTATE
ERRORS = [
    ("CAST(n AS numeric(5,1))", "22003"),  # DuckDB: Casting value … to type DECIMAL(5,1) failed
    ("CAST(n AS smallint)", "22003"),  # Failed to cast decimal value … to type INT16
    ("CAST(i8 AS integer)", "22003"),
    ("CAST(f8 AS real)", "22003"),
    ("i4 * 2", "22003"),
    ("i8 + i8", "22003"),
    ("i2 * i2 * i2", "22003"),
    ("abs(i2)", "22003"),  # Overflow on abs(-32768)
    ("-i2", "22003"),  # Overflow in negation
    ("f8 * 10", "22003"),  # DuckDB: Infinity
    ("f8 * 0.5 + f8 * 2", "22003"),
    ("f8 * 1e-300 * 1e-300", "22003"),  # underflow; DuckDB: 0
    ("i4 / 0", "22012"),
    ("i4 % 0", "22012"),
    ("n / 0", "22012"),
    ("f8 / 0", "22012"),
    ("CAST(tx AS integer)", "22P02"),
    ("CAST(tx AS bigint)", "22P02"),
    ("CAST(tx AS numeric)", "22P02"),
    ("CAST(tx AS double precision)", "22P02"),
    ("CAST(tx AS boolean)", "22P02"),
    ("CAST(tx AS uuid)", "22P02"),
    ("CAST(tx AS json)", "22P02"),
    ("CAST(tx AS date)", "22007"),
    ("CAST(tx AS timestamp)", "22007"),
    ("CAST(tx AS interval)", "22007"),
    ("CAST('99999' AS smallint)", "22003"),
    ("CAST('99999999999' AS integer)", "22003"),
    ("CAST('1e400' AS double precision)", "22003"),
    ("CAST('3.5e38' AS real)", "22003"),
    ("CAST('2024-13-01' AS date)", "22008"),
    ("CAST('2024-02-30' AS date)", "22008"),
    ("tx ~ '('", "2201B"),
    ("regexp_replace(tx, '[', 'x')", "2201B"),
    ("tx ~ 'a{2,1}'", "2201B"),
    ("substr(tx, 1, -1)", "22011"),
    ("substring(tx from 2 for -1)", "22011"),
    ("split_part(tx, ',', 0)", "22023"),
    ("make_date(2024, 13, 1)", "22008"),
    ("chr(-1)", "22023"),
    ("to_timestamp(1e20)", "22008"),
    ("ts + INTERVAL '300000 years'", "22008"),
    ("date_part('foo', ts)", "22023"),
    ("date_part('dow', iv)", "0A000"),
    ("power(0.0, -1)", "2201F"),
    ("sqrt(-1.0)", "2201F"),
    ("ln(0.0)", "2201E"),
]

# what PostgreSQL answers and DuckDB, left to itself, refuses or answers differently
ANSWERS = [
    "CAST(1e300 AS double precision)",  # was 22P02: 1e300 cast to DECIMAL(38,0)
    "CAST(1.5e-7 AS double precision)",
    "i2 * 1000",  # int2 * int4 is int4 arithmetic (DuckDB: smallint overflow)
    "CAST(-32768 AS smallint) * -1",
    "f8 * 0.5 + 1",
    "(TIMESTAMP '2000-01-01' - INTERVAL '-3 days 04:00:00') - TIMESTAMP '2000-01-01'",  # was '3 days'
    "INTERVAL '-3 days 04:00:00'",
    "CAST(' 12 ' AS integer) + CAST('1.5e3' AS numeric) + CAST('-Infinity' AS float8)",
    "CAST('t' AS boolean) AND CAST('off' AS boolean)",
]

# the FROM clause per engine; the local engine joins a PostgreSQL fragment to the DuckDB table
ENGINES = {
    "duckdb": "d.t1",
    "postgres": "p.t1",
    "local": "d.t1 JOIN (SELECT id AS other FROM p.t2) x ON t1.id = x.other",
}

# whole statements: errors PostgreSQL raises when planning, and federated plans that failed
STATEMENTS = [
    "SELECT CAST('abc' AS numeric) FROM d.t1 WHERE FALSE",
    "SELECT CAST('abc' AS integer) FROM d.t1 JOIN p.t2 ON t1.id = t2.id WHERE FALSE",
    "SELECT (1 + 2147483647) AS c1 FROM d.t1 WHERE FALSE",
    "SELECT (SELECT make_date(1, 11, 31) FROM d.t1 WHERE FALSE) FROM p.t1",
    "SELECT 1 / 0 FROM d.t1 JOIN p.t2 ON t1.id = t2.id WHERE FALSE",
    "SELECT FALSE AS c1 FROM d.t1 WHERE FALSE GROUP BY substr('abc', 1, -1)",
    "SELECT substr(tx, 1, -1) FROM d.t1 WHERE tx IS NULL",
    "SELECT string_agg('a', ',' ORDER BY 'a') FROM d.t1",
    "SELECT string_agg(tx, ',' ORDER BY 'a', tx) FROM d.t1",
    "SELECT d.t2.id FROM d.t2 JOIN p.t2 USING (id)",  # was 42702 column reference "t2" is ambiguous
    "SELECT d.t2.k, p.t2.i8 FROM d.t2 JOIN p.t2 ON d.t2.id = p.t2.id WHERE p.t2.k > 1",
    # was XX000: a scalar subquery as a WHERE conjunct of a federated plan
    "SELECT 'abc' FROM p.t2 a JOIN p.t2 b ON a.i8 = b.k WHERE (SELECT FALSE FROM d.t1 WHERE FALSE ORDER BY id LIMIT 1)",
    "SELECT count(*) FROM p.t2 a JOIN d.t2 b ON a.id = b.id WHERE (SELECT TRUE FROM p.t1 LIMIT 1) AND a.id > 1",
    "WITH c AS (SELECT a.i8 * 2 AS x FROM p.t1 a JOIN d.t2 b ON a.id = b.id WHERE a.id > (SELECT min(id) FROM d.t1)) "
    "SELECT * FROM c",
    "SELECT date_part('dow', iv) FROM p.t1",  # was XX000: raised while the result streamed
]

_QUOTED = re.compile(r'"[^"]*"')


@pytest.fixture(scope="module")
def connections(
    postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    env: FuzzEnv = start(tmp_path_factory.mktemp("error_parity"), postgres_dsn, f"e{os.getpid()}")
    try:
        with (
            psycopg.connect(env.oracle_dsn, autocommit=True) as oracle,
            psycopg.connect(env.veil_dsn(), autocommit=True) as veil,
        ):
            yield oracle, veil
    finally:
        env.stop()


def _both(connections: tuple[psycopg.Connection, psycopg.Connection], sql: str) -> tuple[Outcome, Outcome]:
    oracle, veil = connections
    return execute(oracle, sql, "text", [], True), execute(veil, sql, "text", [], True)


def _words(message: str) -> str:
    """A message with its quoted values as Veil redacts them."""
    return _QUOTED.sub('"***"', message)


def _assert_same(postgres: Outcome, veil: Outcome, sql: str) -> None:
    assert (veil.sqlstate, _words(veil.message)) == (postgres.sqlstate, _words(postgres.message)), sql
    assert not UNCLEAN.search(veil.message), veil.message
    if postgres.sqlstate is None:
        assert (veil.fields, sorted(veil.rows, key=repr)) == (postgres.fields, sorted(postgres.rows, key=repr)), sql


# DuckDB's message for these does not say the type PostgreSQL's names: only the SQLSTATE and its
# first words are PostgreSQL's
_SHORTER = {"date_part('foo', ts)", "to_timestamp(1e20)"}


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize(("expression", "sqlstate"), ERRORS, ids=[e for e, _ in ERRORS])
def test_error_as_postgres_raises_it(
    connections: tuple[psycopg.Connection, psycopg.Connection], engine: str, expression: str, sqlstate: str
) -> None:
    sql = f"SELECT {expression} FROM {ENGINES[engine]}"
    postgres, veil = _both(connections, sql)
    assert postgres.sqlstate == sqlstate, postgres.short()  # the list says what PostgreSQL does
    if expression in _SHORTER:
        assert veil.sqlstate == sqlstate and _words(postgres.message).startswith(_words(veil.message).split(":")[0])
        assert not UNCLEAN.search(veil.message), veil.message
        return
    _assert_same(postgres, veil, sql)


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("expression", ANSWERS)
def test_answer_as_postgres_gives_it(
    connections: tuple[psycopg.Connection, psycopg.Connection], engine: str, expression: str
) -> None:
    sql = f"SELECT {expression} FROM {ENGINES[engine]}"
    postgres, veil = _both(connections, sql)
    assert postgres.sqlstate is None, postgres.short()
    _assert_same(postgres, veil, sql)


@pytest.mark.parametrize("sql", STATEMENTS)
def test_statement_as_postgres_runs_it(connections: tuple[psycopg.Connection, psycopg.Connection], sql: str) -> None:
    postgres, veil = _both(connections, sql)
    assert veil.sqlstate is None or not veil.sqlstate.startswith("XX"), veil.short()
    _assert_same(postgres, veil, sql)


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize(
    ("expression", "params"),
    [
        ("$1 < $2", [("2 hours", 1186), ("1 month", 1186)]),  # was XX000 on PostgreSQL, 0A000 on DuckDB
        ("$1", [("-1 mon 2 days -00:00:03.5", 1186)]),
    ],
)
def test_interval_parameter_with_months(
    connections: tuple[psycopg.Connection, psycopg.Connection],
    engine: str,
    expression: str,
    params: list[tuple[str, int]],
) -> None:
    oracle, veil = connections
    sql = f"SELECT {expression} AS c FROM {ENGINES[engine]}"
    postgres, served = execute(oracle, sql, "prepared", params, True), execute(veil, sql, "prepared", params, True)
    assert postgres.sqlstate is None, postgres.short()
    _assert_same(postgres, served, sql)
