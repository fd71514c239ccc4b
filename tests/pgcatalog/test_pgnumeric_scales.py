"""PostgreSQL's per-value display scale of numeric results, differentially: the same numeric
expressions sent to PostgreSQL and through Veil on each engine — the local engine (constants and
VALUES), a DuckDB source table and a PostgreSQL source table — in text and binary format; the
type OID, typmod and bytes of every column must be PostgreSQL's, or the statement refused with
0A000 (a value Veil cannot print as PostgreSQL does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import VeilServer, scratch_database
from tests.pgcatalog.numeric_support import numbers_server

DATABASE = "veil_pgnumeric_scales"
COLUMNS = "(id int4, a numeric(10,2), b numeric(12,4), c numeric(8,0), i int4)"
ROWS = [
    (1, "12.50", "-3.1416", "7", 3),
    (2, "-0.07", "2.5000", "-12", -4),
    (3, "1000.00", "0.0001", "0", 10),
    (4, "3.33", "123.4567", "5", 1),
]
#: The literals standing for the columns on the local engine (same scales as the columns).
LITERALS = {"a": "12.50", "b": "(-3.1416)", "c": "7", "i": "3"}
#: The same values as a VALUES list of mixed scales (a column of per-value scales).
MIXED = "(VALUES (1, 1.5, 2.25), (2, 2.50, -0.125), (3, 3, 10.0)) v(id, x, y)"

#: Expressions over a (numeric(10,2)), b (numeric(12,4)), c (numeric(8,0)) and i (int4).
SCALARS: list[str] = [
    "{a} + {b}",
    "{a} - {b}",
    "{a} * {b}",
    "{a} / {b}",
    "{a} % {b}",
    "mod({a}, {b})",
    "{a} * {i}",
    "{a} + {i}",
    "{a} / {i}",
    "{i} / {a}",
    "{a} * {c}",
    "{c} / 7",
    "-{a}",
    "+{b}",
    "round({a})",
    "round({b}, 2)",
    "round({a}, -1)",
    "round({b}, 6)",
    "trunc({b})",
    "trunc({b}, 2)",
    "trunc({a}, 5)",
    "abs({b})",
    "sign({b})",
    "sign({a})",
    "ceil({b})",
    "floor({b})",
    "ceiling({a})",
    "power({a}, 2)",
    "power({b}, {c})",
    "{a} ^ 2",
    "sqrt(abs({a}))",
    "ln(abs({a}) + 1)",
    "exp({c} / 10)",
    "log(abs({b}) + 1)",
    "log10(abs({a}) + 1)",
    "{a}::numeric",
    "{i}::numeric",
    "{i}::numeric(10,3)",
    "{a}::numeric(10,1)",
    "{b}::numeric(8,2)",
    "case when {i} > 0 then {a} else {b} end",
    "coalesce({a}, {b})",
    "coalesce({b}, {a})",
    "nullif({a}, 0)",
    "greatest({a}, {b})",
    "least({a}, {b})",
    "{a} * 2",
    "{b} * 1.5",
    "{a} + 1.005",
    "{a} * {b} * {a}",
    "({a} + {b}) * {c}",
    "div({a}, {b})",
    "scale({a} * {b})",
    "{a}::float8 * 2",
    "{i} * 1.0",
    "{i} + 0.50",
    "1.5 * {i}",
    "array[{a}, {b}]",
    "array[{a}, {b}, 1.5]",
]
AGGREGATES: list[str] = [
    "sum({a})",
    "sum({b})",
    "avg({a})",
    "min({b})",
    "max({a})",
    "stddev({a})",
    "variance({b})",
    "stddev({a}) * 2",
    "variance({a}) + 1",
    "avg({a}) * 2",
    "sum({a} * {b})",
    "avg({a}) / 3",
    "stddev({a}) / 2",
    "round(stddev({a}), 2)",
    "sum({a}) / count(*)",
    "stddev_pop({b}) - 1",
    "var_pop({a}) * 1",
    "sum({a}) * 2",
    "sum({i}) * 1.5",
    "avg({i}) + 0.5",
    "abs(avg({b}))",
    "sign(sum({b}))",
    "-stddev({b})",
    "round(avg({b}), 1)",
    "trunc(avg({a}))",
    "ceil(avg({a}))",
    "max({a}) + min({b})",
    "array_agg({a})",
    "sum({c}) / 3",
    "avg({a} * {i})",
]
CONSTANTS: list[str] = [
    "'{1.5,2.5}'::numeric[]",
    "'{1.5,2.50,3}'::numeric[]",
    "'{{1.5,2.50},{3,NULL}}'::numeric[]",
    "array[1.5, 2.50]",
    "array[1, 2.5]",
    "'1.50'::numeric",
    "'1e-3'::numeric",
    "1e3 * 1.5",
    "'{1.5,2.50}'::numeric(5,1)[]",
    "array[1.5, 2.50]::numeric[]",
    "(array[1.5, 2.50])[2]",
]
MIXED_QUERIES: list[str] = [
    "select x from {v} order by id",
    "select x * 2 from {v} order by id",
    "select x + y from {v} order by id",
    "select x / 3 from {v} order by id",
    "select sum(x), avg(x), min(x), max(x) from {v}",
    "select stddev(x), variance(y), stddev(x) * 2 from {v}",
    "select sign(x), abs(y), round(y, 1) from {v} order by id",
    "select array_agg(x order by id) from {v}",
    "select x from {v} union all select 2.125 order by 1",
    "select 1.5 union all select 2.50",
    "select case when id = 1 then x else 0.125 end from {v} order by id",
    "select x * 2 from (select 1.5 as x union all select 2.50) s order by 1",
]


#: Statements over the table ``{t}``: derived tables and set operations.
TABLE_QUERIES: list[str] = [
    "select v * 2 from (select a as v from {t} union all select a from {t}) s order by 1",
    "select v * 2 from (select a as v from {t} union all select b from {t}) s order by 1",
    "select w, w + 1 from (select round(b, 1) as w from {t}) s order by 1",
    "select stddev(a) * 2, stddev(a) / 2 from {t} group by i > 0 order by 1",
    "select distinct coalesce(a, b) from {t} order by 1",
    "select round(b, 6), count(*) from {t} group by round(b, 6) order by 1",
    "select greatest(a, b) from {t} where greatest(a, b) > 3 order by 1 desc",
    "select case when i > 0 then a else b end as v, count(*) from {t} group by 1 order by 1",
    "select max(case when i > 0 then a else b end) from {t}",
    "select s from (select stddev(a) * 2 as s from {t}) q",
]


def _result(conn: psycopg.Connection, sql: str, fmt: int) -> tuple[object, ...]:
    """Each column's (type OID, typmod) and the rows' bytes in format ``fmt``, or the error."""
    result = conn.pgconn.exec_params(sql.encode(), [], result_format=fmt)
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        state = result.error_field(psycopg.pq.DiagnosticField.SQLSTATE)
        return ("error", (state or b"").decode(), (result.error_message or b"").decode().strip())
    types = [(result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
    rows = [[result.get_value(r, i) for i in range(result.nfields)] for r in range(result.ntuples)]
    return (types, rows)


def _run(dsn: str, sql: str, fmt: int) -> tuple[object, ...]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return _result(conn, sql, fmt)


def statements(table: str | None) -> list[str]:
    """The probe's statements on ``table`` (None: the local engine, literals and VALUES)."""
    if table is None:
        scalars = [f"select {e.format(**LITERALS)}" for e in SCALARS]
        return scalars + [f"select {c}" for c in CONSTANTS] + [q.format(v=MIXED) for q in MIXED_QUERIES]
    names = {"a": "a", "b": "b", "c": "c", "i": "i"}
    scalars = [f"select {e.format(**names)} from {table} order by id" for e in SCALARS]
    aggregates = [f"select {e.format(**names)} from {table}" for e in AGGREGATES]
    return scalars + aggregates + [q.format(t=table) for q in TABLE_QUERIES]


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str, warehouse: Path
) -> Iterator[tuple[str, VeilServer]]:
    values = ", ".join(f"({k}, {a}, {b}, {c}, {i})" for k, a, b, c, i in ROWS)
    duck = COLUMNS.replace("numeric", "decimal").replace("int4", "integer")
    yield from numbers_server(
        tmp_path_factory.mktemp("pgnumeric_scales"),
        warehouse,
        scratch_database(postgres_dsn, DATABASE),
        [f"CREATE TABLE t {COLUMNS}", f"INSERT INTO t VALUES {values}"],
        ["CREATE SCHEMA nums", f"CREATE TABLE nums.t {duck}", f"INSERT INTO nums.t VALUES {values}"],
    )


def mismatches(postgres: str, veil: str, table: str | None, veil_table: str | None) -> list[tuple[object, ...]]:
    """(statement, format, PostgreSQL's outcome, Veil's) of each statement whose type OID,
    typmod or bytes differ (a refusal with 0A000 where PostgreSQL answers is no mismatch)."""
    found = []
    with psycopg.connect(postgres, autocommit=True) as direct, psycopg.connect(veil, autocommit=True) as served:
        for sql, veil_sql in zip(statements(table), statements(veil_table), strict=True):
            for fmt in (0, 1):
                expected, got = _result(direct, sql, fmt), _result(served, veil_sql, fmt)
                refused = got[0] == "error" and got[1] == "0A000" and expected[0] != "error"
                if got != expected and not refused:
                    found.append((veil_sql, fmt, expected, got))
    return found


#: Differences left, by engine (each checked to still differ: the list is strict). A VALUES
#: column of literals of different scales is DuckDB's one DECIMAL type (no per-row scale to
#: carry), as is a set operation's column whose branches have different scales; ``+x`` is read
#: by sqlglot as ``x`` (the column's typmod); ``scale()`` is not on the allow-list; ``ARRAY[a, b]`` of columns of different scales on a
#: DuckDB source is a DuckDB list of one scale; a quotient of a quotient (``avg(a) / 3``) is DOUBLE;
#: only the outermost select list is printed per row: not a grouped column whose scale depends
#: on ungrouped columns, ``max()`` of such a value, nor a derived table's stddev arithmetic.
KNOWN: dict[str, set[str]] = {
    "local": {
        "select scale(12.50 * (-3.1416))",
        "select 1.5 union all select 2.50",
        "select x * 2 from (select 1.5 as x union all select 2.50) s order by 1",
        *(q.format(v=MIXED) for q in MIXED_QUERIES if "{v}" in q),
    },
    "duckdb": {
        "select +b from nums.t order by id",
        "select scale(a * b) from nums.t order by id",
        "select array[a, b] from nums.t order by id",
        "select array[a, b, 1.5] from nums.t order by id",
        "select avg(a) / 3 from nums.t",
        "select v * 2 from (select a as v from nums.t union all select b from nums.t) s order by 1",
        "select case when i > 0 then a else b end as v, count(*) from nums.t group by 1 order by 1",
        "select max(case when i > 0 then a else b end) from nums.t",
        "select s from (select stddev(a) * 2 as s from nums.t) q",
    },
    "postgres": {"select +b from public.t order by id"},
}
TABLES = {"local": (None, None), "duckdb": ("t", "nums.t"), "postgres": ("t", "public.t")}


@pytest.mark.parametrize("engine", list(TABLES))
def test_numeric_scales_are_postgres(servers: tuple[str, VeilServer], engine: str) -> None:
    """Every probe statement gives PostgreSQL's OIDs, typmods and bytes (text and binary) but
    the known differences left; the refusals are 0A000 with a message naming the function."""
    dsn, server = servers
    table, veil_table = TABLES[engine]
    found = mismatches(dsn, server.dsn(), table, veil_table)
    assert {sql for sql, *_ in found} == KNOWN[engine], [f[:2] for f in found]
    assert len(statements(table)) - len(KNOWN[engine]) > 50


def test_stddev_arithmetic_is_postgres(servers: tuple[str, VeilServer]) -> None:
    """``stddev(x) * 2`` prints PostgreSQL's scale (that of the standard deviation, per value),
    not DECIMAL(38, 16)'s: 994.803330245062, and a quotient of one is PostgreSQL's numeric."""
    dsn, server = servers
    sql = "select stddev(a) * 2, variance(b) + 1, stddev(a) / 2 from {t}"
    expected = _run(dsn, sql.format(t="t"), 0)
    assert expected[1] == [[b"994.803330245062", b"3829.9276959000000000", b"248.7008325612655000"]]
    assert _run(server.dsn(), sql.format(t="nums.t"), 0) == expected


def test_transcendental_numeric_calls_are_refused(servers: tuple[str, VeilServer]) -> None:
    """sqrt/ln/exp/log/power of numeric are PostgreSQL's arbitrary-precision values: refused
    (0A000) on DuckDB rather than DuckDB's DOUBLE digits; of float8 they run."""
    _, server = servers
    for sql in ("select sqrt(abs(a)) from nums.t", "select power(a, 2) from nums.t", "select ln(2.5)"):
        outcome = _run(server.dsn(), sql, 0)
        assert outcome[:2] == ("error", "0A000") and "arbitrary precision" in str(outcome[2]), outcome
    assert _run(server.dsn(), "select sqrt(abs(a)::float8) from nums.t order by id", 0)[0] == [(701, -1)]
