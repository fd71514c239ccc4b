"""Result shapes as PostgreSQL gives them, compared with a real PostgreSQL holding the same table:
duplicate column names are kept (two columns named ``country``, never ``country_1``) and numeric
literals keep the scale they were written with (``'3.14'::numeric`` is 3.14, not 3.140)."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import VeilServer, scratch_database

QUERIES = [
    "SELECT country, country FROM sales.customers ORDER BY id LIMIT 2",
    "SELECT c.country, c.name AS country, count(*), count(*) FROM sales.customers c GROUP BY 1, 2 ORDER BY 2 LIMIT 2",
    "SELECT id, id + 1, id + 2 FROM sales.customers ORDER BY id LIMIT 1",
    "SELECT country_1 FROM (SELECT country AS country_1 FROM sales.customers) s ORDER BY 1 LIMIT 1",
    "SELECT '3.14'::numeric, '-0.50'::numeric AS n, '1e5'::numeric, id FROM sales.customers ORDER BY id LIMIT 1",
    "SELECT '3.14'::numeric, '-0.50'::numeric AS n, '1e5'::numeric, 1.50",
    # AT TIME ZONE is PostgreSQL's timezone(); a typed interval literal is named after its type
    "SELECT TIMESTAMP '2000-01-01 00:00:00' AT TIME ZONE 'UTC', INTERVAL '2 hours', id FROM sales.customers ORDER BY id LIMIT 1",
    "SELECT TIMESTAMPTZ '2000-01-01 00:00:00+00' AT TIME ZONE 'UTC', INTERVAL '1 day'",
    # an interval literal of several quantities keeps all of them (sqlglot kept the first: -3 days)
    "SELECT INTERVAL '2 hours' + INTERVAL '-3 days 04:00:00', TIMESTAMP '2000-01-01' - INTERVAL '1 day 02:00' AS t,"
    " id FROM sales.customers ORDER BY id LIMIT 1",
    "SELECT INTERVAL '-3 days 04:00:00', INTERVAL '1 year 2 mons 3 days 04:05:06.5'",
    # CASE is a weak name: a cast of it is named after the type
    "SELECT CAST(CASE WHEN id > 1 THEN 'x' END AS text), CAST(CASE WHEN id > 1 THEN 1 END AS bigint), id FROM sales.customers"
    " ORDER BY id LIMIT 1",
]


@pytest.fixture(scope="module")
def postgres(postgres_dsn: str) -> psycopg.Connection:
    dsn = scratch_database(postgres_dsn, "veil_output_names")
    connection = psycopg.connect(dsn, autocommit=True)
    connection.execute("CREATE SCHEMA sales")
    connection.execute(
        "CREATE TABLE sales.customers AS SELECT i::bigint AS id, 'customer ' || i AS name, "
        "(ARRAY['US','CA','DE'])[1 + i % 3] AS country FROM generate_series(1, 100) i"
    )
    return connection


@pytest.mark.parametrize("sql", QUERIES)
def test_names_and_rows_match_postgres(veil_server: VeilServer, postgres: psycopg.Connection, sql: str) -> None:
    expected = postgres.execute(sql)
    with psycopg.connect(veil_server.dsn()) as conn:
        actual = conn.execute(sql)
        assert [d.name for d in actual.description] == [d.name for d in expected.description]
        assert [d.type_code for d in actual.description] == [d.type_code for d in expected.description]
        assert [[str(v) for v in row] for row in actual.fetchall()] == [[str(v) for v in row] for row in expected.fetchall()]
