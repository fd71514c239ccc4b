"""The outgoing-SQL verifier on its own (pure: SQL text and markers in) and inside the engine,
where breaking the policy rewrite on purpose must get the statement refused, not sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlglot import exp

from tests.security.support import RAW_CARDS, SCHEMA, config, write_duckdb
from veil.api import SessionInfo
from veil.config import parse_config
from veil.engine import session as session_module
from veil.engine.engine import QueryEngine
from veil.errors import VeilError
from veil.planner import pushdown as planner
from veil.planner.pushdown import quoted, source_sql
from veil.planner.verify import (
    Outgoing,
    RefusedStatement,
    relation_marker,
    verify_sql,
)
from veil.policy.masks import bind_hash_key, hash_key_parameter, keyed_hash

DIALECTS = ["postgres", "duckdb", "snowflake", "databricks"]


def _derived(dialect: str, mask: exp.Expression | None = None) -> exp.Subquery:
    raw = exp.Column(this=quoted("card"), table=quoted("veil_raw"))
    value = mask if mask is not None else keyed_hash(raw, hash_key_parameter(), dialect)
    table = exp.Table(this=quoted("t"), db=quoted("s"), alias=exp.TableAlias(this=quoted("veil_raw")))
    return exp.Subquery(this=exp.select(exp.alias_(value, quoted("card"))).from_(table))


def _outgoing(dialect: str, relation: exp.Expression, wrap: str = "{}") -> Outgoing:
    relation = relation.copy()
    relation.set("alias", exp.TableAlias(this=quoted("t")))
    tree = exp.select(exp.column("card", table="t")).from_(relation)
    key = 1 if bind_hash_key(tree, 1) else None
    return Outgoing(wrap.format(source_sql(tree, dialect)), dialect, key)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_protected_derived_table_passes_in_every_dialect(dialect: str) -> None:
    derived = _derived(dialect)
    outgoing = _outgoing(dialect, derived)
    assert "$1" in outgoing.sql or "${1}" in outgoing.sql  # the key is a parameter, not text
    verify_sql(outgoing, {relation_marker(derived, dialect)})


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_raw_table_or_a_look_alike_is_refused(dialect: str) -> None:
    allowed = {relation_marker(_derived(dialect), dialect)}
    raw = exp.Table(this=quoted("t"), db=quoted("s"))
    with pytest.raises(RefusedStatement):
        verify_sql(_outgoing(dialect, raw), allowed)
    # Same shape, weaker mask: the raw value in place of its hash.
    look_alike = _derived(dialect, exp.Column(this=quoted("card"), table=quoted("veil_raw")))
    with pytest.raises(RefusedStatement):
        verify_sql(_outgoing(dialect, look_alike), allowed)


def test_the_key_parameter_must_be_the_one_veil_binds() -> None:
    derived = _derived("postgres")
    outgoing = _outgoing("postgres", derived)
    with pytest.raises(RefusedStatement):  # $1 is then a user parameter: not the protected table
        verify_sql(Outgoing(outgoing.sql, "postgres", None), {relation_marker(derived, "postgres")})


@pytest.mark.parametrize(
    "sql",
    [
        'WITH a AS (SELECT 1 AS x) SELECT * FROM a',
        "SELECT * FROM generate_series(1, 3) g",
        "SELECT * FROM (VALUES (1), (2)) v(x)",
        "SELECT * FROM unnest(ARRAY[1, 2]) u",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        'SELECT * FROM "s"."t"',  # the allowed unprotected table
    ],
)
def test_constant_relations_and_ctes_in_scope_pass(sql: str) -> None:
    verify_sql(Outgoing(sql, "postgres"), {relation_marker(exp.Table(this=quoted("t"), db=quoted("s")), "postgres")})


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t",  # a bare table
        "WITH a AS (SELECT * FROM t) SELECT * FROM a",  # a CTE whose body reads a table
        "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",  # b is not visible in a
        "SELECT * FROM x WHERE EXISTS (WITH x AS (SELECT 1) SELECT * FROM x)",  # x outside its scope
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM 'data.csv'",
        "SELECT 1; SELECT * FROM t",
        "DELETE FROM t",
        "SELECT * FROM (((",
    ],
)
def test_anything_else_is_refused_with_42501(sql: str) -> None:
    with pytest.raises(RefusedStatement) as info:
        verify_sql(Outgoing(sql, "duckdb"), set())
    assert info.value.sqlstate == "42501"
    assert info.value.message.startswith("Veil refused to send this statement")
    assert "sqlglot" not in info.value.message.lower() and "duckdb" not in info.value.message.lower()


# -- inside the engine ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueryEngine]:
    directory = tmp_path_factory.mktemp("verifier")
    connection = write_duckdb(directory / "wh.duckdb")
    engine = QueryEngine(parse_config(config(connection, SCHEMA["duckdb"], directory)))
    yield engine
    engine.close()


async def _run(engine: QueryEngine, sql: str) -> list[tuple[object, ...]]:
    session = engine.open_session(SessionInfo(user="analyst", database="veil"))
    prepared = await session.prepare(sql, [])
    stream = await session.execute(prepared, [])
    return [tuple(row.values()) for batch in [b async for b in stream] for row in batch.to_pylist()]


STATEMENTS = [
    "SELECT id, card_number FROM transactions",
    "SELECT t.id, t.card_number FROM transactions t JOIN countries c ON c.code = t.country",
    "SELECT t.id, t.card_number, r.region FROM transactions t JOIN geo.regions r ON r.code = t.country",
]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_a_broken_rewrite_is_refused_not_leaked(engine: QueryEngine, sql: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = asyncio.run(_run(engine, sql))
    assert seen and not {str(r[1]) for r in seen} & RAW_CARDS
    real = session_module.protected_table

    def skip_transactions(table, source_table, policy, context, guard_columns=True):
        return None if table.name == "transactions" else real(table, source_table, policy, context, guard_columns)

    monkeypatch.setattr(session_module, "protected_table", skip_transactions)
    engine.protected_tables.clear()
    engine.plans.clear()
    with pytest.raises(VeilError) as info:
        asyncio.run(_run(engine, sql))
    assert info.value.sqlstate == "42501"
    assert not any(card in info.value.message for card in RAW_CARDS)
    engine.protected_tables.clear()
    engine.plans.clear()


def test_a_broken_scope_resolution_is_refused_not_leaked(engine: QueryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-fix analyzer: any table named like a CTE anywhere was taken for that CTE."""
    def by_bare_name(statement: exp.Expression) -> dict[int, int]:
        names = {cte.alias_or_name: id(cte) for cte in statement.find_all(exp.CTE)}
        return {id(t): names[t.name] for t in statement.find_all(exp.Table) if t.name in names and not t.db}

    monkeypatch.setattr(planner, "_cte_bindings", by_bare_name)
    engine.plans.clear()
    sql = (
        "SELECT t.id, t.card_number FROM transactions t JOIN countries c ON c.code = t.country "
        "WHERE EXISTS (WITH transactions AS (SELECT 1 AS x) SELECT x FROM transactions)"
    )
    with pytest.raises(VeilError) as info:
        asyncio.run(_run(engine, sql))
    assert info.value.sqlstate == "42501"
    engine.plans.clear()

