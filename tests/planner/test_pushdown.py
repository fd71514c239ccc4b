"""Planning against a real DuckDB warehouse: name resolution, visibility, rewrite, parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from tests.conftest import base_config
from veil import pgtypes
from veil.catalog.model import CatalogSnapshot
from veil.catalog.registry import build_catalog
from veil.config import parse_config
from veil.errors import InsufficientPrivilege, UndefinedFunction, UndefinedTable
from veil.planner.pushdown import analyze, plan_single_source
from veil.policy.principals import User
from veil.policy.subscription import visible_tables

SEARCH_PATH = ("alice", "public", "sales")


@pytest.fixture(scope="module")
def alice_snapshot(warehouse: Path) -> CatalogSnapshot:
    config = parse_config(base_config(warehouse))
    catalog = build_catalog(config)
    return visible_tables(catalog.snapshot, config.policies, User.from_config("alice", config.users["alice"]))


def plan(sql: str, snapshot: CatalogSnapshot, declared: list[int] | None = None):
    ast = sqlglot.parse_one(sql, read="postgres")
    analysis = analyze(ast, snapshot, SEARCH_PATH, frozenset({"pg_class"}))
    return plan_single_source(ast, analysis, declared or [], "duckdb")


def test_subscription_hides_unsubscribed_tables(alice_snapshot: CatalogSnapshot) -> None:
    names = {t.qualified_name for t in alice_snapshot}
    assert "sales.orders" in names
    assert "hr.salaries" not in names


def test_invisible_table_fails_like_a_missing_one(alice_snapshot: CatalogSnapshot) -> None:
    with pytest.raises(UndefinedTable) as hidden:
        plan("select * from hr.salaries", alice_snapshot)
    with pytest.raises(UndefinedTable) as missing:
        plan("select * from hr.nothing_here", alice_snapshot)
    assert hidden.value.sqlstate == missing.value.sqlstate == "42P01"
    assert "salaries" in hidden.value.message and "does not exist" in hidden.value.message


def test_rewrite_keeps_aliases_and_qualified_columns(alice_snapshot: CatalogSnapshot) -> None:
    result = plan(
        "select sales.orders.id, c.name from sales.orders join customers c on c.id = orders.id",
        alice_snapshot,
    )
    assert result.sql == (
        'SELECT orders.id, c.name FROM "sales"."orders" AS "orders" '
        'JOIN "sales"."customers" AS c ON c.id = orders.id'
    )
    assert result.connection == "warehouse"


def test_cte_names_shadow_tables(alice_snapshot: CatalogSnapshot) -> None:
    ast = sqlglot.parse_one("with orders as (select 1 as id) select * from orders", read="postgres")
    analysis = analyze(ast, alice_snapshot, SEARCH_PATH, frozenset())
    assert analysis.user_tables == ()
    assert not analysis.reads_catalog


def test_parameter_types_are_inferred_from_columns(alice_snapshot: CatalogSnapshot) -> None:
    result = plan(
        "select * from orders o where o.id = $1 and amount > $2 and customer like $3 limit $4",
        alice_snapshot,
    )
    assert result.param_oids == (pgtypes.INT8.oid, pgtypes.NUMERIC.oid, pgtypes.TEXT.oid, pgtypes.INT8.oid)


def test_declared_parameter_types_win(alice_snapshot: CatalogSnapshot) -> None:
    result = plan("select * from orders where id = $1", alice_snapshot, [pgtypes.INT4.oid])
    assert result.param_oids == (pgtypes.INT4.oid,)


def test_cast_gives_parameter_type(alice_snapshot: CatalogSnapshot) -> None:
    result = plan("select $1::date, $2 from orders", alice_snapshot)
    assert result.param_oids == (pgtypes.DATE.oid, pgtypes.TEXT.oid)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from orders, read_csv('/etc/passwd')",
        "select getenv('HOME') from orders",
        "select pg_read_file('/etc/passwd')",
    ],
)
def test_dangerous_functions_are_refused(alice_snapshot: CatalogSnapshot, sql: str) -> None:
    # refused (42501), or, for a function no engine's catalog has (getenv), PostgreSQL's 42883
    with pytest.raises((InsufficientPrivilege, UndefinedFunction)):
        plan(sql, alice_snapshot)
