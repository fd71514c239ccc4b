"""Minimize keeps a deterministic share of rows, the same rows on DuckDB and PostgreSQL."""

from __future__ import annotations

import duckdb
import psycopg
import pyarrow as pa
from sqlglot import exp

from veil.catalog.model import Column, Table
from veil.config import parse_config
from veil.policy.principals import User
from veil.policy.resolve import resolve_table_policy
from veil.policy.rewrite import PolicyContext, protected_table

TABLE = Table("w", "s", "t", "s", "t", (Column("id", pa.int64()), Column("label", pa.string())))
ROWS = 5000


def kept_ids(dialect: str, run) -> list[int]:  # type: ignore[no-untyped-def]
    config = parse_config(
        {"secrets": {"hash_key": "k"}, "policies": [{"name": "ten", "minimize": {"percent": 10, "key": ["id"]}}]}
    )
    policy = resolve_table_policy(User("u"), TABLE, config.policies, None)
    source = exp.Table(this=exp.to_identifier("t"), db=exp.to_identifier("s"))
    derived = protected_table(TABLE, source, policy, PolicyContext(User("u"), dialect, "k"))
    assert derived is not None
    sql = exp.select("id").from_(derived.as_("m")).where("id IS NOT NULL").order_by("id").sql(dialect)
    return run(sql)


def test_minimize_is_deterministic_and_engine_independent(postgres_dsn: str) -> None:
    connection = duckdb.connect()
    connection.execute(f"CREATE SCHEMA s; CREATE TABLE s.t AS SELECT i AS id, 'x' || i AS label FROM range({ROWS}) r(i)")
    in_duckdb = kept_ids("duckdb", lambda sql: [r[0] for r in connection.sql(sql).fetchall()])
    assert in_duckdb == kept_ids("duckdb", lambda sql: [r[0] for r in connection.sql(sql).fetchall()])
    assert 0.07 * ROWS < len(in_duckdb) < 0.13 * ROWS
    with psycopg.connect(postgres_dsn, autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS pg_temp.t")
        pg.execute(f"CREATE TEMP TABLE t AS SELECT i::bigint AS id, 'x' || i AS label FROM generate_series(0, {ROWS - 1}) i")

        def run(sql: str) -> list[int]:
            return [r[0] for r in pg.execute(sql.replace('"s"."t"', "pg_temp.t").replace("s.t", "pg_temp.t")).fetchall()]

        assert kept_ids("postgres", run) == in_duckdb
