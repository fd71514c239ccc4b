"""Cross-source planning (pure) and its execution against the single-source answer.

The planning tests read the SQL each source receives and the local part: what must move into a
fragment (single-table conditions, the columns used, inner joins of one source) and what must not
(conditions on the NULL side of an outer join, correlated or ambiguous conditions). The
equivalence tests run the same statements twice through the engine: once with both tables in one
DuckDB file (whole-statement pushdown) and once with each table in its own file (federation);
the answers must be identical.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from veil.api import SessionInfo
from veil.catalog.model import CatalogSnapshot, Column, Table
from veil.config import parse_config
from veil.engine.engine import QueryEngine
from veil.engine.session import Session
from veil.planner.federation.plan import FederatedPlan, plan_query
from veil.planner.pushdown import SourcePlan, analyze


@dataclass(frozen=True)
class FakeSource:
    dialect: str
    connection_key: tuple[object, ...]


def table(connection: str, schema: str, name: str, *columns: str) -> Table:
    return Table(connection, schema, name, schema, name, tuple(Column(c, pa.int64()) for c in columns))


SNAPSHOT = CatalogSnapshot(
    (
        table("pg", "sales", "orders", "id", "customer_id", "amount", "status"),
        table("pg_same", "crm", "customers", "id", "name", "country"),
        table("pg_other", "other", "customers", "id", "name", "country"),
        table("duck", "ref", "countries", "code", "name", "region"),
    ),
    1,
)
SOURCES = {
    "pg": FakeSource("postgres", ("postgres", "db", 5432, "alice", "pw", "sales")),
    "pg_same": FakeSource("postgres", ("postgres", "db", 5432, "alice", "pw", "sales")),
    "pg_other": FakeSource("postgres", ("postgres", "db", 5432, "bob", "pw2", "sales")),
    "duck": FakeSource("duckdb", ("duckdb", "/data/ref.duckdb")),
}


def plan(sql: str, protect=None) -> SourcePlan | FederatedPlan:  # type: ignore[no-untyped-def]
    ast = sqlglot.parse_one(sql, read="postgres")
    analysis = analyze(ast, SNAPSHOT, ("sales", "crm", "ref"), frozenset())
    return plan_query(ast, analysis, [], SOURCES, protect)


def federated(sql: str, protect=None) -> FederatedPlan:  # type: ignore[no-untyped-def]
    result = plan(sql, protect)
    assert isinstance(result, FederatedPlan)
    return result


def fragment_sql(result: FederatedPlan, connection: str) -> list[str]:
    return [f.sql for f in result.fragments if f.connection == connection]


def test_one_connection_key_is_one_statement_even_across_connections() -> None:
    result = plan("SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id")
    assert isinstance(result, SourcePlan)
    assert result.sql == (
        'SELECT o.id, c.name FROM "sales"."orders" AS o JOIN "crm"."customers" AS c ON c.id = o.customer_id'
    )
    assert result.connections == ("pg", "pg_same")


def test_computed_columns_get_postgresql_names_on_every_source() -> None:
    result = plan("SELECT count(*), max(o.amount) + 1, o.id, row_number() OVER () FROM orders o GROUP BY o.id")
    assert isinstance(result, SourcePlan)
    assert result.sql.startswith('SELECT COUNT(*) AS "count", MAX(o.amount) + 1 AS "?column?", o.id, ROW_NUMBER() OVER () AS "row_number"')


def test_other_credentials_split_the_statement() -> None:
    result = federated(
        "SELECT o.id, c.name FROM orders o JOIN other.customers c ON c.id = o.customer_id WHERE c.country = 'DE'"
    )
    assert fragment_sql(result, "pg") == ['SELECT o."id", o."customer_id" FROM "sales"."orders" AS o']
    assert fragment_sql(result, "pg_other") == [
        'SELECT c."id", c."name" FROM "other"."customers" AS c WHERE c.country = \'DE\''
    ]
    assert result.local_sql == (
        'SELECT o.id, c.name FROM "__veil_part_0" AS o JOIN "__veil_part_1" AS c ON c.id = o.customer_id'
    )
    assert result.connections == ("pg", "pg_other")


def test_inner_joins_of_one_source_travel_together() -> None:
    result = federated(
        "SELECT c.name, k.region, sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id "
        "JOIN countries k ON k.code = c.country WHERE o.status = 1 AND k.region = 'EU' GROUP BY 1, 2"
    )
    (pushed,) = fragment_sql(result, "pg")
    assert pushed == (
        'SELECT c."name" AS "c.name", o."amount" AS "o.amount", c."country" AS "c.country" '
        'FROM "sales"."orders" AS o CROSS JOIN "crm"."customers" AS c WHERE o.status = 1 AND c.id = o.customer_id'
    )
    assert fragment_sql(result, "duck") == [
        'SELECT k."code", k."region" FROM "ref"."countries" AS k WHERE k.region = \'EU\''
    ]
    assert "o.status" not in result.local_sql and "GROUP BY 1, 2" in result.local_sql
    assert '"__veil_part_0"."c.name" AS name' in result.local_sql
    assert 'SUM("__veil_part_0"."o.amount") AS "sum"' in result.local_sql


def test_tables_of_one_source_joined_only_through_another_source_are_not_multiplied() -> None:
    # TPC-H Q9's shape: orders and customers (one key) meet only through countries (another
    # source); one fragment holding both would be their cross product.
    result = federated(
        "SELECT o.id, c.name FROM orders o, customers c, countries k "
        "WHERE o.status = k.code AND c.country = k.code AND o.amount > 5"
    )
    assert fragment_sql(result, "pg") == ['SELECT o."id", o."status" FROM "sales"."orders" AS o WHERE o.amount > 5']
    assert fragment_sql(result, "pg_same") == ['SELECT c."name", c."country" FROM "crm"."customers" AS c']


def test_outer_joins_keep_conditions_on_the_null_side_local() -> None:
    result = federated(
        "SELECT * FROM orders o LEFT JOIN countries k ON k.code = o.status AND k.region = 'EU' "
        "WHERE k.name IS NULL AND o.amount > 5"
    )
    assert fragment_sql(result, "duck")[0].endswith("WHERE k.region = 'EU'")  # its own ON clause may move
    assert fragment_sql(result, "pg")[0].endswith("WHERE o.amount > 5")
    assert "WHERE k.name IS NULL" in result.local_sql  # filtering NULL-extended rows stays after the join
    right = federated("SELECT o.id FROM orders o RIGHT JOIN countries k ON k.code = o.status WHERE o.amount > 5")
    assert "WHERE" not in fragment_sql(right, "pg")[0]
    assert "o.amount > 5" in right.local_sql


def test_conditions_that_read_more_than_one_table_stay_local() -> None:
    result = federated(
        "SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM countries k WHERE k.code = o.status AND k.region = 'EU') "
        "AND o.amount > (SELECT max(id) FROM countries) AND (o.id = 1 OR o.id = 2)"
    )
    assert fragment_sql(result, "pg") == [
        'SELECT o."id", o."amount", o."status" FROM "sales"."orders" AS o WHERE (o.id = 1 OR o.id = 2)'
    ]
    assert fragment_sql(result, "duck")[0] == 'SELECT k."code" FROM "ref"."countries" AS k WHERE k.region = \'EU\''
    assert "k.code = o.status" in result.local_sql


def test_unattributable_unqualified_columns_stay_local() -> None:
    ambiguous = federated("SELECT 1 FROM orders o, other.customers c WHERE id = 3 AND amount > 1")
    assert fragment_sql(ambiguous, "pg")[0].endswith("WHERE amount > 1")
    assert "WHERE" not in fragment_sql(ambiguous, "pg_other")[0]
    assert "WHERE id = 3" in ambiguous.local_sql
    unknown = federated("SELECT 1 FROM orders o, (SELECT 1 AS z) s, countries k WHERE amount > 1 AND k.region = 'EU'")
    assert "WHERE" not in fragment_sql(unknown, "pg")[0]  # the derived table might have `amount`
    assert fragment_sql(unknown, "duck")[0].endswith("WHERE k.region = 'EU'")
    assert "amount > 1" in unknown.local_sql


def test_stars_and_column_aliases_read_every_column() -> None:
    result = federated("SELECT * FROM orders o, countries AS k(a, b, c) WHERE k.a = o.status")
    assert fragment_sql(result, "pg") == [
        'SELECT o."id", o."customer_id", o."amount", o."status" FROM "sales"."orders" AS o'
    ]
    assert fragment_sql(result, "duck") == ['SELECT k."code", k."name", k."region" FROM "ref"."countries" AS k']
    counted = federated("SELECT count(*) FROM orders, countries")
    assert fragment_sql(counted, "pg") == ['SELECT TRUE AS veil_row FROM "sales"."orders" AS "orders"']


def test_parameters_are_renumbered_per_query() -> None:
    result = federated("SELECT o.id FROM orders o, countries k WHERE k.code = $2 AND o.id < $1 LIMIT $3")
    (pg,) = [f for f in result.fragments if f.connection == "pg"]
    (duck,) = [f for f in result.fragments if f.connection == "duck"]
    assert pg.sql.endswith("WHERE o.id < $1") and pg.params == (0,)
    assert duck.sql.endswith("WHERE k.code = $1") and duck.params == (1,)
    assert result.local_sql.endswith("LIMIT $1") and result.local_params == (2,)


def test_every_fragment_reads_the_protected_table() -> None:
    seen: list[str] = []

    def protect(t: Table, source_table: exp.Table) -> exp.Subquery:
        seen.append(t.qualified_name)
        inner = exp.select(exp.Star()).from_(source_table).where(f"{t.columns[0].name} > 0")
        return exp.Subquery(this=inner)

    result = federated(
        "SELECT c.name FROM orders o JOIN customers c ON c.id = o.customer_id JOIN countries k ON k.code = c.country",
        protect,
    )
    assert sorted(seen) == ["crm.customers", "ref.countries", "sales.orders"]
    assert '(SELECT * FROM "sales"."orders" WHERE id > 0) AS o' in fragment_sql(result, "pg")[0]
    assert '(SELECT * FROM "crm"."customers" WHERE id > 0) AS c' in fragment_sql(result, "pg")[0]
    assert '(SELECT * FROM "ref"."countries" WHERE code > 0) AS k' in fragment_sql(result, "duck")[0]
    assert '"sales"."orders"' not in result.local_sql


def test_parenthesized_joins_keep_every_table() -> None:
    single = plan("SELECT * FROM (orders o JOIN customers c ON c.id = o.customer_id) JOIN customers d ON d.id = o.id")
    assert isinstance(single, SourcePlan) and single.sql.count('"crm"."customers"') == 2
    result = federated("SELECT o.id FROM (orders o JOIN countries k ON k.code = o.status) JOIN customers c ON c.id = o.id")
    assert len(result.fragments) == 3


def test_whole_subqueries_of_one_source_are_pushed() -> None:
    result = federated(
        "WITH spend AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) "
        "SELECT k.region, sum(s.total) FROM spend s JOIN countries k ON k.code = CAST(s.customer_id AS TEXT) GROUP BY 1"
    )
    assert fragment_sql(result, "pg") == [
        'SELECT customer_id, SUM(amount) AS total FROM "sales"."orders" AS "orders" GROUP BY customer_id'
    ]
    # The CTE gets an internal name (bound by scope); its references keep the user's alias.
    assert 'WITH "__veil_cte_0" AS (SELECT * FROM "__veil_part_0")' in result.local_sql
    assert 'FROM "__veil_cte_0" AS s JOIN' in result.local_sql
    named = federated("SELECT s.count, k.name FROM (SELECT count(*) FROM orders) s, countries k")
    assert fragment_sql(named, "pg") == ['SELECT COUNT(*) AS "count" FROM "sales"."orders" AS "orders"']
    joined = federated("SELECT * FROM countries WHERE code IN (SELECT o.status FROM orders o JOIN customers c ON c.id = o.customer_id)")
    assert fragment_sql(joined, "pg") == [
        'SELECT o.status FROM "sales"."orders" AS o JOIN "crm"."customers" AS c ON c.id = o.customer_id'
    ]


def test_a_table_only_aggregated_is_pre_aggregated_at_its_source() -> None:
    result = federated(
        "SELECT k.region, count(*), sum(o.amount), max(o.id), min(k.name) FROM orders o "
        "JOIN countries k ON k.code = o.status WHERE o.amount > 0 GROUP BY k.region HAVING count(o.id) > 1"
    )
    assert fragment_sql(result, "pg") == [
        ('SELECT o."status", CAST(SUM(o."amount") AS DECIMAL(38, 0)) AS "veil_agg_0", MAX(o."id") AS "veil_agg_1", '
        'COUNT(o."id") AS "veil_agg_2", COUNT(*) AS "veil_rows" FROM "sales"."orders" AS o '
        'WHERE o.amount > 0 GROUP BY o."status"')
    ]
    assert result.local_sql == (
        'SELECT k.region, COALESCE(CAST(SUM(o."veil_rows") AS BIGINT), 0) AS "count", SUM(o."veil_agg_0") AS "sum", '
        'MAX(o."veil_agg_1") AS "max", MIN(k.name) AS "min" FROM "__veil_part_0" AS o JOIN "__veil_part_1" AS k '
        'ON k.code = o.status GROUP BY k.region HAVING COALESCE(CAST(SUM(o."veil_agg_2") AS BIGINT), 0) > 1'
    )
    for sql in (
        "SELECT k.region, count(DISTINCT o.id) FROM orders o JOIN countries k ON k.code = o.status GROUP BY 1",
        "SELECT k.region, sum(o.amount + 1) FROM orders o JOIN countries k ON k.code = o.status GROUP BY 1",
        "SELECT k.region, sum(o.amount) FROM orders o LEFT JOIN countries k ON k.code = o.status GROUP BY 1",
        "SELECT k.region, sum(k.code) FROM orders o JOIN countries k ON k.code = o.status GROUP BY 1",
    ):
        assert "veil_rows" not in " ".join(fragment_sql(federated(sql), "pg")), sql


def test_the_star_of_exists_reads_no_column() -> None:
    result = federated(
        "SELECT o.id FROM orders o WHERE EXISTS (SELECT * FROM other.customers c WHERE c.id = o.customer_id) "
        "AND NOT EXISTS (SELECT c2.* FROM other.customers c2 WHERE c2.name = 'x')"
    )
    assert fragment_sql(result, "pg_other") == [
        'SELECT c."id" FROM "other"."customers" AS c',
        'SELECT TRUE AS veil_row FROM "other"."customers" AS c2 WHERE c2.name = \'x\'',
    ]
    star = federated("SELECT * FROM orders o WHERE o.customer_id IN (SELECT c.id FROM other.customers c)")
    assert fragment_sql(star, "pg") == [
        'SELECT o."id", o."customer_id", o."amount", o."status" FROM "sales"."orders" AS o'
    ], "a star read as rows still reads every column"


def test_an_or_across_sources_sends_each_source_what_it_implies() -> None:
    result = federated(
        "SELECT o.id FROM orders o, other.customers c WHERE (o.customer_id = c.id AND o.status = 1 AND c.country = 'DE') "
        "OR (o.customer_id = c.id AND o.amount > 5 AND (c.country = 'FR' OR c.name LIKE 'A%'))"
    )
    (orders,) = fragment_sql(result, "pg")
    (customers,) = fragment_sql(result, "pg_other")
    assert orders.endswith("WHERE (o.status = 1 OR o.amount > 5)")
    assert customers.endswith("WHERE (c.country = 'DE' OR (c.country = 'FR' OR c.name LIKE 'A%'))")
    assert "(o.customer_id = c.id AND o.status = 1 AND c.country = 'DE') OR" in result.local_sql, "the OR stays"


def test_an_or_implies_nothing_from_a_disjunct_without_the_table_or_on_the_null_side() -> None:
    partial = federated(
        "SELECT o.id FROM orders o, other.customers c WHERE (o.customer_id = c.id AND o.status = 1) OR c.name = 'x'"
    )
    assert "WHERE" not in fragment_sql(partial, "pg")[0], "the second disjunct says nothing about o"
    assert "WHERE" not in fragment_sql(partial, "pg_other")[0], "the first says nothing about c alone"
    both = federated(
        "SELECT o.id FROM orders o, other.customers c WHERE (o.customer_id = c.id AND c.name = 'y') OR c.name = 'x'"
    )
    assert fragment_sql(both, "pg_other")[0].endswith("WHERE (c.name = 'y' OR c.name = 'x')")
    outer = federated(
        "SELECT o.id FROM orders o LEFT JOIN other.customers c ON c.id = o.customer_id "
        "WHERE (o.status = 1 AND c.country = 'DE') OR (o.status = 2 AND c.country IS NULL)"
    )
    assert fragment_sql(outer, "pg")[0].endswith("WHERE (o.status = 1 OR o.status = 2)")
    assert "WHERE" not in fragment_sql(outer, "pg_other")[0], "c is NULL-extended: its rows must all stay"


def test_comma_joined_tables_of_one_key_travel_together_even_when_a_subquery_correlates() -> None:
    result = federated(
        "SELECT o.id FROM orders o, customers c, countries k WHERE c.id = o.customer_id AND k.code = c.country "
        "AND o.status = 1 AND EXISTS (SELECT * FROM other.customers x WHERE x.id = o.customer_id AND x.name <> c.name)"
    )
    (pushed,) = fragment_sql(result, "pg")
    assert 'FROM "sales"."orders" AS o CROSS JOIN "crm"."customers" AS c' in pushed
    assert pushed.endswith("WHERE c.id = o.customer_id AND o.status = 1")
    assert '"o.customer_id"' in pushed and '"c.name"' in pushed and '"c.country"' in pushed
    assert fragment_sql(result, "pg_other") == ['SELECT x."id", x."name" FROM "other"."customers" AS x']
    assert 'x.id = "__veil_part_0"."o.customer_id" AND x.name <> "__veil_part_0"."c.name"' in result.local_sql


def test_a_subquery_on_the_groups_source_moves_into_its_fragment() -> None:
    """TPC-H Q21: EXISTS / NOT EXISTS over lineitem, correlated with l1 only, run with l1's join
    at the source instead of shipping every lineitem three times."""
    seen: list[str] = []

    def protect(t: Table, source_table: exp.Table) -> exp.Subquery:
        seen.append(t.qualified_name)
        return exp.Subquery(this=exp.select(exp.Star()).from_(source_table).where("amount > 0" if t.name == "orders" else "id > 0"))

    result = federated(
        "SELECT x.name FROM orders o, customers c, other.customers x WHERE c.id = o.customer_id AND x.id = o.id "
        "AND EXISTS (SELECT * FROM orders o2 WHERE o2.customer_id = o.customer_id AND o2.id <> o.id) "
        "AND NOT EXISTS (SELECT * FROM orders o3 WHERE o3.customer_id = o.customer_id AND o3.status > o.status)",
        protect,
    )
    (pushed,) = fragment_sql(result, "pg")
    assert pushed.endswith(
        "WHERE c.id = o.customer_id "
        'AND EXISTS(SELECT * FROM (SELECT * FROM "sales"."orders" WHERE amount > 0) AS o2 '
        "WHERE o2.customer_id = o.customer_id AND o2.id <> o.id) "
        'AND NOT EXISTS(SELECT * FROM (SELECT * FROM "sales"."orders" WHERE amount > 0) AS o3 '
        "WHERE o3.customer_id = o.customer_id AND o3.status > o.status)"
    )
    assert '"o.status"' not in pushed and '"o.customer_id"' not in pushed  # read at the source only
    assert "EXISTS" not in result.local_sql and "o2" not in result.local_sql
    assert len(result.fragments) == 2 and seen.count("sales.orders") == 3
    pg = next(f for f in result.fragments if f.connection == "pg")
    assert [t.qualified_name for t in pg.tables] == ["sales.orders", "crm.customers"]


def test_a_subquery_reading_another_source_or_unqualified_columns_stays_local() -> None:
    other = federated(
        "SELECT x.name FROM orders o, customers c, other.customers x WHERE c.id = o.customer_id AND x.id = o.id "
        "AND EXISTS (SELECT * FROM orders o2 WHERE o2.customer_id = x.id)"
    )
    assert all("EXISTS" not in sql for sql in other.pushed_sql) and "EXISTS" in other.local_sql
    across = federated(
        "SELECT x.name FROM orders o, customers c, other.customers x WHERE c.id = o.customer_id AND x.id = o.id "
        "AND EXISTS (SELECT * FROM orders o2 WHERE o2.customer_id = o.customer_id AND o2.id <> x.id)"
    )
    assert all("EXISTS" not in sql for sql in across.pushed_sql) and "EXISTS" in across.local_sql
    unqualified = federated(
        "SELECT x.name FROM orders o, customers c, other.customers x WHERE c.id = o.customer_id AND x.id = o.id "
        "AND EXISTS (SELECT * FROM orders o2 WHERE o2.customer_id = o.customer_id AND amount > 1)"
    )
    assert all("EXISTS" not in sql for sql in unqualified.pushed_sql) and "EXISTS" in unqualified.local_sql
    outer = federated(
        "SELECT x.name FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN other.customers x ON x.id = o.id "
        "WHERE EXISTS (SELECT * FROM orders o2 WHERE o2.customer_id = o.customer_id AND o2.id <> o.id)"
    )
    assert all("EXISTS" not in sql for sql in outer.pushed_sql) and "EXISTS" in outer.local_sql


def test_a_nested_name_that_shadows_a_table_keeps_the_tables_apart() -> None:
    result = federated(
        "SELECT o.id FROM orders o, customers c WHERE c.id = o.customer_id "
        "AND EXISTS (SELECT * FROM other.customers o WHERE o.id = c.id)"
    )
    assert len(fragment_sql(result, "pg")) == 1 and len(fragment_sql(result, "pg_same")) == 1
    assert "CROSS JOIN" not in " ".join(result.pushed_sql)


def test_fragments_scanned_once_outside_ctes_may_stream() -> None:
    result = federated(
        "WITH c AS (SELECT id, country FROM other.customers) "
        "SELECT o.id FROM orders o JOIN c ON c.id = o.customer_id WHERE c.country = (SELECT min(country) FROM c)"
    )
    orders = next(f.name for f in result.fragments if f.connection == "pg")
    customers = next(f.name for f in result.fragments if f.connection == "pg_other")
    assert result.single_scan == {orders}, customers
    twice = federated("SELECT o.id FROM orders o JOIN other.customers c ON c.id = o.customer_id")
    assert twice.single_scan == {f.name for f in twice.fragments}


def test_correlated_or_trivial_subqueries_are_not_pushed_whole() -> None:
    correlated = federated(
        "SELECT k.name FROM countries k WHERE EXISTS (SELECT 1 FROM orders o WHERE o.status = k.code GROUP BY o.status)"
    )
    assert fragment_sql(correlated, "pg") == ['SELECT o."status" FROM "sales"."orders" AS o']
    plain = federated("SELECT k.name FROM countries k WHERE k.code IN (SELECT status FROM orders WHERE amount > 1)")
    assert fragment_sql(plain, "pg") == ['SELECT "orders"."status" FROM "sales"."orders" AS "orders" WHERE amount > 1']


# -- execution: federation gives the single-source answer -------------------------------------

SHAPES = [
    "SELECT * FROM t1 JOIN t2 ON t2.k = t1.k",
    "SELECT t1.id, t2.v FROM t1 LEFT JOIN t2 ON t2.k = t1.k AND t2.v > 2 WHERE t2.v IS NULL OR t1.a > 3",
    "SELECT t1.id, t2.v FROM t1 RIGHT JOIN t2 ON t2.k = t1.k WHERE t2.v > 1 AND t1.a IS NULL",
    "SELECT t1.id, t2.id FROM t1 FULL JOIN t2 ON t2.k = t1.k AND t1.a > 2 WHERE coalesce(t1.a, 0) < 5",
    "SELECT t1.k, count(*), sum(t2.v), max(t1.a) FROM t1 JOIN t2 USING (k) GROUP BY t1.k HAVING count(*) > 1",
    "SELECT * FROM t1 NATURAL JOIN t2",
    "SELECT id FROM t1 WHERE k IN (SELECT k FROM t2 WHERE v > 2) AND a IS NOT NULL",
    "SELECT id FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.k AND t2.v < a)",
    "SELECT id, (SELECT max(v) FROM t2 WHERE t2.k = t1.k) AS top FROM t1",
    "SELECT k FROM t1 UNION SELECT k FROM t2 EXCEPT SELECT k FROM t2 WHERE v > 4",
    "WITH j AS (SELECT t1.k, t2.v FROM t1 JOIN t2 ON t1.k = t2.k) SELECT k, count(*) AS n FROM j GROUP BY k",
    "SELECT t1.id, row_number() OVER (PARTITION BY t2.k ORDER BY t2.v, t2.id) FROM t1 JOIN t2 ON t1.k = t2.k",
    "SELECT DISTINCT t2.v FROM t1, t2 WHERE t1.k = t2.k AND t1.a + t2.v > 4 ORDER BY 1 LIMIT 3",
    "SELECT s.n FROM (SELECT count(*) FROM t1 JOIN t2 ON t1.k = t2.k) AS s(n)",
    "SELECT x.id, y.id FROM t1 x JOIN t1 y ON x.k = y.a JOIN t2 ON t2.id = x.id",
    "SELECT t1.id, l.v FROM t1 CROSS JOIN LATERAL (SELECT v FROM t2 WHERE t2.k = t1.k ORDER BY v LIMIT 1) l",
    "SELECT * FROM (t1 JOIN t2 ON t1.k = t2.k) WHERE t2.v = 3",
    "SELECT t1.id FROM t1 JOIN t2 ON t1.k = t2.k WHERE t1.a = $1 OR t2.v = $2",
    "WITH a AS (SELECT k, count(*) AS n FROM t1 GROUP BY k) SELECT a.k, a.n, t2.v FROM a JOIN t2 ON t2.k = a.k",
    "SELECT s.count, t2.v FROM (SELECT count(*) FROM t1 WHERE a > 1) s, t2",
    "SELECT id FROM t2 WHERE k IN (SELECT k FROM t1 GROUP BY k HAVING count(*) > 1)",
    "SELECT t2.id, (SELECT max(a) FROM t1) AS top FROM t2 WHERE v < (SELECT avg(a) FROM t1)",
    "SELECT * FROM t2 WHERE EXISTS (SELECT 1 FROM t1 WHERE t1.k = t2.k GROUP BY t1.k)",
    "SELECT k FROM (SELECT k FROM t1 UNION ALL SELECT a FROM t1) u JOIN t2 USING (k)",
    "SELECT t2.k, count(*), sum(t1.a), count(t1.a), min(t1.a), max(t1.id), max(t2.v) FROM t1 JOIN t2 ON t2.k = t1.k GROUP BY t2.k",
    "SELECT sum(t1.a) AS s, count(*) FROM t1 JOIN t2 ON t2.k = t1.k WHERE t2.v > 1 AND t1.id > 1",
    "SELECT t2.v, sum(t1.a) FROM t1, t2 WHERE t1.k = t2.k AND t1.a + t2.v > 3 GROUP BY t2.v HAVING sum(t1.a) > 1 ORDER BY 2, 1",
    "SELECT t2.id, max(t1.a) FROM t1 JOIN t2 ON t1.k < t2.k GROUP BY t2.id",
    "SELECT count(*), sum(t1.a) FROM t1 JOIN t2 ON t2.k = t1.k WHERE t2.v > 100",
    "SELECT t2.k, sum(t1.a), count(DISTINCT t1.a) FROM t1 JOIN t2 ON t2.k = t1.k GROUP BY t2.k",
    (
        "SELECT t1.id, t2.id FROM t1, t2 WHERE (t1.k = t2.k AND t1.a > 2 AND t2.v > 1) "
        "OR (t1.k = t2.k AND t1.a IS NULL AND (t2.v IS NULL OR t2.v < 3))"
    ),
    "SELECT x.id, y.id FROM t1 x, t1 y WHERE x.k = y.a AND EXISTS (SELECT * FROM t2 WHERE t2.k = x.k AND t2.v <> y.id)",
    "SELECT id FROM t1 WHERE NOT EXISTS (SELECT * FROM t2 WHERE t2.k = t1.k)",
    (
        "SELECT x.id, t2.v FROM t1 x, t1 y, t2 WHERE x.k = y.a AND t2.k = x.k AND NOT EXISTS "
        "(SELECT * FROM t1 z WHERE z.k = x.k AND z.id <> x.id) AND EXISTS (SELECT * FROM t1 w WHERE w.a = y.a)"
    ),
    "SELECT t1.id, t2.id FROM t1, t2 WHERE (t1.k = t2.k AND t1.a > 1 AND t2.v < 5) OR (t2.k = t1.k AND t1.a < 6 AND t2.id > 11)",
    "WITH c AS (SELECT * FROM t2) SELECT t1.id FROM t1 JOIN c ON c.k = t1.k WHERE c.v > (SELECT min(v) FROM c)",
    "SELECT t1.id FROM t1 JOIN t2 ON t1.k = t2.k ORDER BY 1 LIMIT 2",
]
T1 = [(1, 1, 1), (2, 1, None), (3, 2, 5), (4, None, 2), (5, 3, 3), (6, 4, 7)]
T2 = [(10, 1, 1), (11, 1, 4), (12, 2, None), (13, 5, 3), (14, None, 5), (15, 3, 2)]


def _write(path: Path, tables: dict[str, list[tuple[object, ...]]]) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA s")
    columns = {"t1": "id INT, k INT, a INT", "t2": "id INT, k INT, v INT"}
    for name, rows in tables.items():
        connection.execute(f"CREATE TABLE s.{name} ({columns[name]})")
        connection.executemany(f"INSERT INTO s.{name} VALUES (?, ?, ?)", rows)
    connection.close()


def _engine(connections: dict[str, Path]) -> QueryEngine:
    config = parse_config({
        "server": {"search_path": "s"},
        "cache": {"default_latency": 0},
        "connections": {name: {"type": "duckdb", "path": str(path)} for name, path in connections.items()},
        "users": {"u": {}},
        "policies": [
            {"name": "all", "subscription": {"tables": ["*"], "allow": {"users": ["u"]}}},
            # The same policies on both layouts: they travel inside every fragment.
            {"name": "rows", "row_filter": {"tables": ["s.t1"], "where": "id <> 6"}},
            {"name": "mask", "mask": {"tables": ["s.t2"], "columns": ["v"], "with": "custom", "sql": "@column * 10"}},
        ],
    })
    return QueryEngine(config)


async def _rows(engine: QueryEngine, sql: str) -> list[tuple[object, ...]]:
    session = Session(engine, SessionInfo(user="u", database="veil"))
    prepared = await session.prepare(sql, [])
    params = [3, 3][: len(prepared.param_oids)]
    stream = await session.execute(prepared, params)
    batches = [b async for b in stream]
    table = pa.Table.from_batches(batches, schema=stream.schema)
    return [tuple(row.values()) for row in table.to_pylist()]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[QueryEngine, QueryEngine]]:
    directory = tmp_path_factory.mktemp("federation-equivalence")
    _write(directory / "both.duckdb", {"t1": T1, "t2": T2})
    _write(directory / "one.duckdb", {"t1": T1})
    _write(directory / "two.duckdb", {"t2": T2})
    single = _engine({"both": directory / "both.duckdb"})
    split = _engine({"one": directory / "one.duckdb", "two": directory / "two.duckdb"})
    yield single, split
    single.close()
    split.close()


@pytest.mark.parametrize("sql", SHAPES)
def test_federation_answers_like_the_single_source(engines: tuple[QueryEngine, QueryEngine], sql: str) -> None:
    single, split = engines
    expected = asyncio.run(_rows(single, sql))
    actual = asyncio.run(_rows(split, sql))
    ordered = "ORDER BY" in sql and "OVER" not in sql
    assert actual == expected if ordered else sorted(actual, key=repr) == sorted(expected, key=repr)


def test_policies_apply_on_both_layouts(engines: tuple[QueryEngine, QueryEngine]) -> None:
    for engine in engines:
        rows = asyncio.run(_rows(engine, "SELECT t1.id, t2.v FROM t1 LEFT JOIN t2 ON t2.k = t1.k"))
        assert 6 not in {r[0] for r in rows}, "the row filter hides t1.id = 6"
        assert {r[1] for r in rows if r[1] is not None} <= {10, 20, 30, 40, 50}, "v is masked (times ten)"


def test_a_fragment_used_once_streams_so_a_limit_stops_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.duckdb"
    connection = duckdb.connect(str(big))
    connection.execute("CREATE SCHEMA s")
    connection.execute("CREATE TABLE s.t1 AS SELECT i::INT AS id, (i % 5)::INT AS k, i::INT AS a FROM range(2000000) r(i)")
    connection.close()
    _write(tmp_path / "small.duckdb", {"t2": T2})
    engine = _engine({"one": big, "two": tmp_path / "small.duckdb"})

    async def run() -> tuple[int, int]:
        session = Session(engine, SessionInfo(user="u", database="veil"))
        prepared = await session.prepare("SELECT t1.id FROM t1 JOIN t2 ON t2.k = t1.k LIMIT 3", [])
        stream = await session.execute(prepared, [])
        execution = session._running
        rows = sum([b.num_rows async for b in stream])
        return rows, execution.source_bytes

    try:
        rows, read = asyncio.run(run())
    finally:
        engine.close()
    assert rows == 3
    # Materialised, t1's fragment (id, k: 2M rows of two INTs) would be 16 MB read in full.
    assert read < 4_000_000, f"{read} bytes read: the fragment was not streamed"
