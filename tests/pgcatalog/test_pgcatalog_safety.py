"""Fail-closed behaviour: invisible tables never appear, unknown names fail with PostgreSQL's
SQLSTATEs, and nothing reaches files, the environment or DuckDB's own catalog."""

from __future__ import annotations

import pytest

from tests.pgcatalog.pgcat_support import HIDDEN, Runner
from veil.errors import VeilError
from veil.pgcatalog import LocalContext, LocalEngine, parse_postgres
from veil.pgcatalog.schema import RELATIONS

HIDDEN_NAMES = {t.name for t in HIDDEN} | {c.name for t in HIDDEN for c in t.columns} | {"hr"}


@pytest.mark.parametrize("relation", sorted(RELATIONS), ids=lambda r: f"{r[0]}.{r[1]}")
def test_invisible_tables_appear_nowhere(run: Runner, relation: tuple[str, str]) -> None:
    rows = run.rows(f"select * from {relation[0]}.{relation[1]}")
    for row in rows:
        for value in row:
            values = value if isinstance(value, list) else [value]
            assert not any(str(v) in HIDDEN_NAMES for v in values), (relation, row)


def test_invisible_tables_cannot_be_named(run: Runner) -> None:
    with pytest.raises(VeilError) as error:
        run("select 'sales.secrets'::regclass")
    assert error.value.sqlstate == "42P01"
    assert run.value("select to_regclass('hr.salaries')") is None
    assert run.value("select has_schema_privilege('sales', 'usage')") is True
    with pytest.raises(VeilError) as error:
        run("select has_schema_privilege('hr', 'usage')")
    assert error.value.sqlstate == "3F000"


def _error(run: Runner, sql: str, params: list[object] | None = None) -> str:
    with pytest.raises(VeilError) as error:
        run(sql, params or [])
    return error.value.sqlstate


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("select * from nope", "42P01"),
        ("select * from pg_catalog.duckdb_tables", "42P01"),
        ("select * from veil_pg_catalog.pg_class", "42P01"),
        ("select * from information_schema.nope", "42P01"),
        ("select * from sales.orders", "42P01"),
        ("select * from 'data.csv'", "42P01"),
        ("select nope(1)", "42883"),
        ("select veil_fn.format_type(1, 1)", "42883"),
        ("select pg_catalog.nope()", "42883"),
        ("select 'nope'::regclass", "42P01"),
        ("select 'nope'::regtype", "42704"),
        ("select 'x'::mood", "42704"),
        ("select current_setting('nope')", "42704"),
        ("select 1 from pg_class where oid = 'abc'", "22P02"),
        ("select 1/0", "22012"),
        ("select * from other_db.pg_catalog.pg_class", "0A000"),
    ],
)
def test_unknown_names(run: Runner, sql: str, sqlstate: str) -> None:
    assert _error(run, sql) == sqlstate


@pytest.mark.parametrize(
    "sql",
    [
        "select read_csv('/etc/passwd')",
        "select * from read_csv_auto('/etc/passwd')",
        "select * from read_parquet('x.parquet')",
        "select * from read_json('x.json')",
        "select read_text('/etc/passwd')",
        "select getenv('HOME')",
        "select pg_read_file('/etc/passwd')",
        "select pg_ls_dir('.')",
        "select lo_import('/etc/passwd')",
        "select * from duckdb_settings()",
        "select * from duckdb_tables()",
        "select query('select 1')",
        "select * from query_table('x')",
        "select pg_sleep(10)",
        "select pg_terminate_backend(1)",
        "select nextval('s')",
    ],
)
def test_dangerous_functions_are_refused(run: Runner, sql: str) -> None:
    assert _error(run, sql) == "42501"


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("insert into pg_class (oid) values (1)", "25006"),
        ("update pg_class set relname = 'x'", "25006"),
        ("delete from pg_class", "25006"),
        ("create table t (a int)", "25006"),
        ("drop table pg_class", "25006"),
        ("select * into t from pg_class", "25006"),
        ("copy pg_class to '/tmp/x'", "25006"),
        ("with d as (delete from pg_class returning *) select * from d", "25006"),
    ],
)
def test_writes_are_refused(engine: LocalEngine, ctx: LocalContext, sql: str, sqlstate: str) -> None:
    with pytest.raises(VeilError) as error:
        engine.compile(parse_postgres(sql)[0], ctx)
    assert error.value.sqlstate == sqlstate


def test_duckdb_is_locked_down(engine: LocalEngine) -> None:
    cursor = engine._con.cursor()
    try:
        settings = dict(
            cursor.sql(
                "select name, value from duckdb_settings() where name in "
                "('enable_external_access', 'lock_configuration')"
            ).fetchall()
        )
        assert settings == {"enable_external_access": "false", "lock_configuration": "true"}
        with pytest.raises(Exception, match=r"(?i)lock|configuration"):
            cursor.execute("SET enable_external_access = true")
        with pytest.raises(Exception, match=r"(?i)external|disabled|permission"):
            cursor.sql("select * from read_csv('/etc/passwd')").fetchall()
    finally:
        cursor.close()


def test_error_messages_do_not_leak_internal_names(run: Runner) -> None:
    with pytest.raises(VeilError) as error:
        run("select c.nope from pg_class c")
    assert error.value.sqlstate == "42703"
    assert "veil_" not in error.value.message
