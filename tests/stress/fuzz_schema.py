"""The differential SQL fuzzer's data: a few typed tables with NULLs and edge values, loaded
identically into PostgreSQL (the oracle), a DuckDB source file and a PostgreSQL source database.

Every table exists twice by name: ``d.<table>`` (served by Veil from the DuckDB file) and
``p.<table>`` (served from the PostgreSQL source). The oracle database holds both schemas, so one
statement's text runs unchanged on the oracle and through Veil: a statement over ``d`` runs on
DuckDB, over ``p`` on PostgreSQL, over both on Veil's local engine (federation).

A ``d`` table has the columns DuckDB can hold with the same PostgreSQL type Veil serves them as
(no ``char(n)``, ``varchar(n)``, ``jsonb``); its oracle twin is declared with those same types.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg

N = None


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # PostgreSQL's spelling (oracle and PostgreSQL source)
    duck_type: str | None  # DuckDB's spelling; None: only in the PostgreSQL tables
    kind: str  # the generator's type class (see query_fuzz.KINDS)
    values: tuple[str | None, ...]  # literal text per row (hex digits for bytea)


ROWS = 12

T1 = (
    Column("id", "integer", "INTEGER", "int", tuple(str(i) for i in range(1, ROWS + 1))),
    Column("i2", "smallint", "SMALLINT", "int", ("0", "1", "-1", "7", N, "32767", "-32768", "100", "7", "2", N, "-5")),
    Column("i4", "integer", "INTEGER", "int", ("0", "10", "-10", "3", "2147483647", N, "-2147483647", "42", "3", N, "5", "-1")),
    Column(
        "i8", "bigint", "BIGINT", "int",
        ("0", "100", "-100", "9223372036854775807", N, "-9223372036854775807", "12345678901", "5", "5", N, "1", "-2"),
    ),
    Column(
        "n", "numeric(12,3)", "DECIMAL(12,3)", "num",
        ("0", "1.5", "-2.250", "123456789.123", N, "-999999999.999", "0.001", "10", "10.000", N, "3.333", "-0.5"),
    ),
    Column("f4", "real", "REAL", "float", ("0", "1.5", "-2.25", "3.4e38", N, "NaN", "1e-7", "100", "Infinity", N, "-0", "0.1")),
    Column(
        "f8", "double precision", "DOUBLE", "float",
        ("0", "0.1", "-1e308", "1.7976931348623157e308", N, "NaN", "-Infinity", "2.5", "3", N, "1e-300", "-0"),
    ),
    Column("tx", "text", "VARCHAR", "text", ("", "abc", "ABC", "Zoë", N, "a%b_c", " lead", "trail ", "日本語", N, "abc", "x\\y")),
    Column("b", "boolean", "BOOLEAN", "bool", ("true", "false", N, "true", "false", "true", N, "false", "true", "true", "false", N)),
    Column(
        "d", "date", "DATE", "date",
        ("2024-02-29", "1970-01-01", "1999-12-31", "0001-01-01", N, "2000-01-01", "9999-12-31", "2024-01-01",
         "2024-02-29", N, "2023-06-15", "1900-03-01"),
    ),
    Column(
        "ts", "timestamp", "TIMESTAMP", "ts",
        ("2024-02-29 13:14:15.5", "1970-01-01 00:00:00", "1999-12-31 23:59:59.999999", N, "2000-01-01 00:00:00",
         "2024-01-01 12:00:00", "1900-03-01 00:00:01", "2024-02-29 13:14:15.5", "2023-06-15 08:30:00", N,
         "2038-01-19 03:14:07", "0001-01-01 00:00:00"),
    ),
    Column(
        "tz", "timestamptz", "TIMESTAMPTZ", "tstz",
        ("2024-02-29 13:14:15.5+00", "1970-01-01 00:00:00+00", "1999-12-31 23:59:59.999999+05:30", N,
         "2000-01-01 00:00:00-08", "2024-01-01 12:00:00+00", "1900-03-01 00:00:01+00", "2024-02-29 13:14:15.5+00",
         "2023-06-15 08:30:00+02", N, "2038-01-19 03:14:07+00", "2024-03-31 01:30:00+01"),
    ),
    Column(
        "iv", "interval", "INTERVAL", "interval",
        ("1 year 2 mons 3 days 04:05:06", "00:00:00", "-1 days", "36:00:00", N, "1 mon", "-1 years",
         "00:00:00.5", "1 day", N, "2 days -01:00:00", "00:01:00"),
    ),
    Column(
        "u", "uuid", "UUID", "uuid",
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000",
         "ffffffff-ffff-ffff-ffff-ffffffffffff", N, "123e4567-e89b-12d3-a456-426614174000",
         "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "7fffffff-ffff-ffff-ffff-ffffffffffff", N,
         "80000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001",
         "123e4567-e89b-12d3-a456-426614174000", "deadbeef-dead-beef-dead-beefdeadbeef"),
    ),
    Column("by", "bytea", "BLOB", "bytea", ("", "00ff", "616263", N, "00", "ff", "616263", "7f80", N, "0a0d", "", "5c")),
    Column("ch", "char(4)", None, "text", ("ab", "", "abcd", N, "a b", "ab", "Zoë", "x", N, "ABCD", "ab  ", "%")),
    Column("vc", "varchar(6)", None, "text", ("abc", "", "ABC", N, "Zoë", "a_b", "abc", "  x", N, "日本", "abc", "zz")),
    Column(
        "jb", "jsonb", None, "jsonb",
        ('{"a": 1}', "[1, 2]", "null", '"s"', N, "{}", '{"a": {"b": [true, null]}}', "1.5", N, "[]", '{"a": 2}', '"日本"'),
    ),
)

T2 = (
    Column("id", "integer", "INTEGER", "int", tuple(str(i) for i in range(1, 9))),
    Column("k", "integer", "INTEGER", "int", ("1", "2", "2", N, "5", "12", "0", "3")),
    Column("i8", "bigint", "BIGINT", "int", ("10", N, "-3", "10", "0", "9223372036854775807", "7", "1")),
    Column("n", "numeric(8,2)", "DECIMAL(8,2)", "num", ("1.50", "0", N, "-7.25", "999999.99", "2", "1.5", "0.01")),
    Column("f8", "double precision", "DOUBLE", "float", ("1.5", N, "0", "-0.5", "1e10", "2", "1.5", "Infinity")),
    Column("tx", "text", "VARCHAR", "text", ("abc", "ABC", "", N, "Zoë", "b", "abc", "%")),
    Column("b", "boolean", "BOOLEAN", "bool", ("true", N, "false", "true", "false", "true", N, "false")),
    Column("d", "date", "DATE", "date", ("2024-02-29", "1970-01-01", N, "2000-01-01", "2024-01-01", "1999-12-31", "2024-02-29", "2023-06-15")),
    Column(
        "ts", "timestamp", "TIMESTAMP", "ts",
        ("2024-02-29 13:14:15.5", N, "1999-12-31 23:59:59.999999", "2000-01-01 00:00:00", "2024-01-01 12:00:00",
         "1970-01-01 00:00:00", "2024-02-29 00:00:00", "2023-06-15 08:30:00"),
    ),
)

TABLES: dict[str, tuple[Column, ...]] = {"t1": T1, "t2": T2}
SCHEMAS = ("d", "p")  # d: the DuckDB source, p: the PostgreSQL source


def columns(schema: str, table: str) -> tuple[Column, ...]:
    return tuple(c for c in TABLES[table] if schema == "p" or c.duck_type is not None)


def _pg_literal(column: Column, value: str | None) -> str:
    if value is None:
        return "NULL"
    if column.kind == "bytea":
        return f"'\\x{value}'::bytea"
    return "'" + value.replace("'", "''") + f"'::{column.pg_type}"


def _duck_literal(column: Column, value: str | None) -> str:
    if value is None:
        return "NULL"
    if column.kind == "bytea":
        return f"from_hex('{value}')"
    text = value.replace("'", "''")
    if column.kind == "interval":
        return f"INTERVAL '{text.replace('mons', 'months')}'"
    return f"CAST('{text}' AS {column.duck_type})"


def _inserts(schema: str, table: str, literal: object) -> list[str]:
    cols = columns(schema, table)
    rows = []
    for index in range(len(cols[0].values)):
        rows.append("(" + ", ".join(literal(c, c.values[index]) for c in cols) + ")")  # type: ignore[operator]
    return [f"INSERT INTO {schema}.{table} VALUES " + ", ".join(rows)]


def postgres_statements(schemas: tuple[str, ...]) -> list[str]:
    """DDL and rows of ``schemas`` in a PostgreSQL database (the oracle holds both)."""
    statements = []
    for schema in schemas:
        statements.append(f"CREATE SCHEMA {schema}")
        for table in TABLES:
            body = ", ".join(f'"{c.name}" {c.pg_type}' for c in columns(schema, table))
            statements.append(f"CREATE TABLE {schema}.{table} ({body})")
            statements += _inserts(schema, table, _pg_literal)
    return statements


def write_postgres(dsn: str, schemas: tuple[str, ...]) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in postgres_statements(schemas):
            connection.execute(statement)
        connection.execute("ANALYZE")


def write_duckdb(path: Path) -> None:
    connection = duckdb.connect(str(path))
    try:
        connection.execute("CREATE SCHEMA d")
        for table in TABLES:
            body = ", ".join(f'"{c.name}" {c.duck_type}' for c in columns("d", table))
            connection.execute(f"CREATE TABLE d.{table} ({body})")
            for statement in _inserts("d", table, _duck_literal):
                connection.execute(statement)
        connection.execute("CHECKPOINT")
    finally:
        connection.close()
