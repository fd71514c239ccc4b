"""Columns of a source that folds identifiers to upper case (Snowflake) are served lower-cased,
and every SQL Veil sends there reads them by the source's spelling."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from veil.catalog.assemble import veil_table
from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.naming import served_column_names
from veil.catalog.records import StoredColumn, StoredTable
from veil.config import parse_config
from veil.config.models import ConnectionConfig
from veil.errors import VeilError
from veil.planner.federation.plan import plan_federated
from veil.planner.pushdown import analyze, plan_single_source, source_table
from veil.policy.principals import User
from veil.policy.resolve import resolve_table_policy
from veil.policy.rewrite import PolicyContext, protected_table

SNOWFLAKE = ConnectionConfig.model_validate(
    {"type": "snowflake", "account": "a", "user": "u", "password": "p", "database": "DB"}
)
POSTGRES = ConnectionConfig.model_validate({"type": "postgres", "host": "h", "database": "d", "user": "u"})


@pytest.mark.parametrize(("names", "served"), [
    (["ID", "ORDER_ID", "A$B", "_X1"], ["id", "order_id", "a$b", "_x1"]),
    (["MixedCase", "first name", "lower", "1ABC"], ["MixedCase", "first name", "lower", "1ABC"]),
    (["NAME", "name", "EMAIL"], ["NAME", "name", "email"]),  # no silent shadowing
    (["NAME", "Name"], ["name", "Name"]),  # distinct names for PostgreSQL
])
def test_upper_case_names_are_served_lower_case(names: list[str], served: list[str]) -> None:
    assert served_column_names(names, "snowflake") == served


def test_other_sources_keep_their_names() -> None:
    for dialect in ("postgres", "duckdb", "databricks"):
        assert served_column_names(["ID", "name"], dialect) == ["ID", "name"]


def _stored(*names: str, new: tuple[str, ...] = ()) -> StoredTable:
    columns = tuple(StoredColumn(n, pa.string(), is_new=n in new) for n in names)
    return StoredTable("snow", "DB", "CRM", "CUSTOMERS", columns, "active")


def test_catalog_serves_lower_case_and_remembers_the_source_spelling() -> None:
    table = veil_table(SNOWFLAKE, _stored("ID", "EMAIL", "NAME", "name", "MixedCase", new=("EMAIL",)))
    assert [(c.name, c.source_name) for c in table.columns] == [
        ("id", "ID"), ("email", "EMAIL"), ("NAME", None), ("name", None), ("MixedCase", None),
    ]
    assert table.new_columns == ("email",)
    assert table.arrow_schema().names == ["id", "email", "NAME", "name", "MixedCase"]
    assert table.find_column("EMAIL") is table.column("email")
    assert veil_table(POSTGRES, _stored("ID")).columns[0].source_name is None


TABLE = veil_table(SNOWFLAKE, _stored("ID", "EMAIL", "COUNTRY", "NAME", "name"))
SNAPSHOT = CatalogSnapshot((TABLE,))


def _analysis(sql: str):
    statement = sqlglot.parse_one(sql, read="postgres")
    return statement, analyze(statement, SNAPSHOT, ["crm"], frozenset())


def test_pushed_sql_reads_the_source_spelling_and_quotes_what_postgres_folded() -> None:
    statement, analysis = _analysis("SELECT c.id, email, name, \"NAME\" FROM crm.customers c WHERE Country = 'US'")
    sql = plan_single_source(statement, analysis, [], "snowflake").sql
    assert '"ID" AS "id"' in sql and '"EMAIL" AS "email"' in sql and '"COUNTRY" AS "country"' in sql
    assert '"NAME" AS "NAME"' in sql and '"name" AS "name"' in sql
    assert sql.startswith('SELECT "c"."id", "email", "name", "NAME" FROM (SELECT')
    assert "\"country\" = 'US'" in sql
    assert '"DB"."CRM"."CUSTOMERS"' in sql


def _policy(tags: dict[str, list[str]], where: str, names: tuple[str, ...] = ("name",)):
    cfg = parse_config({
        "secrets": {"hash_key": "k"}, "tables": {"snow.CRM.CUSTOMERS": {"tags": tags}},
        "policies": [
            {"name": "hash", "mask": {"column_tags": ["PII.Email"], "with": "hash"}},
            {"name": "by name", "mask": {"columns": list(names), "with": "null"}},
            {"name": "rows", "row_filter": {"tables": ["snow.CRM.CUSTOMERS"], "where": where}},
        ],
    })
    return resolve_table_policy(User("u"), TABLE, cfg.policies, cfg.tables["snow.CRM.CUSTOMERS"])


@pytest.mark.parametrize(("tags", "where"), [
    ({"EMAIL": ["PII.Email"]}, "\"COUNTRY\" = 'US'"),  # the source's spelling
    ({"email": ["PII.Email"]}, "country = 'US'"),  # the served name
])
def test_policies_apply_whichever_spelling_the_config_uses(tags: dict[str, list[str]], where: str) -> None:
    policy = _policy(tags, where)
    assert set(policy.masks) == {"email", "name"}
    derived = protected_table(TABLE, _raw_source(), policy, PolicyContext(User("u"), "snowflake", "k"))
    assert derived is not None
    projected = {e.alias: e.this.sql("snowflake") for e in derived.this.expressions}
    guard = "CASE WHEN \"veil_raw\".\"COUNTRY\" = 'US' THEN "
    assert projected["id"] == guard + '"veil_raw"."ID" END'
    assert projected["NAME"] == guard + '"veil_raw"."NAME" END'  # "name" is masked, "NAME" is not
    # Neither the raw e-mail nor the lower-case "name" column is projected unmasked.
    assert projected["email"] == guard + "LOWER(SHA2('k:' || CAST(\"veil_raw\".\"EMAIL\" AS VARCHAR), 256)) END"
    assert projected["name"] == guard + 'CASE WHEN FALSE THEN "veil_raw"."name" END END'


def _raw_source() -> exp.Table:
    return source_table(TABLE, "snowflake")


def test_mask_by_name_matches_either_spelling_but_not_a_colliding_column() -> None:
    assert set(_policy({}, "TRUE", ("EMAIL",)).masks) == {"email"}
    assert set(_policy({}, "TRUE", ("email", "country")).masks) == {"email", "country"}
    assert set(_policy({}, "TRUE", ("name",)).masks) == {"name"}  # not "NAME": it kept its spelling


def test_unknown_column_in_a_policy_condition_is_refused() -> None:
    policy = _policy({}, "nope = 1")
    with pytest.raises(VeilError) as raised:
        protected_table(TABLE, _raw_source(), policy, PolicyContext(User("u"), "snowflake", "k"))
    assert raised.value.sqlstate == "42703"


class _Placement:
    def __init__(self, dialect: str, key: str) -> None:
        self.dialect = dialect
        self.connection_key = key


def test_cross_source_fragment_renames_only_what_it_needs() -> None:
    other = Table("pg", "shop", "orders", "shop", "orders",
                  tuple(veil_table(POSTGRES, StoredTable("pg", None, "shop", "orders",
                        (StoredColumn("customer_id", pa.int64()),), "active")).columns))
    snapshot = CatalogSnapshot((TABLE, other))
    statement = sqlglot.parse_one(
        "SELECT c.email, count(*) FROM shop.orders o JOIN crm.customers c ON c.id = o.customer_id GROUP BY 1",
        read="postgres",
    )
    analysis = analyze(statement, snapshot, ["public"], frozenset())
    places = {"snow": _Placement("snowflake", "s"), "pg": _Placement("postgres", "p")}
    plan = plan_federated(statement, analysis, [], places)
    snow = next(f.sql for f in plan.fragments if f.connection == "snow")
    assert '"EMAIL" AS "email"' in snow and '"ID" AS "id"' in snow and '"DB"."CRM"."CUSTOMERS"' in snow
    assert 'SELECT "c"."id", "c"."email" FROM' in snow or 'SELECT "c"."email", "c"."id" FROM' in snow
    assert "c.email" in plan.local_sql and "EMAIL" not in plan.local_sql
