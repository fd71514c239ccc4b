"""Policy comparisons of a column cast to text are compared on the column's type (veil.policy.casts).

The typed spelling must keep every row, and every NULL, of the one the policy author wrote: both
are run on real PostgreSQL and DuckDB over booleans and integers of every width, NULLs and range
ends included, directly and under NOT. Through a PostgreSQL source that passes statements
through, the row filter and hash mask of the wire benchmark's ``--policies`` run still hide what
they must (rows outside the filter, raw names), and what PostgreSQL runs is the plain scan with a
typed filter (an index scan where the filter names the key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest
import sqlglot

from tests.catalog.support import ddl, private_database
from tests.config.support import everyone_reads, user
from tests.conftest import VeilServer, postgres_connection, start_server, stop_server
from veil.policy.casts import typed_comparisons

TYPES = {"b": pa.bool_(), "s": pa.int16(), "i": pa.int32(), "l": pa.int64(), "t": pa.string()}
ROWS = [
    (1, True, 0, 0, 0, "true"),
    (2, False, -32768, -2147483648, -9223372036854775808, "false"),
    (3, None, 32767, 2147483647, 9223372036854775807, None),
    (4, True, 7, 42, 10, "01"),
    (5, None, None, None, None, "x"),
]
CONDITIONS = [
    "CAST(b AS TEXT) IN ('true', 'false')",
    "(CAST(b AS TEXT)) IN ('true')",
    "CAST(b AS TEXT) IN ('t', 'TRUE', 'yes', 'false')",
    "CAST(b AS VARCHAR) = 'false'",
    "'true' = CAST(b AS TEXT)",
    "NOT (CAST(b AS TEXT) IN ('true', 'on'))",
    "CAST(b AS TEXT) NOT IN ('false')",
    "CAST(s AS TEXT) IN ('0', '-32768', '32768', '07', '+7', '-0', '7')",
    "CAST(i AS TEXT) IN ('2147483647', '2147483648', '42')",
    "NOT (CAST(i AS TEXT) = '42')",
    "CAST(l AS TEXT) IN ('-9223372036854775808', '9223372036854775807', '9223372036854775808', '10')",
    "CAST(l AS TEXT) IN ('1e1', ' 10')",
    "CAST(t AS TEXT) IN ('true', '01')",
    "CAST(b AS TEXT) IN ('true', NULL)",
]


def _typed(condition: str) -> str:
    tree = sqlglot.parse_one(condition, read="postgres")
    return typed_comparisons(tree, lambda column: TYPES.get(column.name)).sql("postgres")


def _values_sql() -> str:
    def literal(value: object) -> str:
        return "NULL" if value is None else repr(value) if isinstance(value, str) else str(value).upper()

    rows = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in ROWS)
    return (
        "CREATE TEMPORARY TABLE m (id INT, b BOOLEAN, s SMALLINT, i INT, l BIGINT, t TEXT);"
        f" INSERT INTO m VALUES {rows}"
    )


def test_booleans_and_integers_are_compared_on_their_type() -> None:
    assert _typed("CAST(b AS TEXT) IN ('true', 'false')") == "b IN (TRUE, FALSE)"
    assert _typed("(CAST(b AS TEXT)) IN ('t', 'true')") == "b IN (TRUE)"
    assert _typed("CAST(b AS TEXT) = 'false'") == "b = FALSE"
    assert _typed("CAST(i AS TEXT) IN ('-1', '01', '2147483648')") == "i IN (-1)"
    assert _typed("CAST(l AS TEXT) = '9223372036854775807'") == "l = 9223372036854775807"


@pytest.mark.parametrize(
    "condition",
    [
        "CAST(t AS TEXT) IN ('a')",  # a text column: the text is the value
        "CAST(b AS VARCHAR(2)) IN ('tr')",  # truncated: not the value's text
        "CAST(b AS TEXT) IN ('true', NULL)",  # a NULL among the values: NULL, not false, on a miss
        "CAST(b AS TEXT) IN ('yes', 'TRUE')",  # no value's text: kept as written
        "CAST(i AS TEXT) = CAST(l AS TEXT)",
        "CAST(i + 1 AS TEXT) = '2'",
    ],
)
def test_other_comparisons_are_kept_as_written(condition: str) -> None:
    assert _typed(condition) == sqlglot.parse_one(condition, read="postgres").sql("postgres")


@pytest.mark.parametrize("condition", CONDITIONS)
def test_same_rows_and_nulls_on_postgresql(postgres_dsn: str, condition: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        for statement in _values_sql().split(";"):
            connection.execute(statement)

        def read(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(f"SELECT id, ({sql}) FROM m ORDER BY id").fetchall()

        assert read(_typed(condition)) == read(condition)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_same_rows_and_nulls_on_duckdb(condition: str) -> None:
    connection = duckdb.connect()
    for statement in _values_sql().split(";"):
        connection.execute(statement)

    def read(sql: str) -> list[tuple[Any, ...]]:
        duck = sqlglot.transpile(sql, read="postgres", write="duckdb")[0]
        return connection.execute(f"SELECT id, ({duck}) FROM m ORDER BY id").fetchall()

    assert read(_typed(condition)) == read(condition)


# Through a PostgreSQL source: the wire benchmark's policies, with a filter that hides rows.

KEY = "casts-key"
DATABASE = "veil_policy_casts"
BULK = "SELECT id, name, flag FROM bench.t"


@dataclass
class Source:
    dsn: str
    server: VeilServer


@pytest.fixture(scope="module")
def source(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    with private_database(postgres_dsn, DATABASE) as dsn:
        ddl(
            dsn,
            "CREATE SCHEMA bench",
            "CREATE TABLE bench.t (id bigint PRIMARY KEY, name text NOT NULL, flag boolean NOT NULL)",
            "INSERT INTO bench.t SELECT i, 'customer name ' || i, i % 3 = 0 FROM generate_series(1, 3000) AS i",
            "ANALYZE bench.t",
        )
        connection = postgres_connection(dsn, population={"schemas": ["bench"]}, latency=0, passthrough=True)
        config = {
            "server": {"host": "127.0.0.1", "port": 0},
            "secrets": {"hash_key": KEY},
            "connections": {"pg": connection},
            "users": {
                "alice": user("alice", attributes={"flags": ["true"]}),
                "bob": user("bob", attributes={"ids": ["7", "07", "9"]}),
            },
            "policies": [
                everyone_reads(),
                {
                    "name": "Rows by flag",
                    "row_filter": {
                        "where": "@attributeValuesContains('flags', CAST(flag AS TEXT))",
                        "except": {"users": ["bob"]},
                    },
                },
                {
                    "name": "Rows by id",
                    "row_filter": {
                        "where": "@attributeValuesContains('ids', CAST(id AS TEXT))",
                        "except": {"users": ["alice"]},
                    },
                },
                {"name": "Hash every name", "mask": {"columns": ["name"], "with": "hash"}},
            ],
        }
        directory: Path = tmp_path_factory.mktemp("casts")
        process, server = start_server(directory, config)
        try:
            yield Source(dsn, server)
        finally:
            stop_server(process)


def _ran(dsn: str, table: str) -> str:
    """The statement Veil's pass-through connections last ran on ``table``."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'veil passthrough' AND query LIKE %s"
            " ORDER BY query_start DESC LIMIT 1",
            (f"%{table}%",),
        ).fetchone()
    assert row is not None, "the statement did not pass through"
    return str(row[0])


def _plan(dsn: str, sql: str) -> list[str]:
    """PostgreSQL's plan nodes for ``sql`` (the hash key bound as $1, as Veil sends it)."""
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.RawCursor) as connection:
        params = [KEY] if "$1" in sql else None
        plan = connection.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    assert plan is not None
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(f"{node['Node Type']} {node.get('Relation Name', '')}".strip())
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0][0]["Plan"])
    return nodes


def _hash(value: str) -> str:
    return hashlib.sha256(f"{KEY}:{value}".encode()).hexdigest()


def test_rows_outside_the_filter_and_raw_names_are_never_seen(source: Source) -> None:
    with psycopg.connect(source.dsn) as direct:
        raw = sorted(direct.execute(BULK).fetchall())
    with psycopg.connect(source.server.dsn("alice")) as connection:
        rows = sorted(connection.execute(BULK).fetchall())
    assert [r[0] for r in rows] == [r[0] for r in raw if r[2]]  # flag false: never read
    assert all(flag is True for _, _, flag in rows)
    raw_names = {r[1] for r in raw}
    assert not raw_names & {r[1] for r in rows}  # never a raw name
    assert [r[1] for r in rows] == [_hash(r[1]) for r in raw if r[2]]  # the documented keyed hash
    sent = _ran(source.dsn, '"bench"."t"')
    assert KEY not in sent
    assert 'WHERE "veil_raw"."flag" IN (TRUE)' in sent  # typed: no string built per row
    # the same scan as the plain statement, the filter and mask evaluated in it
    assert _plan(source.dsn, sent) == _plan(source.dsn, BULK) == ["Seq Scan t"]


def test_an_integer_filter_reads_the_key_index(source: Source) -> None:
    with psycopg.connect(source.server.dsn("bob")) as connection:
        rows = connection.execute("SELECT id, name FROM bench.t").fetchall()
    assert sorted(rows) == [(7, _hash("customer name 7")), (9, _hash("customer name 9"))]  # '07' matches no id
    sent = _ran(source.dsn, '"bench"."t"')
    assert '"veil_raw"."id" IN (7, 9)' in sent
    assert "Seq Scan t" not in _plan(source.dsn, sent)  # CAST(id AS TEXT) could only be a scan
