"""Undeclared parameters are typed as PostgreSQL types them: every statement of the corpus is
Parsed without parameter types and Described (raw libpq calls), on a real PostgreSQL 15 holding
tables of the same shape as the test warehouse and through Veil on a DuckDB source and on a
PostgreSQL source; ParameterDescription's OIDs must be PostgreSQL's, and where PostgreSQL refuses
to choose a type, Veil must refuse with the same SQLSTATE. Covers comparison, IN, ANY/ALL,
BETWEEN, LIMIT/OFFSET, function arguments, operators, VALUES, CASE, UNION, casts and
the catalog's own columns.

Where Veil is knowingly more lenient than PostgreSQL it is left out: ``$1 IS NULL`` and
``id = ANY(ARRAY[$1, $2])`` (PostgreSQL: 42P18 / 42883; Veil types them text), and
``$1::regclass`` (described as text on purpose: clients send a name, see
``veil.pgcatalog.infer.Typer._parameter``)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.pq import DiagnosticField, ExecStatus

from tests.conftest import PASSWORDS, VeilServer, postgres_connection, scratch_database, start_server, stop_server
from veil.proxy.auth import make_scram_verifier

SCHEMA = """
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int8, customer text, amount numeric(12,2), created timestamp, tags text[]);
CREATE TABLE sales.customers (id int8, name text, country text);
CREATE TABLE sales.all_types (b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(18,4),
    t text, bt bytea, d date, tm time, ts timestamp, tstz timestamptz, iv interval, u uuid, j json,
    ai int4[], atx text[]);
"""

CORPUS = [
    "SELECT id FROM sales.customers WHERE id = $1",
    "SELECT id FROM sales.customers WHERE $1 = id",
    "SELECT id FROM sales.customers WHERE id IN ($1, $2)",
    "SELECT id FROM sales.customers WHERE name NOT IN ($1,$2,$3)",
    "SELECT id FROM sales.customers WHERE id = ANY($1)",
    "SELECT id FROM sales.customers WHERE name <> ALL($1)",
    "SELECT id FROM sales.customers WHERE id BETWEEN $1 AND $2",
    "SELECT id FROM sales.orders WHERE amount NOT BETWEEN $1 AND $2",
    "SELECT id FROM sales.customers ORDER BY id LIMIT $1 OFFSET $2",
    "SELECT id FROM sales.customers OFFSET $1 ROWS FETCH FIRST $2 ROWS ONLY",
    "SELECT $1||$2",
    "SELECT $1 || 'x', 'x' || $2",
    "SELECT coalesce($1,$2)",
    "SELECT coalesce(id, $1) FROM sales.customers",
    "SELECT nullif(name, $1) FROM sales.customers",
    "SELECT greatest(id, $1) FROM sales.customers",
    "SELECT $1::int[]",
    "SELECT $1::numeric(10,2), CAST($2 AS date)",
    "SELECT upper($1), length($2), substr($3, $4)",
    "SELECT round($1, 2)",
    "SELECT date_trunc($1, created), to_char(created, $2) FROM sales.orders",
    "SELECT date_trunc($1, created) FROM sales.orders",
    "SELECT generate_series(1, $1)",
    "SELECT lag(id, $1) OVER (ORDER BY id) FROM sales.customers",
    "SELECT sum(id) FILTER (WHERE id > $1) FROM sales.customers",
    "SELECT count(*) FROM sales.customers GROUP BY country HAVING count(*) > $1",
    "VALUES ($1, $2)",
    "VALUES ($1::int), ($2)",
    "SELECT id + $1 FROM sales.customers",
    "SELECT amount * $1 FROM sales.orders",
    "SELECT $1 + 1, 1.5 + $2",
    "SELECT id FROM sales.orders WHERE created > $1",
    "SELECT created + $1 FROM sales.orders",
    "SELECT d - $1 FROM sales.all_types",
    "SELECT id FROM sales.orders WHERE created::date = $1",
    "SELECT CASE WHEN id > $1 THEN $2 ELSE name END FROM sales.customers",
    "SELECT name LIKE $1, name ILIKE $2, name ~ $3 FROM sales.customers",
    "SELECT id FROM sales.orders WHERE tags @> $1",
    "SELECT $1 = ANY(tags) FROM sales.orders",
    "SELECT id FROM sales.customers WHERE (id, name) = ($1, $2)",
    "SELECT id FROM sales.customers WHERE id = $2 AND name = $1",
    "SELECT id FROM sales.customers WHERE id IN (SELECT id FROM sales.orders WHERE amount > $1)",
    "WITH x AS (SELECT id FROM sales.customers WHERE id > $1) SELECT id FROM x WHERE id < $2",
    "SELECT id FROM sales.customers UNION SELECT $1",
    "SELECT NOT $1, $2 AND true, CASE WHEN $3 THEN 1 END",
    "SELECT $1",
    "SELECT u FROM sales.all_types WHERE u = $1",
    "SELECT iv FROM sales.all_types WHERE iv > $1",
    "SELECT tm FROM sales.all_types WHERE tm < $1",
    "SELECT bt FROM sales.all_types WHERE bt = $1",
    "SELECT f4 FROM sales.all_types WHERE f4 > $1",
    "SELECT i2 FROM sales.all_types WHERE i2 = $1",
    "SELECT tstz FROM sales.all_types WHERE tstz >= $1",
    "SELECT j->>$1 FROM sales.all_types",
    "SELECT ai FROM sales.all_types WHERE $1 = ANY(ai)",
    "SELECT ai FROM sales.all_types WHERE ai = $1",
    "SELECT relname FROM pg_class WHERE oid = $1",
    "SELECT relname FROM pg_class WHERE relname = $1",
    "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)",
    "SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > $2",
    "SELECT $1 = $2",
    "SELECT abs($1)",
]

# Statements a DuckDB source knowingly refuses, with the SQLSTATE it must give: to_char's template
# is compiled into DuckDB expressions when the statement is planned (at Parse), so a template that
# is a parameter is refused (veil.pgcatalog.exactcalls); PostgreSQL types it text.
REFUSED_ON_DUCKDB = {"SELECT date_trunc($1, created), to_char(created, $2) FROM sales.orders": "0A000"}


def _describe(conn: psycopg.Connection, sql: str) -> tuple[str, ...]:
    """The parameter type OIDs PostgreSQL's Describe reports, or ("error", SQLSTATE)."""
    result = conn.pgconn.prepare(b"", sql.encode())
    if result.status != ExecStatus.COMMAND_OK:
        return ("error", (result.error_field(DiagnosticField.SQLSTATE) or b"").decode())
    described = conn.pgconn.describe_prepared(b"")
    return tuple(str(described.param_type(i)) for i in range(described.nparams))


@pytest.fixture(scope="module")
def postgres_db(postgres_dsn: str) -> str:
    dsn = scratch_database(postgres_dsn, "veil_param_inference")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return dsn


@pytest.fixture(scope="module")
def postgres(postgres_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def duckdb_source(veil_server: VeilServer) -> Iterator[psycopg.Connection]:
    with psycopg.connect(veil_server.dsn("alice"), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def postgres_source(postgres_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[psycopg.Connection]:
    config = {
        "server": {"host": "127.0.0.1", "port": 0},
        "connections": {"pg": postgres_connection(postgres_db, latency=0, population={"schemas": ["sales"]})},
        "users": {"alice": {"password": make_scram_verifier(PASSWORDS["alice"])}},
        "policies": [{"name": "All", "subscription": {"tables": ["*"], "allow": {"users": ["alice"]}}}],
    }
    process, server = start_server(tmp_path_factory.mktemp("veil_param_inference"), config)
    try:
        with psycopg.connect(server.dsn("alice"), autocommit=True) as conn:
            yield conn
    finally:
        stop_server(process)


@pytest.mark.parametrize("source", ["duckdb_source", "postgres_source"])
def test_parameter_description_is_postgres(
    request: pytest.FixtureRequest, postgres: psycopg.Connection, source: str
) -> None:
    veil: psycopg.Connection = request.getfixturevalue(source)
    mismatches = []
    for sql in CORPUS:
        expected, got = _describe(postgres, sql), _describe(veil, sql)
        if source == "duckdb_source" and sql in REFUSED_ON_DUCKDB:
            expected = ("error", REFUSED_ON_DUCKDB[sql])
        if got != expected:
            mismatches.append(f"{sql}\n    veil: {got}\n    postgres: {expected}")
    assert not mismatches, f"{len(mismatches)} of {len(CORPUS)} differ:\n" + "\n".join(mismatches)
