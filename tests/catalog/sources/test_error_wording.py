"""DuckDB and PostgreSQL-driver errors reach the client in PostgreSQL's SQLSTATE and words.

Each DuckDB statement fails for real in an in-memory DuckDB configured as Veil configures its
engines; the expected SQLSTATE and message are what PostgreSQL 15 answers for the same statement
over a table of the same shape (checked against a real server in
tests/security/test_engine_messages.py). Driver errors come from ADBC against a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_pg
import duckdb
import pytest

from veil.catalog.sources.duckdb.error_map import (
    OPERATOR_HINT,
    pg_type,
    translate_duckdb_error,
)
from veil.catalog.sources.postgres.error_map import map_postgres_error
from veil.errors import FUNCTION_HINT, VeilError

LEDGER = "CREATE TABLE ledger (entry_id BIGINT, memo VARCHAR, amount DECIMAL(10, 2), d DATE)"

# statement, SQLSTATE, message, hint: as PostgreSQL words it (VARCHAR columns print as text)
DUCKDB_CASES = [
    ("SELECT nosuch(entry_id) FROM ledger", "42883", "function nosuch does not exist", FUNCTION_HINT),
    ("SELECT upper(1, 2)", "42883", "function upper(integer, integer) does not exist", FUNCTION_HINT),
    ("SELECT memo - true FROM ledger", "42883", "operator does not exist: text - boolean", OPERATOR_HINT),
    ("SELECT * FROM nosuch", "42P01", 'relation "nosuch" does not exist', None),
    ("SELECT * FROM nosuchschema.t", "42P01", 'relation "nosuchschema.t" does not exist', None),
    ("SELECT nosuch FROM ledger", "42703", 'column "nosuch" does not exist', None),
    ("SELECT ledger.nosuch FROM ledger", "42703", "column ledger.nosuch does not exist", None),
    ("SELECT * FROM (VALUES (1)) v(x) WHERE v.y = 1", "42703", "column v.y does not exist", None),
    ("SELECT x.entry_id FROM ledger", "42P01", 'missing FROM-clause entry for table "x"', None),
    ("SELECT entry_id FROM ledger, ledger l2", "42702", 'column reference "entry_id" is ambiguous', None),
    ("SELECT memo::int FROM ledger", "22P02", 'invalid input syntax for type integer: "zz"', None),
    ("SELECT 'abc'::date", "22007", 'invalid input syntax for type date: "abc"', None),
    ("SELECT 'abc'::boolean", "22P02", 'invalid input syntax for type boolean: "abc"', None),
    ("SELECT 'abc'::numeric", "22P02", 'invalid input syntax for type numeric: "abc"', None),
    ("SELECT 'abc'::float8", "22P02", 'invalid input syntax for type double precision: "abc"', None),
    ("SELECT 'x'::uuid", "22P02", 'invalid input syntax for type uuid: "x"', None),
    ("SELECT 'abc'::interval", "22007", 'invalid input syntax for type interval: "abc"', None),
    ("SELECT '2024-13-01'::date", "22008", 'date/time field value out of range: "2024-13-01"', None),
    ("SELECT 3000000000::int", "22003", "integer out of range", None),
    ("SELECT 2147483647::int + 1", "22003", "integer out of range", None),
    ("SELECT 9223372036854775807::bigint * 2", "22003", "bigint out of range", None),
    ("SELECT 12345678901::numeric(5,2)", "22003", "numeric field overflow", None),
    # a value of a column that does not fit the cast's type (DuckDB: a conversion error)
    ("SELECT (amount * 1000)::numeric(3,1) FROM ledger", "22003", "numeric field overflow", None),
    ("SELECT (amount * 100000)::smallint FROM ledger", "22003", "smallint out of range", None),
    ("SELECT entry_id::date FROM ledger", "42846", "cannot cast type bigint to date", None),
    ("SELECT coalesce(memo, 1) FROM ledger", "42804", "COALESCE types text and integer cannot be matched", None),
    ("SELECT entry_id FROM ledger GROUP BY memo", "42803",
     'column "entry_id" must appear in the GROUP BY clause or be used in an aggregate function', None),
    ("SELECT max(max(entry_id)) FROM ledger", "42803", "aggregate function calls cannot be nested", None),
    ("SELECT entry_id FROM ledger WHERE sum(entry_id) > 1", "42803", "aggregate functions are not allowed in WHERE", None),
    ("SELECT sqrt(-1.0)", "2201F", "cannot take square root of a negative number", None),
    ("SELECT ln(0.0)", "2201E", "cannot take logarithm of zero", None),
    ("SELECT 1 LIMIT -1", "2201W", "LIMIT must not be negative", None),
    ("SELECT (SELECT entry_id FROM ledger UNION ALL SELECT 2)", "21000",
     "more than one row returned by a subquery used as an expression", None),
    ("WITH t AS (SELECT * FROM t) SELECT * FROM t", "42P01", 'relation "t" does not exist',
     "Use WITH RECURSIVE, or re-order the WITH items to remove forward references."),
    ("SELEC 1", "42601", 'syntax error at or near "SELEC"', None),
    # division by zero raises for every numeric type, as in PostgreSQL (DuckDB's default is inf)
    ("SELECT 1 / (entry_id - entry_id) FROM ledger", "22012", "division by zero", None),
    ("SELECT 1.5 / 0", "22012", "division by zero", None),
    ("SELECT amount / (entry_id - entry_id) FROM ledger", "22012", "division by zero", None),
    ("SELECT 1::float8 / (entry_id - entry_id) FROM ledger", "22012", "division by zero", None),
    ("SELECT entry_id % 0 FROM ledger", "22012", "division by zero", None),
    # overflow and out-of-range values, each in PostgreSQL's words for its type
    ("SELECT CAST(amount * 1000 AS numeric(4,1)) FROM ledger", "22003", "numeric field overflow", None),
    ("SELECT CAST(amount * 100000 AS smallint) FROM ledger", "22003", "smallint out of range", None),
    ("SELECT abs(CAST(-32768 AS smallint))", "22003", "smallint out of range", None),
    ("SELECT '99999'::smallint", "22003", 'value "99999" is out of range for type smallint', None),
    ("SELECT 1e40::real", "22003", "value out of range: overflow", None),
    ("SELECT make_date(2024, 13, 1)", "22008", "date field value out of range: 2024-13-01", None),
    ("SELECT to_timestamp(1e20)", "22008", "timestamp out of range", None),
    ("SELECT memo::timestamp FROM ledger", "22007", 'invalid input syntax for type timestamp: "zz"', None),
    ("SELECT memo::json FROM ledger", "22P02", "invalid input syntax for type json", None),
    ("SELECT memo ~ '(' FROM ledger", "2201B", "invalid regular expression: parentheses () not balanced", None),
    ("SELECT memo ~ '[' FROM ledger", "2201B", "invalid regular expression: brackets [] not balanced", None),
    ("SELECT memo ~ 'a{2,1}' FROM ledger", "2201B", "invalid regular expression: invalid repetition count(s)", None),
    ("SELECT chr(-1)", "22023", "character number must be positive", None),
    ("SELECT date_part('foo', d) FROM ledger", "22023", 'unit "foo" not recognized', None),
    ("SELECT date_part('dow', INTERVAL 1 DAY)", "0A000", 'unit "dow" not supported for type interval', None),
    ("SELECT power(0.0, -1)", "2201F", "zero raised to a negative power is undefined", None),
]


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    from veil.executor.federated import LOCAL_CONFIG

    connection = duckdb.connect(config=dict(LOCAL_CONFIG))
    connection.execute(LEDGER)
    connection.execute("INSERT INTO ledger VALUES (1, 'zz', 1.50, DATE '2024-01-01')")
    yield connection
    connection.close()


@pytest.mark.parametrize(("sql", "sqlstate", "message", "hint"), DUCKDB_CASES, ids=[c[0] for c in DUCKDB_CASES])
def test_duckdb_error_in_postgres_words(duck: duckdb.DuckDBPyConnection, sql: str, sqlstate: str, message: str, hint: str | None) -> None:
    with pytest.raises(duckdb.Error) as raised:
        duck.execute(sql).fetchall()
    error = translate_duckdb_error(raised.value)
    assert (error.sqlstate, error.message, error.hint) == (sqlstate, message, hint)
    assert " Error: " not in error.message and "!" not in error.message


def test_an_unmatched_duckdb_message_loses_its_prefix(duck: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error) as raised:
        duck.execute("SELECT 1, 2 UNION SELECT 1").fetchall()
    error = translate_duckdb_error(raised.value)
    assert error.sqlstate == "42601" and not error.message.startswith("Binder Error")


def test_an_unmatched_duckdb_message_speaks_postgres_type_names() -> None:
    """Whatever no rule words: the SQLSTATE of its kind, no DuckDB type name, no DuckDB advice."""
    error = translate_duckdb_error(duckdb.ConversionException(
        "Conversion Error: Cannot frobnicate INT32 into DECIMAL(5,1) when casting from source column memo"))
    assert (error.sqlstate, error.message) == ("22P02", "Cannot frobnicate integer into numeric")
    error = translate_duckdb_error(duckdb.ConversionException("Conversion Error: UBIGINT value out of range"))
    assert (error.sqlstate, error.message) == ("22003", "numeric value out of range")


def test_duckdb_type_names_as_postgres_prints_them() -> None:
    assert [pg_type(t) for t in ("INT32", "VARCHAR[]", "DECIMAL(5,2)", "TIMESTAMP WITH TIME ZONE", "STRING_LITERAL")] == [
        "integer", "text[]", "numeric", "timestamp with time zone", "unknown"]


POSTGRES_CASES = [
    ("SELECT 1 / (x - x) FROM (VALUES (1)) t(x)", "22012", "division by zero", None),
    ("SELECT 'abc'::int FROM (VALUES (1)) t(x) WHERE x = 1", "22P02", 'invalid input syntax for type integer: "abc"', None),
    ("SELECT foo(1)", "42883", "function foo(integer) does not exist", FUNCTION_HINT),
    ("SELECT * FROM nosuch", "42P01", 'relation "nosuch" does not exist', None),
    ("SELECT 1 +", "42601", "syntax error at end of input", None),
    # a hint quoting a name (here a column the user may not be allowed to see) is dropped
    ("SELECT t.y FROM (VALUES (1)) t(x), (VALUES (2)) u(y) WHERE false", "42703", None, None),
]


@pytest.mark.parametrize(("sql", "sqlstate", "message", "hint"), POSTGRES_CASES, ids=[c[0] for c in POSTGRES_CASES])
def test_adbc_error_carries_the_servers_sqlstate_and_words(postgres_dsn: str, sql: str, sqlstate: str, message: str | None, hint: str | None) -> None:
    with (adbc_pg.connect(postgres_dsn, autocommit=True) as connection, connection.cursor() as cursor,
          pytest.raises(adbc_driver_manager.Error) as raised):
        cursor.execute(sql)
        cursor.fetchall()
    error = map_postgres_error(raised.value)
    assert isinstance(error, VeilError)
    assert error.sqlstate == sqlstate
    if message is not None:
        assert error.message == message
    assert error.hint == hint
    for signature in ("[libpq]", "PGRES_", "ERROR:", "Query was", "SQLSTATE", "INVALID_DATA", "NOT_FOUND"):
        assert signature not in error.message


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message"),
    [
        ("SELECT 1 / (x - 100000) FROM generate_series(1, 200000) t(x)", "22012", "division by zero"),
        ("SELECT (CASE WHEN x < 100000 THEN '1' ELSE 'abc' END)::int FROM generate_series(1, 200000) t(x)",
         "22P02", 'invalid input syntax for type integer: "abc"'),
        ("SELECT (x * 100000)::int FROM generate_series(1, 200000) t(x)", "22003", "integer out of range"),
        ("SELECT sqrt(100000.0 - x) FROM generate_series(1, 200000) t(x)", "2201F", "cannot take square root of a negative number"),
    ],
)
def test_an_error_while_streaming_gets_the_servers_sqlstate(postgres_dsn: str, sql: str, sqlstate: str, message: str) -> None:
    """Failing after the first rows, the statement fails inside ADBC's stream, which raises an
    OSError without the SQLSTATE: the server's wording names it."""
    with adbc_pg.connect(postgres_dsn, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        with pytest.raises(OSError) as raised:
            cursor.fetch_record_batch().read_all()
    assert getattr(raised.value, "sqlstate", None) is None  # what the mapping has to make up for
    error = map_postgres_error(raised.value)
    assert (error.sqlstate, error.message) == (sqlstate, message)
