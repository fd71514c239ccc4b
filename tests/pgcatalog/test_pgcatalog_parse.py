"""Parsing what sqlglot rejects as written, and routing statements to the local engine."""

from __future__ import annotations

import pytest
from sqlglot import exp

from tests.pgcatalog.clientlog import all_captured
from veil.errors import VeilError
from veil.pgcatalog import parse_postgres, references_local_only
from veil.pgcatalog.parse import normalize_tokens


def test_asyncpg_introspection_parses() -> None:
    sql = next(e.sql for e in all_captured() if "WITH RECURSIVE typeinfo_tree" in e.sql)
    [statement] = parse_postgres(sql)
    casts = [c for c in statement.find_all(exp.Cast) if c.this.find(exp.Parameter)]
    assert [c.to.sql(dialect="postgres") for c in casts] == ["pg_catalog.oid[]"]


def test_token_normalisation_leaves_literals_alone() -> None:
    sql = "select $1::oid[], 'x::oid[] as update,' as update, t.select, cast(a as int) from t"
    assert normalize_tokens(sql) == (
        "select $1::pg_catalog.oid[], 'x::oid[] as update,' as \"update\", t.\"select\", "
        "cast(a as int) from t"
    )


def test_reg_arrays_and_keyword_labels_parse() -> None:
    assert parse_postgres("select x::regclass[], y::regtype[] from t")
    [statement] = parse_postgres("select 1 as select, 2 as delete from t")
    assert [e.alias for e in statement.expressions] == ["select", "delete"]


def test_syntax_errors_are_42601() -> None:
    with pytest.raises(VeilError) as error:
        parse_postgres("selec 1 frm")
    assert error.value.sqlstate == "42601"


def _user_table(schema: str | None, name: str) -> bool:
    return (schema in (None, "sales")) and name in ("orders", "pg_class_copy")


@pytest.mark.parametrize(
    ("sql", "local"),
    [
        ("select 1", True),
        ("select * from pg_class", True),
        ("select * from pg_catalog.pg_class c join information_schema.tables t on true", True),
        ("select * from generate_series(1, 3)", True),
        ("with orders as (select 1) select * from orders", True),
        ("select * from orders", False),
        ("select * from sales.orders", False),
        ("select (select count(*) from sales.orders)", False),
        ("select * from pg_class where oid in (select 1 from orders)", False),
        ("select * from nope", True),
    ],
)
def test_references_local_only(sql: str, local: bool) -> None:
    assert references_local_only(parse_postgres(sql)[0], _user_table) is local


def test_pg_catalog_comes_first_for_unqualified_names() -> None:
    statement = parse_postgres("select * from pg_class")[0]
    assert references_local_only(statement, lambda schema, name: True)
