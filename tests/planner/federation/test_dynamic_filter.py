"""Dynamic filtering of local joins (pure): which filter each statement shape gets, none where it
could change the answer, and the SQL a filtered fragment is sent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pyarrow as pa
import sqlglot
from sqlglot import exp

from tests.planner.federation.test_federation import SOURCES, federated, table
from veil.catalog.model import CatalogSnapshot, Column, Table
from veil.planner.federation.dynamic_filter import (
    MAX_KEYS,
    DynamicFilter,
    filtered_tree,
    key_condition,
)
from veil.planner.federation.plan import plan_query
from veil.planner.pushdown import analyze

SELECTIVE = "c.country = 'DE'"


def filters(sql: str, protect=None) -> set[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    result = federated(sql, protect)
    names = {f.name: f.tables[0].name for f in result.fragments}
    return {(names[f.target], f.column, names[f.source], f.source_column) for f in result.dynamic_filters}


def test_an_inner_join_filters_the_big_side_by_the_selective_side() -> None:
    found = filters(f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE {SELECTIVE}")
    assert found == {("orders", "customer_id", "customers", "id")}


def test_comma_joins_and_semi_joins_filter_too() -> None:
    comma = f"SELECT o.amount FROM orders o, other.customers c WHERE o.customer_id = c.id AND {SELECTIVE}"
    assert filters(comma) == {("orders", "customer_id", "customers", "id")}
    semi = "SELECT amount FROM orders WHERE customer_id IN (SELECT id FROM other.customers WHERE country = 'DE')"
    assert filters(semi) == {("orders", "customer_id", "customers", "id")}


def test_a_correlated_subquery_reads_only_the_outer_keys() -> None:
    sql = (
        "SELECT c.name FROM other.customers c WHERE c.country = 'DE' AND "
        "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.amount > 10)"
    )
    assert filters(sql) == {("orders", "customer_id", "customers", "id")}


def test_sides_equally_selective_are_read_concurrently_unfiltered() -> None:
    assert filters("SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id") == set()


def test_no_filter_for_outer_joins_anti_joins_or_or() -> None:
    for sql in (
        f"SELECT o.amount FROM orders o LEFT JOIN other.customers c ON c.id = o.customer_id AND {SELECTIVE}",
        f"SELECT o.amount FROM other.customers c RIGHT JOIN orders o ON c.id = o.customer_id WHERE {SELECTIVE}",
        "SELECT amount FROM orders WHERE customer_id NOT IN (SELECT id FROM other.customers WHERE country = 'DE')",
        "SELECT amount FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM other.customers c WHERE c.id = o.customer_id AND c.country = 'DE')",
        "SELECT c.name FROM other.customers c WHERE c.country = 'DE' AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
        f"SELECT o.amount FROM orders o, other.customers c WHERE (o.customer_id = c.id OR o.amount > 5) AND {SELECTIVE}",
        "SELECT amount FROM orders WHERE customer_id IN (SELECT id FROM other.customers WHERE country = 'DE') OR amount > 1",
    ):
        assert filters(sql) == set(), sql


def test_no_filter_on_a_masked_key_on_either_side() -> None:
    def protect(t: Table, source: exp.Table) -> exp.Subquery | None:
        masked = {"customer_id"} if t.name == "orders" else set()
        columns = [
            exp.alias_(exp.func("md5", exp.column(c.name)) if c.name in masked else exp.column(c.name), c.name)
            for c in t.columns
        ]
        return exp.Subquery(this=exp.select(*columns).from_(source.copy()))

    def mask_id(t: Table, source: exp.Table) -> exp.Subquery | None:
        columns = [exp.alias_(exp.Null() if c.name == "id" else exp.column(c.name), c.name) for c in t.columns]
        return exp.Subquery(this=exp.select(*columns).from_(source.copy()))

    sql = f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE {SELECTIVE}"
    assert filters(sql, protect) == set()
    assert filters(sql, mask_id) == set()


def test_a_row_filter_guard_keeps_the_key_usable() -> None:
    def guarded(t: Table, source: exp.Table) -> exp.Subquery:
        guard = exp.condition("status <> 'void'") if t.name == "orders" else exp.true()
        columns = [exp.alias_(exp.Case(ifs=[exp.If(this=guard.copy(), true=exp.column(c.name))]), c.name) for c in t.columns]
        return exp.Subquery(this=exp.select(*columns).from_(source.copy()).where(guard.copy()))

    sql = f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE {SELECTIVE}"
    assert filters(sql, guarded) == {("orders", "customer_id", "customers", "id")}


def test_keys_of_different_type_families_are_never_compared() -> None:
    snapshot = CatalogSnapshot(
        (
            Table("pg", "sales", "orders", "sales", "orders", (Column("customer_id", pa.string()), Column("amount", pa.int64()))),
            table("pg_other", "other", "customers", "id", "name", "country"),
        ),
        1,
    )
    ast = sqlglot.parse_one(
        f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE {SELECTIVE}"
    )
    result = plan_query(ast, analyze(ast, snapshot, ("sales",), frozenset()), [], SOURCES)
    assert result.dynamic_filters == ()


def _condition(values: pa.Array, target: pa.DataType, dialect: str = "postgres", max_keys: int = 3) -> str | None:
    found = key_condition(exp.column("k", table="t"), values, target, max_keys)
    return None if found is None else found.sql(dialect=dialect)


def test_keys_become_typed_literals_of_the_target_dialect() -> None:
    assert _condition(pa.array([3, None, 1, 3]), pa.int32()) == "t.k IN (3, 1)"
    assert _condition(pa.array([Decimal("1.50"), Decimal("-2.00")]), pa.decimal128(10, 2)) == "t.k IN (1.50, -2.00)"
    assert _condition(pa.array(["o'hara", "x"]), pa.string()) == "t.k IN ('o''hara', 'x')"
    assert _condition(pa.array(["o'hara"]), pa.string(), "databricks") == "t.k IN ('o\\'hara')"
    dates = pa.array([datetime.date(2024, 1, 31)])
    assert _condition(dates, pa.date32()) == "t.k IN (CAST('2024-01-31' AS DATE))"


def test_no_keys_match_nothing_and_too_many_give_a_range_or_nothing() -> None:
    assert _condition(pa.array([None], pa.int64()), pa.int64()) == "FALSE"
    assert _condition(pa.array([5, 1, 9, 7]), pa.int64()) == "t.k BETWEEN 1 AND 9"
    assert _condition(pa.array(["a", "b", "c", "d"]), pa.string()) is None
    assert _condition(pa.array([1.5]), pa.float64()) is None
    assert _condition(pa.array([1]), pa.string()) is None


def test_the_filter_wraps_the_fragment_after_its_policy_derived_table() -> None:
    def guarded(t: Table, source: exp.Table) -> exp.Subquery:
        guard = exp.condition("status <> 'void'")
        return exp.Subquery(this=exp.select(*(exp.column(c.name) for c in t.columns)).from_(source.copy()).where(guard))

    result = federated(f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE {SELECTIVE}", guarded)
    (dynamic,) = result.dynamic_filters
    target = next(f for f in result.fragments if f.name == dynamic.target)
    assert target.tree is not None
    keys = {k.output: k.arrow_type for k in target.keys}
    sources = {dynamic.source: pa.table({"id": [2, 4]})}
    tree = filtered_tree(target.tree, [dynamic], sources, keys)
    assert tree is not None
    assert tree.sql(dialect="postgres") == f'SELECT * FROM ({target.sql}) AS "veil_dynamic" WHERE "veil_dynamic"."customer_id" IN (2, 4)'
    assert "status <> 'void'" in target.sql
    assert filtered_tree(target.tree, [DynamicFilter(dynamic.target, "customer_id", dynamic.source, "id")],
                         {dynamic.source: pa.table({"id": pa.array([1.5])})}, keys) is None


def test_an_equality_every_disjunct_requires_filters_like_a_conjunct() -> None:
    """TPC-H Q19 repeats ``p_partkey = l_partkey`` in each disjunct of its OR."""
    sql = (
        "SELECT o.amount FROM orders o, other.customers c WHERE (o.customer_id = c.id AND c.country = 'DE') "
        "OR (c.id = o.customer_id AND c.country = 'FR' AND o.amount > 1)"
    )
    assert filters(sql) == {("orders", "customer_id", "customers", "id")}
    result = federated(sql)
    (customers,) = [f.sql for f in result.fragments if f.connection == "pg_other"]
    assert customers.endswith("WHERE (c.country = 'DE' OR c.country = 'FR')")
    assert "o.customer_id = c.id" in result.local_sql  # the OR itself stays local, unchanged
    one_lacks_it = (
        "SELECT o.amount FROM orders o, other.customers c WHERE (o.customer_id = c.id AND c.country = 'DE') "
        "OR (o.id = c.id AND c.country = 'FR')"
    )
    assert filters(one_lacks_it) == set()
    negated = (
        "SELECT o.amount FROM orders o, other.customers c WHERE c.country = 'DE' AND "
        "NOT ((o.customer_id = c.id AND o.amount > 1) OR (o.customer_id = c.id AND o.amount < 0))"
    )
    assert filters(negated) == set()


def races(sql: str) -> set[tuple[str, str, str, str, bool]]:
    result = federated(sql)
    names = {f.name: f.tables[0].name for f in result.fragments}
    return {(names[f.target], f.column, names[f.source], f.source_column, f.race) for f in result.dynamic_filters}


def test_sides_that_both_filter_race_each_way() -> None:
    """TPC-H Q19 and Q21: both sides filter by constants, so neither is known to be smaller; the
    one that answers first filters the other."""
    both = f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE o.status = 1 AND {SELECTIVE}"
    assert races(both) == {
        ("orders", "customer_id", "customers", "id", True),
        ("customers", "id", "orders", "customer_id", True),
    }
    correlated = (
        "SELECT c.name FROM other.customers c WHERE c.country = 'DE' AND "
        "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 1)"
    )
    assert races(correlated) == {("orders", "customer_id", "customers", "id", True)}
    ranked = f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE o.amount > 1 AND {SELECTIVE}"
    assert races(ranked) == {("orders", "customer_id", "customers", "id", False)}
    assert races("SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id") == set()


def test_a_race_sends_keys_but_never_a_range() -> None:
    result = federated(f"SELECT o.amount FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE o.status = 1 AND {SELECTIVE}")
    race = next(f for f in result.dynamic_filters if f.target.endswith("0"))
    target = next(f for f in result.fragments if f.name == race.target)
    assert target.tree is not None
    keys = {k.output: k.arrow_type for k in target.keys}
    few = filtered_tree(target.tree, [race], {race.source: pa.table({"id": [2, 4]})}, keys)
    assert few is not None
    assert few.sql(dialect="postgres") == f'SELECT * FROM ({target.sql}) AS "veil_dynamic" WHERE "veil_dynamic"."customer_id" IN (2, 4)'
    many = pa.table({"id": list(range(MAX_KEYS + 1))})
    assert filtered_tree(target.tree, [race], {race.source: many}, keys) is None
    waited = DynamicFilter(race.target, race.column, race.source, race.source_column)
    ranged = filtered_tree(target.tree, [waited], {race.source: many}, keys)
    assert ranged is not None and f"BETWEEN 0 AND {MAX_KEYS}" in ranged.sql(dialect="postgres")
    assert _condition(pa.array([5, 1, 9, 7]), pa.int64()) == "t.k BETWEEN 1 AND 9"
    assert key_condition(exp.column("k", table="t"), pa.array([5, 1, 9, 7]), pa.int64(), 3, ranges=False) is None
