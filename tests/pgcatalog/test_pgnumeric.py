"""PostgreSQL's numeric results computed by DuckDB (veil.pgcatalog.pgnumeric), checked
against PostgreSQL itself: the quotient printed at select_div_scale, the aggregate table, and
the result types and text values of the same statements sent to PostgreSQL directly and through
`veil serve` (a DuckDB source, a PostgreSQL source, and the local engine for statements
without tables)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import sqlglot
from sqlglot import exp

from tests.conftest import VeilServer, scratch_database
from tests.pgcatalog.numeric_support import numbers_server, wire_result
from veil.catalog.sources.pgdivision import quotient_body
from veil.catalog.sources.sandbox import sandboxed_duckdb
from veil.pgcatalog.pgnumeric import AGGREGATES, AGGREGATES_QUERY, quotient_sql

DATABASE = "veil_pgnumeric"
ROWS = [
    (1, 2, 3, 1.5, 2.5, "12.50"),
    (4, 5, 6, 2.5, 3.5, "7.25"),
    (7, 8, 9, 3.5, 4.5, "3.33"),
    (-3, 100000, 123456789, -0.25, 1e10, "-0.07"),
]
TABLE = "(i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(12, 2))"


def _operands(seed: int) -> list[tuple[str, str]]:
    """Dividends and divisors of every magnitude and scale select_div_scale distinguishes."""
    rng = random.Random(seed)
    values = [
        "0",
        "1",
        "-1",
        "3",
        "7",
        "9999",
        "10000",
        "10001",
        "0.5",
        "-0.07",
        "0.0001",
        "0.00001",
        "123456789",
        "1000000000",
        "23.08",
        "1e-3",
    ]
    for _ in range(40):
        digits = rng.randint(1, 12)
        scale = rng.randint(0, min(digits, 6))
        text = str(rng.randint(1, 10**digits - 1)).rjust(scale + 1, "0")
        values.append(
            ("-" if rng.random() < 0.3 else "") + text[: len(text) - scale] + ("." + text[-scale:] if scale else "")
        )
    return [(a, b) for a in values for b in rng.sample(values, 6) if Decimal(b) != 0]


def _scale(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


def test_quotient_is_postgres_numeric_div(postgres_dsn: str) -> None:
    pairs = _operands(12)
    with psycopg.connect(postgres_dsn) as conn:
        expected = [conn.execute(f"SELECT ({a}::numeric / {b}::numeric)::text").fetchone()[0] for a, b in pairs]  # type: ignore[index]
    local = sandboxed_duckdb(macros=True)
    try:
        got = [
            local.execute(
                "SELECT "
                + quotient_sql(
                    f"CAST('{a}' AS DECIMAL(38, {_scale(a)}))",
                    f"CAST('{b}' AS DECIMAL(38, {_scale(b)}))",
                    _scale(a),
                    _scale(b),
                )
            ).fetchall()[0][0]
            for a, b in pairs
        ]
    finally:
        local.close()
    mismatches = [(a, b, e, g) for (a, b), e, g in zip(pairs, expected, got, strict=True) if e != g]
    assert not mismatches, mismatches[:10]
    assert len(pairs) > 300


def test_quotient_body_is_flat() -> None:
    """The macro's steps follow one another: no lambda inside another (DuckDB's planning grows
    with their depth), and no ``x[k]``."""
    tree = sqlglot.parse_one("SELECT " + quotient_body("a", "b", "sa", "sb"), read="duckdb")
    lambdas = list(tree.find_all(exp.Lambda))
    assert len(lambdas) >= 8
    assert all(lam.find_ancestor(exp.Lambda) is None for lam in lambdas)
    assert next(tree.find_all(exp.Bracket), None) is None
    assert {c.name for c in tree.find_all(exp.Column)} == {"a", "b", "sa", "sb"}  # no step reads a column


def test_quotient_sql_is_one_short_call() -> None:
    """Each quotient in a statement is one call of the macro, whatever its operands."""
    tree = sqlglot.parse_one("SELECT " + quotient_sql("sum(n)", "count(n)", 2, 0), read="duckdb")
    calls = [f.name for f in tree.find_all(exp.Anonymous)]
    assert calls == ["veil_numeric_div"]
    assert len(quotient_sql("sum(n)", "count(n)", 2, 0)) < 100


def test_aggregate_table_is_postgres_catalog(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(AGGREGATES_QUERY).fetchall()
    assert {(name, argument): result for name, argument, result in rows} == AGGREGATES
    assert AGGREGATES[("sum", "int4")] == "int8" and AGGREGATES[("avg", "float4")] == "float8"


QUERIES = [
    "select sum(i2), sum(i4), sum(i8), sum(f4), sum(f8), sum(n) from {t}",
    "select avg(i2), avg(i4), avg(i8), avg(f4), avg(f8), avg(n) from {t}",
    "select count(*), count(i2), min(n), max(n), min(i2), max(f4) from {t}",
    "select variance(i4), variance(n), var_pop(i8), var_samp(i2), variance(f8), stddev(i8), stddev_pop(n), stddev_samp(i4) from {t}",
    "select n / 3, i4 / 3, i4 * 1.5, n * n, n + 1, 10 / 4.0, round(n, 1), round(avg(n), 2) from {t} group by n, i4",
    "select i2 + i2, i2 * i4, i4 + i8, i2 / 2, f4 * 2, f4 + f8, mod(i4, 3), abs(n), -n, n % 3 from {t}",
    "select i2, avg(n) as a from {t} group by i2 order by a desc",
    "select i2, avg(i4) from {t} group by 1 having avg(i4) > 4 order by 1",
    "select avg(n) * 2, avg(n) + 1, -avg(i2), round(avg(i4)) from {t}",
    "select sum(i4) over (order by i2) as s, avg(n) over () from {t} order by s",
    "select n / 0.7, n / i2, i8 / i2, i2 / i8, 7 / -2, -7 / 2, (-7) % 3 from {t} order by 1",
    "select avg(n) from {t} where i2 > 100",
    "select count(*) / 2, sum(i4) / count(*), sum(n) / count(*), avg(i4) filter (where i2 > 1) from {t}",
    "select avg(case when i2 > 1 then n end), avg(nullif(i4, 5)), sum(n) filter (where i2 > 1) from {t}",
    "select i2::numeric / 3, 1 / 3.0, 1e3, 2::numeric / 3 from {t} order by 1",
    "select 3.14, '3.14'::numeric, 1e3, 1.50, 2::numeric / 3, 7 / 2, 7 / 2.0, 1.5e-3, 0.1 + 0.2",
    "select avg(i4), 1.5::numeric, i2::numeric, n::numeric, sum(i4) / count(*), avg(n) as mean from {t} group by i2, n",
]


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str, warehouse: Path
) -> Iterator[tuple[str, VeilServer]]:
    values = ", ".join(f"({i2}, {i4}, {i8}, {f4}, {f8}, {n})" for i2, i4, i8, f4, f8, n in ROWS)
    yield from numbers_server(
        tmp_path_factory.mktemp("pgnumeric"),
        warehouse,
        scratch_database(postgres_dsn, DATABASE),
        [f"CREATE TABLE t {TABLE}", f"INSERT INTO t VALUES {values}"],
        [
            "CREATE SCHEMA nums",
            f"CREATE TABLE nums.t {TABLE.replace('int2', 'smallint').replace('float4', 'real')}",
            f"INSERT INTO nums.t VALUES {values}",
        ],
    )


def _run(dsn: str, sql: str) -> tuple[list[tuple[bytes | None, int, int]], list[list[str | None]]]:
    """Each column's (name, type OID, typmod) and the rows as text, sorted."""
    types, rows = wire_result(dsn, sql)
    return types, sorted(rows, key=str)


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("table", ["nums.t", "public.t"])
def test_types_and_values_are_postgres(servers: tuple[str, VeilServer], sql: str, table: str) -> None:
    """RowDescription name and type (OID, typmod) and every text value as PostgreSQL sends them, on a
    DuckDB source (nums.t, rewritten for DuckDB) and a PostgreSQL one (public.t, pushed)."""
    dsn, server = servers
    assert _run(server.dsn(), sql.format(t=table)) == _run(dsn, sql.format(t="t"))


def test_wrapped_quotients_keep_the_statement_order(servers: tuple[str, VeilServer]) -> None:
    """An output quotient is printed around the statement: the rows stay in its ORDER BY order."""
    dsn, server = servers
    for sql in (
        "select i2, avg(n) as a from {t} group by i2 order by a desc limit 3",
        "select i2, n / 3 from {t} order by 2, 1",
    ):
        with psycopg.connect(server.dsn()) as veil, psycopg.connect(dsn) as postgres:
            got = veil.execute(sql.format(t="nums.t")).fetchall()
            assert got == postgres.execute(sql.format(t="t")).fetchall() and len(got) >= 3
