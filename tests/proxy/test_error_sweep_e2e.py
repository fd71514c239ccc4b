"""A sweep of a few hundred bad statements (syntax errors, unknown tables, columns and functions,
wrong argument types, bad casts and values, writes) run through `veil serve` on the test
warehouse and on a real PostgreSQL 15 holding the same tables and rows in a read-only
transaction: wherever PostgreSQL refuses a statement, Veil must refuse it with PostgreSQL's
SQLSTATE, and no message Veil sends may name or quote an engine (DuckDB, sqlglot, ...)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import VeilServer, scratch_database
from tests.security.test_engine_messages import SIGNATURES as LEAK_SIGNATURES

# DuckDB's own wordings, besides the signatures the leak hunt looks for.
SIGNATURES = (*LEAK_SIGNATURES, "macro", "format specifier", "term out of range", "extract specifier",
              "explicit cast is required", "cannot combine types", "binder", "implicit cast")

SCHEMA = """
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int8, customer text, amount numeric(12,2), created timestamp, tags text[]);
INSERT INTO sales.orders VALUES (1, 'Ada', 12.50, '2024-01-02 03:04:05.123456', '{new,vip}'),
    (2, 'Grace', 100.00, '2024-02-03 04:05:06', '{}'), (3, 'Linus', NULL, NULL, NULL),
    (4, 'Zoë ünïcode', -7.25, '1999-12-31 23:59:59', '{"a,b","quote\\"d"}');
CREATE TABLE sales.customers AS SELECT i::int8 AS id, 'customer ' || i AS name,
    (ARRAY['US','CA','DE'])[1 + i % 3] AS country FROM generate_series(1, 100) i;
"""

SYNTAX = [
    "SELEC 1", "SELECT", "SELECT * FROM", "SELECT * FROM orders WHERE", "SELECT id FROM orders ORDER",
    "SELECT id FROM orders GROUP", "SELECT (1", "SELECT 1)", "SELECT 'x", "SELECT \"x", "SELECT 1 +",
    "SELECT id,, customer FROM orders", "SELECT id FROM orders LIMIT", "SELECT id FROM orders WHERE id = = 1",
    "SELECT * FROM orders o JOIN customers c", "SELECT * FROM orders JOIN ON true", "SELECT CASE WHEN 1 THEN 2",
    "SELECT id FROM orders UNION", "WITH x AS SELECT 1 SELECT * FROM x", "SELECT id FROM orders HAVING",
    "SELECT id FROM (SELECT id FROM orders", "SELECT ARRAY[1, 2", "SELECT 1::", "SELECT cast(1 as)",
    "SELECT id FROM orders WHERE id IN ()", "SELECT id FROM orders WHERE id BETWEEN 1", "SELECT * FROM orders,",
    "SELECT DISTINCT ON id FROM orders", "SELECT id FROM orders ORDER BY id LIMIT 1 OFFSET", "SELECT $$x",
    "SELECT /* open", "SELECT 1 FROM orders WHERE NOT", "FROM orders SELECT id", "SELECT id orders FROM orders x y",
    "SELECT count(*) OVER (PARTITION id) FROM orders", "SELECT 1 2", "SELECT id FROM orders WHERE id >",
    "SELECT EXTRACT(FROM created) FROM orders", "SELECT * FROM orders WHERE id IN (SELECT)", "VALUES",
    "VALUES (1,", "TABLE", "SELECT id FROM orders FETCH FIRST ROWS", "SELECT 1 UNION ALL ORDER BY 1",
]
UNKNOWN_RELATIONS = [f"SELECT * FROM {name}" for name in (
    "nosuch", "sales.nosuch", "nosuch.orders", "public.orders", "orderz", "\"Orders\"", "sales.\"ORDERS\"",
    "pg_catalog.nosuch", "information_schema.nosuch")] + [
    "SELECT o.id FROM orders o JOIN nosuch n ON true", "SELECT id FROM orders WHERE id IN (SELECT id FROM nosuch)",
    "WITH x AS (SELECT * FROM nosuch) SELECT * FROM x", "SELECT * FROM orders, lateral (SELECT * FROM nosuch) s",
    "SELECT (SELECT count(*) FROM nosuch)", "SELECT * FROM nosuch.nosuch.nosuch",
]
COLUMNS = ["nosuch", "o.nosuch", "orders.nosuch", "x.id", "\"ID\"", "customer_name", "sales.orders.nosuch"]
COLUMN_CONTEXTS = [
    "SELECT {c} FROM orders o", "SELECT id FROM orders o WHERE {c} = 1", "SELECT id FROM orders o ORDER BY {c}",
    "SELECT count(*) FROM orders o GROUP BY {c}", "SELECT sum({c}) FROM orders o",
    "SELECT id FROM orders o WHERE id IN (SELECT {c} FROM orders o)",
    "SELECT o.id FROM orders o JOIN customers c ON {c} = c.id", "SELECT CASE WHEN {c} > 0 THEN 1 END FROM orders o",
]
FUNCTIONS = [
    "nosuch(id)", "nosuch()", "upper(id, id)", "lower()", "length(id)", "substr(id)", "abs(customer)",
    "round(customer)", "date_trunc(id, created)", "to_char(id)", "sqrt(customer)", "sum(customer)",
    "avg(customer)", "array_length(id, 1)", "coalesce(id, customer)", "greatest(id, customer)",
    "pg_catalog.nosuch(id)", "sales.nosuch(id)", "left(id, 2)", "position(id in customer)",
    "extract(nosuch from created)", "date_part('year', customer)", "now(1)", "md5(id)", "replace(id, 1, 2)",
    "split_part(customer, ',')", "string_agg(id, ',')", "max(max(id))", "count(*, id)", "ln(customer)",
]
TYPES = [
    "SELECT customer::int FROM orders", "SELECT 'abc'::int", "SELECT '1.5'::int", "SELECT 'x'::date",
    "SELECT '2024-13-01'::date", "SELECT '25:00'::time", "SELECT 'nope'::bool", "SELECT '{1,2'::int[]",
    "SELECT 'zz'::uuid", "SELECT '1 parsec'::interval", "SELECT 'x'::numeric", "SELECT '99999'::int2",
    "SELECT 2147483647::int4 + 1", "SELECT (-32768)::int2 * -1::int2", "SELECT 9223372036854775807 + 1",
    "SELECT 1 / 0", "SELECT 1.0 / 0", "SELECT 5 % 0", "SELECT id / 0 FROM orders", "SELECT sqrt(-1)",
    "SELECT ln(0)", "SELECT log(-1)", "SELECT customer + 1 FROM orders", "SELECT id || id + 'x' FROM orders",
    "SELECT created + 1 FROM orders", "SELECT tags + 1 FROM orders", "SELECT id = customer FROM orders",
    "SELECT * FROM orders WHERE id = 'abc'", "SELECT * FROM orders WHERE created = 'yesterday-ish'",
    "SELECT * FROM orders WHERE amount > 'lots'", "SELECT * FROM orders WHERE tags = 'x'",
    "SELECT * FROM orders WHERE customer", "SELECT * FROM orders WHERE id", "SELECT NOT customer FROM orders",
    "SELECT id FROM orders WHERE id IN ('a', 'b')", "SELECT tags[1] + 1 FROM orders", "SELECT customer[1] FROM orders",
    "SELECT ARRAY[1, 'x']", "SELECT CASE WHEN true THEN 1 ELSE 'x' END", "SELECT 1 UNION SELECT 'x'",
    "SELECT id FROM orders UNION SELECT customer FROM orders", "SELECT id, customer FROM orders UNION SELECT id FROM orders",
    "SELECT repeat('x', -1)::int", "SELECT chr(-1)", "SELECT to_date('x', 'YYYY')", "SELECT 'x'::regclass",
    "SELECT 'nosuch'::regtype", "SELECT 1::int4 << 'x'", "SELECT 10::numeric(2,1)", "SELECT '2024-02-30'::date",
    "SELECT interval '1 day' * 'x'", "SELECT 1 BETWEEN 'a' AND 2", "SELECT id FROM orders LIMIT 'x'",
    "SELECT id FROM orders LIMIT -1", "SELECT id FROM orders OFFSET -1", "SELECT id FROM orders LIMIT -1 OFFSET -1", "SELECT generate_series(1, 10, 0)",
]
GROUPING = [
    "SELECT id, count(*) FROM orders", "SELECT customer FROM orders GROUP BY id", "SELECT id FROM orders WHERE count(*) > 1",
    "SELECT id FROM orders ORDER BY 9", "SELECT id FROM orders GROUP BY 9", "SELECT sum(count(*)) FROM orders",
    "SELECT id FROM orders o, orders o", "SELECT id FROM orders, customers", "SELECT (SELECT id FROM orders)",
    "SELECT * FROM (SELECT 1) s, (SELECT 2) s", "SELECT row_number() FROM orders", "SELECT rank() OVER (ORDER BY id) FROM orders GROUP BY 1 HAVING rank() OVER () > 1",
    "WITH RECURSIVE t AS (SELECT * FROM t) SELECT * FROM t", "SELECT DISTINCT id FROM orders ORDER BY customer",
    "SELECT id FROM orders WHERE id = (SELECT id FROM orders)", "SELECT EXISTS (SELECT 1, 2) = 1",
    "SELECT * FROM orders NATURAL JOIN customers USING (id)", "SELECT * FROM orders JOIN customers USING (nosuch)",
    "SELECT count(DISTINCT *) FROM orders", "SELECT id FROM orders FOR UPDATE",
]
WRITES = [
    "INSERT INTO orders VALUES (5)", "INSERT INTO orders SELECT * FROM orders", "UPDATE orders SET id = 1",
    "DELETE FROM orders", "TRUNCATE orders", "CREATE TABLE t (a int)", "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1", "DROP TABLE orders", "ALTER TABLE orders ADD COLUMN x int",
    "CREATE INDEX ON orders (id)", "CREATE SCHEMA s", "GRANT SELECT ON orders TO PUBLIC", "SELECT * INTO t FROM orders",
    "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "COPY orders FROM STDIN", "CREATE SEQUENCE s",
    "COMMENT ON TABLE orders IS 'x'", "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
    "DROP SCHEMA sales CASCADE", "UPDATE orders SET customer = 'x' WHERE id = 1 RETURNING *",
    "INSERT INTO orders (id) VALUES (1) ON CONFLICT DO NOTHING", "MERGE INTO orders o USING customers c ON o.id = c.id WHEN MATCHED THEN DELETE",
    "CREATE TEMP TABLE t (a int)", "CREATE MATERIALIZED VIEW m AS SELECT 1", "REFRESH MATERIALIZED VIEW m",
    "ALTER TABLE orders RENAME TO o2", "DROP VIEW nosuch", "CREATE TYPE mood AS ENUM ('a')", "REINDEX TABLE orders",
]

# Where Veil still answers differently from PostgreSQL (each must still differ: a fixed one is
# taken off the list). Known gaps, by cause:
KNOWN_DIFFERENCES = frozenset({
    # int2 arithmetic on constants with a negated cast (found at the last integration, open):
    # PostgreSQL overflows smallint (22003), Veil answers.
    "SELECT (-32768)::int2 * -1::int2",
    # No PostgreSQL type check before DuckDB runs the statement: a mismatch is found at run time
    # (22P02 on a value) or DuckDB casts implicitly where PostgreSQL refuses (42883/42804).
    'SELECT id = customer FROM orders',
    'SELECT customer[1] FROM orders',
    "SELECT CASE WHEN true THEN 1 ELSE 'x' END",
    "SELECT 1 UNION SELECT 'x'",
    'SELECT id FROM orders UNION SELECT customer FROM orders',
    "SELECT interval '1 day' * 'x'",
    'SELECT EXISTS (SELECT 1, 2) = 1',
    # DuckDB matches identifiers case-insensitively even when quoted: "ID" finds column id (42703).
    'SELECT "ID" FROM orders o',
    'SELECT id FROM orders o WHERE "ID" = 1',
    'SELECT id FROM orders o ORDER BY "ID"',
    'SELECT count(*) FROM orders o GROUP BY "ID"',
    'SELECT sum("ID") FROM orders o',
    'SELECT id FROM orders o WHERE id IN (SELECT "ID" FROM orders o)',
    'SELECT o.id FROM orders o JOIN customers c ON "ID" = c.id',
    'SELECT CASE WHEN "ID" > 0 THEN 1 END FROM orders o',
    # Calls PostgreSQL has no overload for but DuckDB accepts, or checks in another order.
    'SELECT date_trunc(id, created) FROM orders',
    'SELECT now(1) FROM orders',
    "SELECT string_agg(id, ',') FROM orders",
    'SELECT id FROM orders WHERE date_trunc(id, created) IS NOT NULL',
    'SELECT id FROM orders WHERE sum(customer) IS NOT NULL',
    'SELECT id FROM orders WHERE avg(customer) IS NOT NULL',
    'SELECT id FROM orders WHERE now(1) IS NOT NULL',
    "SELECT id FROM orders WHERE string_agg(id, ',') IS NOT NULL",
    'SELECT id FROM orders ORDER BY date_trunc(id, created)',
    'SELECT id FROM orders ORDER BY now(1)',
    "SELECT id FROM orders ORDER BY string_agg(id, ',')",
    # Other checks made by DuckDB, in its order or with its SQLSTATE.
    "SELECT '1 parsec'::interval",
    'SELECT generate_series(1, 10, 0)',
    'SELECT id FROM orders o, orders o',
    'SELECT * FROM (SELECT 1) s, (SELECT 2) s',
    'SELECT row_number() FROM orders',
    'SELECT DISTINCT id FROM orders ORDER BY customer',
})


def corpus() -> list[str]:
    statements = [*SYNTAX, *UNKNOWN_RELATIONS, *TYPES, *GROUPING, *WRITES]
    statements += [template.format(c=column) for template, column in itertools.product(COLUMN_CONTEXTS, COLUMNS)]
    statements += [f"SELECT {call} FROM orders" for call in FUNCTIONS]
    statements += [f"SELECT id FROM orders WHERE {call} IS NOT NULL" for call in FUNCTIONS]
    statements += [f"SELECT id FROM orders ORDER BY {call}" for call in FUNCTIONS]
    return statements


def _outcome(conn: psycopg.Connection, sql: str) -> tuple[str, str]:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)  # type: ignore[arg-type]
            if cur.description:
                cur.fetchall()
        return "00000", ""
    except psycopg.Error as error:
        return error.sqlstate or "", str(error.diag.message_primary or "") + " " + str(error.diag.message_hint or "")


@pytest.fixture(scope="module")
def postgres(postgres_dsn: str) -> Iterator[psycopg.Connection]:
    dsn = scratch_database(postgres_dsn, "veil_error_sweep")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
    with psycopg.connect(dsn, autocommit=True, options="-c search_path=sales -c default_transaction_read_only=on") as conn:
        yield conn


@pytest.fixture(scope="module")
def veil(veil_server: VeilServer) -> Iterator[psycopg.Connection]:
    with psycopg.connect(veil_server.dsn("root"), autocommit=True) as conn:
        yield conn


def test_corpus_is_a_few_hundred_statements() -> None:
    assert len(corpus()) >= 300 and len(set(corpus())) == len(corpus())


def test_bad_statements_fail_with_postgres_sqlstate_and_no_engine_words(
    veil: psycopg.Connection, postgres: psycopg.Connection
) -> None:
    wrong_state: list[str] = []
    engine_words: list[str] = []
    refused = 0
    for sql in corpus():
        expected = _outcome(postgres, sql)
        got = _outcome(veil, sql)
        signature = next((s for s in SIGNATURES if s in got[1].lower()), None)
        if signature is not None or got[0] == "XX000":
            engine_words.append(f"{sql}\n    veil: {got}")
        if expected[0] == "00000":
            continue
        refused += 1
        if (got[0] != expected[0]) != (sql in KNOWN_DIFFERENCES):
            wrong_state.append(f"{sql}\n    veil: {got}\n    postgres: {expected}\n    known: {sql in KNOWN_DIFFERENCES}")
    assert refused >= 250 and set(corpus()) >= KNOWN_DIFFERENCES
    assert not engine_words, f"{len(engine_words)} messages name an engine:\n" + "\n".join(engine_words)
    assert not wrong_state, f"{len(wrong_state)} of {refused} differ:\n" + "\n".join(wrong_state)


@pytest.mark.parametrize("sql", [
    "SELECT id FROM orders WHERE id > 1 AND customer IS NOT NULL", "SELECT id FROM orders WHERE NOT (id > 1)",
    "SELECT o.id FROM orders o JOIN customers c ON o.id = c.id WHERE c.country <> 'XX'",
    "SELECT CASE WHEN id > 2 THEN 'big' END FROM orders", "SELECT id FROM orders WHERE 'true'",
    "SELECT CASE id WHEN 1 THEN 'one' WHEN 2 THEN 'two' END FROM orders",
    "SELECT count(*) FROM orders GROUP BY customer HAVING count(*) > 0", "SELECT relname FROM pg_class WHERE NOT relhasindex LIMIT 1",
])
def test_boolean_conditions_still_run(veil: psycopg.Connection, postgres: psycopg.Connection, sql: str) -> None:
    """The boolean-argument check refuses nothing PostgreSQL runs."""
    assert _outcome(postgres, sql)[0] == "00000"
    assert _outcome(veil, sql)[0] == "00000"
