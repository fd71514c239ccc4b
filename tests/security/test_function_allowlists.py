"""The per-engine function allow-lists: complete for the live engines, honoured for Veil's own
SQL, and refusing what reaches past the policies on every engine.

The coverage tests read the installed duckdb's ``duckdb_functions()`` and the test PostgreSQL's
``pg_proc``: a DuckDB or PostgreSQL upgrade that adds a function fails here until the function
is classified (``python -m veil.policy.allowlist.generate --postgres DSN`` adds it as ``new``,
a reviewer sets its verdict and status). Snowflake and Databricks have no local engine to read;
their lists are curated from the documentation, and checked here against Veil's own SQL and
the documented functions that must never run.
"""

from __future__ import annotations

from typing import Any

import duckdb
import psycopg
import pytest
import sqlglot
from sqlglot import exp

from veil.config.models import MaskPolicy
from veil.errors import VeilError
from veil.planner.pushdown import source_sql
from veil.policy import allowlist
from veil.policy.allowlist import ENGINES, FRONT, REASONS, check_functions, check_sql, function_list
from veil.policy.allowlist.generate import merge
from veil.policy.macros import expand_macros
from veil.policy.masks import keyed_hash, mask_expression
from veil.policy.principals import User


def _unclassified(live: set[str], engine: str) -> list[str]:
    listed = function_list(engine)
    return sorted(name for name in live if name not in listed or listed[name].status != "reviewed")


def test_every_duckdb_function_is_classified() -> None:
    with duckdb.connect() as connection:
        live = {row[0].lower() for row in connection.execute("SELECT function_name FROM duckdb_functions()").fetchall()}
    assert len(live) > 1000
    assert _unclassified(live, "duckdb") == [], "classify these in veil/policy/allowlist/duckdb.csv"


def test_every_postgres_function_is_classified(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        live = {row[0].lower() for row in connection.execute("SELECT proname FROM pg_proc").fetchall()}
        (version,) = connection.execute("SHOW server_version_num").fetchone()
    assert len(live) > 2000
    if int(version) // 10000 == 15:
        assert _unclassified(live, "postgres") == [], "classify these in veil/policy/allowlist/postgres.csv"
    else:  # another major version: the names PostgreSQL 15 has must all be there
        assert len(_unclassified(live, "postgres")) < len(live) // 10


@pytest.mark.parametrize("engine", ENGINES)
def test_every_entry_is_well_formed(engine: str) -> None:
    entries = function_list(engine)
    assert entries
    for entry in entries.values():
        assert entry.verdict in ("allow", "refuse"), entry
        assert entry.category == "pure" if entry.verdict == "allow" else entry.category in REASONS, entry
        assert entry.status in ("reviewed", "new"), entry


MASKS: list[dict[str, Any]] = [
    {"with": "hash"}, {"with": "null"}, {"with": "constant", "value": "X"},
    {"with": "regex", "pattern": "[0-9]", "replacement": "#"}, {"with": "show_first", "n": 3},
    {"with": "show_last", "n": 4}, {"with": "email_domain"}, {"with": "custom", "sql": "upper(@column)"},
    {"with": "round", "digits": 1}, {"with": "round", "unit": "month"}, {"with": "year"},
]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_sql_veil_generates_passes_on_its_engine(engine: str) -> None:
    """Masks (keyed hash, regex...), the minimize sample, time windows and row-filter macros, as
    Veil writes them for each engine, are allowed there (checked on the exact SQL text)."""
    column = exp.column("c", table="veil_raw", quoted=True)
    projections = [
        exp.alias_(mask_expression(MaskPolicy.model_validate({"columns": ["c"], **m}), column, engine, "k"), f"m{i}")
        for i, m in enumerate(MASKS)
    ]
    digest = keyed_hash(exp.Coalesce(this=column.copy(), expressions=[exp.Literal.string("")]), "k", engine)
    sample = exp.LT(this=exp.Substring(this=digest, start=exp.Literal.number(1), length=exp.Literal.number(4)),
                    expression=exp.Literal.string("8000"))
    window = exp.GTE(this=column.copy(), expression=exp.Sub(
        this=exp.CurrentTimestamp(), expression=exp.Interval(this=exp.Literal.string("60"), unit=exp.var("SECOND"))))
    user = User(name="ann", groups=frozenset({"g"}), attributes={"region": ("EU",)})
    macro = sqlglot.parse_one(
        expand_macros("@attributeValuesContains('region', c) AND @groupsContains(g) OR owner = @username", user),
        read="postgres",
    )
    condition = exp.and_(sample, window, macro)
    tree = exp.select(*projections).from_(exp.table_("t", db="s", quoted=True).as_("veil_raw")).where(condition)
    sql = source_sql(tree, engine)
    check_sql(sql, engine)
    check_functions(tree, FRONT)


@pytest.mark.parametrize(
    "engine,sql,function",
    [
        ("duckdb", "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", "json_execute_serialized_sql"),
        ("duckdb", "SELECT * FROM query_table('s.t')", "query_table"),
        ("duckdb", "SELECT getvariable('k')", "getvariable"),
        ("duckdb", "SELECT current_query()", "current_query"),
        ("duckdb", "SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("duckdb", "SELECT stats(c) FROM t", "stats"),
        ("postgres", "SELECT set_config('statement_timeout', '1', false)", "set_config"),
        ("postgres", "SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
        ("postgres", "SELECT dblink('host=x', 'SELECT 1')", "dblink"),
        ("postgres", "SELECT query_to_xml('SELECT 1', true, false, '')", "query_to_xml"),
        ("postgres", "SELECT pg_try_advisory_lock(1)", "pg_try_advisory_lock"),
        ("postgres", "SELECT some_udf(1)", "some_udf"),
        ("snowflake", "SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))", "result_scan"),
        ("snowflake", "SELECT SYSTEM$WAIT(10)", "system$wait"),
        ("snowflake", "SELECT CURRENT_ACCOUNT()", "current_account"),
        ("snowflake", "SELECT GET_DDL('TABLE', 'T')", "get_ddl"),
        ("snowflake", "SELECT GETVARIABLE('X')", "getvariable"),
        ("databricks", "SELECT reflect('java.lang.System', 'getenv', 'HOME')", "reflect"),
        ("databricks", "SELECT java_method('java.lang.System', 'getenv', 'HOME')", "java_method"),
        ("databricks", "SELECT secret('scope', 'key')", "secret"),
        ("databricks", "SELECT * FROM read_files('/Volumes/x')", "read_files"),
        ("databricks", "SELECT input_file_name()", "input_file_name"),
        ("databricks", "SELECT current_user()", "current_user"),
    ],
)
def test_functions_that_reach_past_the_policies_are_refused(engine: str, sql: str, function: str) -> None:
    with pytest.raises(VeilError) as raised:
        check_sql(sql, engine)
    assert raised.value.sqlstate == "42501"
    assert function in raised.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT upper(a), lower(b), coalesce(a, b), a->>'k', CAST(a AS int), extract(year FROM d), "
        "date_trunc('day', d), now(), current_date, length(a), round(n, 2), split_part(a, '@', 2), "
        "regexp_replace(a, 'x', 'y', 'g'), greatest(1, 2), nullif(a, b), abs(n), substring(a, 1, 2), left(a, 3)",
        "SELECT count(*), sum(n), avg(n), min(n), max(n), string_agg(a, ','), count(DISTINCT a) FROM t GROUP BY b",
        "SELECT row_number() OVER (PARTITION BY a ORDER BY n), rank() OVER (ORDER BY n), lag(n) OVER (ORDER BY n) FROM t",
    ],
)
def test_everyday_functions_pass_on_every_engine(sql: str) -> None:
    tree = sqlglot.parse_one(sql, read="postgres")
    check_functions(tree, FRONT)
    for engine in ENGINES:
        check_sql(source_sql(tree, engine), engine)


def test_remembered_function_names_are_the_rendered_ones() -> None:
    """Names are remembered per exact call form: the second reading of a statement names the
    same functions as a fresh rendering, and calls that differ only in the case of a name (equal
    for sqlglot) are told apart."""
    sql = (
        "SELECT date_trunc('MONTH', d), date_trunc('month', d), upper(a), CAST(a AS int), "
        "regexp_replace(a, 'x', 'y', 'g'), struct_extract(s, 'F'), struct_extract(s, 'f') FROM t"
    )
    for engine in ENGINES:
        tree = sqlglot.parse_one(sql, read="duckdb")
        for _ in range(2):
            for node in tree.find_all(exp.Func):
                if not isinstance(node, exp.Anonymous | exp.Connector):
                    assert allowlist.function_name(node, engine) == allowlist._rendered_name(allowlist._shallow(node), engine)
    month = exp.Var(this="MONTH")
    assert month == exp.Var(this="month")
    assert allowlist._exact(month) != allowlist._exact(exp.Var(this="month"))


def test_unreviewed_and_unknown_names_are_refused() -> None:
    entry = allowlist.FunctionEntry("newfn", "scalar", "allow", "pure", "new")
    assert not entry.allowed
    assert allowlist.refusal("no_such_function_anywhere", FRONT) is not None
    assert allowlist.refusal("upper", "no_such_engine") is not None


def test_the_generator_keeps_reviewed_entries_and_flags_new_ones() -> None:
    reviewed = allowlist.FunctionEntry("upper", "scalar", "allow", "pure", "reviewed")
    refused = allowlist.FunctionEntry("query", "table", "refuse", "runs_sql", "reviewed")
    proposed = {
        "upper": allowlist.FunctionEntry("upper", "scalar|macro", "refuse", "unknown", "new"),
        "shiny_new": allowlist.FunctionEntry("shiny_new", "scalar", "allow", "pure", "new"),
    }
    rows, added = merge({"upper": reviewed, "query": refused}, proposed)
    by_name = {r.name: r for r in rows}
    assert added == ["shiny_new"]
    assert by_name["upper"].verdict == "allow" and by_name["upper"].status == "reviewed"
    assert by_name["upper"].kind == "scalar|macro"
    assert by_name["query"] == refused, "a name the engine no longer lists stays listed"
    assert not by_name["shiny_new"].allowed, "a new name is refused until reviewed"
