"""What PostgreSQL refuses and DuckDB accepts, before a statement runs on DuckDB; and interval
literals read whole (sqlglot kept one "number unit" pair of ``'-3 days 04:00:00'``). The e2e
comparison with PostgreSQL is tests/stress/test_error_parity.py."""

from __future__ import annotations

import pytest
import sqlglot

from veil.errors import VeilError
from veil.pgcatalog.domains import check_constant_casts, guard_domains
from veil.pgcatalog.exactcalls import exact_calls
from veil.pgcatalog.parse import parse_postgres
from veil.sql.pgsql import for_sqlglot


def _duckdb(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="postgres")
    exact_calls(tree, lambda _: None)  # substring (veil.pgcatalog.exactcalls), as the planners run it first
    check_constant_casts(tree)
    guard_domains(tree)
    return tree.sql(dialect="duckdb")


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message"),
    [
        ("SELECT CAST('abc' AS numeric) FROM t WHERE FALSE", "22P02", 'invalid input syntax for type numeric: "abc"'),
        ("SELECT '1.5'::int", "22P02", 'invalid input syntax for type integer: "1.5"'),
        ("SELECT '99999'::int2", "22003", 'value "99999" is out of range for type smallint'),
        ("SELECT '1e400'::float8", "22003", '"1e400" is out of range for type double precision'),
        ("SELECT '1e-400'::float8", "22003", '"1e-400" is out of range for type double precision'),
        ("SELECT 'o'::boolean", "22P02", 'invalid input syntax for type boolean: "o"'),
        ("SELECT (1 + 2147483647) FROM t WHERE FALSE", "22003", "integer out of range"),
        ("SELECT ((2 * (1073741824)))", "22003", "integer out of range"),
        ("SELECT 9223372036854775807 + 1", "22003", "bigint out of range"),
        ("SELECT 1 / 0 FROM t", "22012", "division by zero"),
        ("SELECT make_date(1, 11, 31) FROM t WHERE FALSE", "22008", "date field value out of range: 1-11-31"),
        ("SELECT 1 FROM t WHERE FALSE GROUP BY substr('abc', 1, -1)", "22011", "negative substring length not allowed"),
        ("SELECT split_part('a,b', ',', 0)", "22023", "field position must not be zero"),
    ],
)
def test_a_bad_constant_fails_when_planning(sql: str, sqlstate: str, message: str) -> None:
    with pytest.raises(VeilError) as raised:
        _duckdb(sql)
    assert (raised.value.sqlstate, raised.value.message) == (sqlstate, message)


def test_good_constants_pass_and_booleans_are_folded() -> None:
    assert _duckdb("SELECT ' 12 '::int, '-Infinity'::float8, 'NaN'::numeric, '1e-320'::float8") == (
        "SELECT CAST(' 12 ' AS INT), CAST('-Infinity' AS DOUBLE), CAST('NaN' AS DECIMAL), CAST('1e-320' AS DOUBLE)"
    )
    assert _duckdb("SELECT 'off'::boolean, 'Ye'::boolean") == "SELECT FALSE, TRUE"


def test_what_postgres_folds_without_error_passes() -> None:
    """A branch PostgreSQL may drop is not folded; wider types hold what int4 cannot."""
    for sql in (
        "SELECT CASE WHEN x THEN 1 / 0 END FROM t",
        "SELECT 2147483647 + 1::bigint, 2147483648 * 2",
        "SELECT 7 / -2, -7 % 3, x + 2147483647 FROM t",
        "SELECT make_date(2024, 2, 29), make_date(-5, 2, 30)",
    ):
        assert _duckdb(sql)


def test_domain_errors_are_raised_per_row_by_duckdb() -> None:
    assert _duckdb("SELECT substr(x, 2, n) FROM t").startswith(
        "SELECT CASE WHEN n < 0 AND NOT x IS NULL AND NOT 2 IS NULL AND NOT n IS NULL "
        "THEN ERROR('[22011] negative substring length not allowed') ELSE SUBSTRING(x, "
    )
    assert "ERROR('[22023] field position must not be zero')" in _duckdb("SELECT split_part(x, ',', 0) FROM t")
    assert _duckdb("SELECT substr(x, 2, 3), split_part(x, ',', 2) FROM t") == (
        "SELECT SUBSTRING(x, 2, 3), SPLIT_PART(x, ',', 2) FROM t"
    )


def test_an_aggregates_constant_ordering_is_dropped() -> None:
    assert _duckdb("SELECT string_agg('a', ',' ORDER BY 'a') FROM t") == "SELECT LISTAGG('a', ',') FROM t"
    assert _duckdb("SELECT string_agg(x, ',' ORDER BY NULL, x DESC) FROM t") == (
        "SELECT LISTAGG(x, ',' ORDER BY x DESC NULLS FIRST) FROM t"
    )


def test_an_interval_literal_is_read_whole() -> None:
    assert for_sqlglot("SELECT INTERVAL '-3 days 04:00:00', INTERVAL '2 hours'") == (
        "SELECT CAST('-3 days 04:00:00' AS INTERVAL), INTERVAL '2 hours'"
    )
    [tree] = parse_postgres(for_sqlglot("SELECT ts - INTERVAL '1 day -02:00:00' FROM t"))
    assert tree.sql(dialect="duckdb") == "SELECT ts - CAST('1 day -02:00:00' AS INTERVAL) FROM t"
