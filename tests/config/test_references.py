"""References in veil.yaml that name nothing: users, groups, table keys, columns, patterns."""

from __future__ import annotations

import pyarrow as pa

from veil.catalog.model import Column, Table
from veil.catalog.references import catalog_problems
from veil.config import parse_config
from veil.config.references import principal_problems, reload_refusal

ORDERS = Table(
    "wh", "sales", "orders", "sales", "orders",
    (Column("id", pa.int64()), Column("customer", pa.string()), Column("created", pa.timestamp("us"))),
)
SNOW = Table("snow", "crm", "people", "CRM", "PEOPLE", (Column("email", pa.string(), source_name="EMAIL"),))


def _config(**sections: object):
    base: dict[str, object] = {
        "users": {"alice": {"groups": ["Analytics"]}, "bob": {"groups": ["Support"]}},
    }
    return parse_config({**base, **sections})


def test_principals_that_nobody_matches_are_reported_with_the_closest_name() -> None:
    config = _config(policies=[
        {"name": "a", "subscription": {"allow": {"groups": ["Analytics", "Suport"], "users": ["alise"]}}},
        {"name": "b", "mask": {"columns": ["x"], "with": "null", "for": {"groups": ["Analytcs"]},
                               "except": {"users": ["zed"]}}},
        {"name": "c", "row_filter": {"where": "true", "for": {"groups": ["Support"], "users": ["bob"]}}},
    ])
    found = {(p.path, p.suggestion) for p in principal_problems(config)}
    assert found == {
        ("policies[0].subscription.allow.groups[1]", "Support"),
        ("policies[0].subscription.allow.users[0]", "alice"),
        ("policies[1].mask.for.groups[0]", "Analytics"),
        ("policies[1].mask.except.users[0]", None),
    }


def test_catalog_references_are_checked_in_either_column_spelling() -> None:
    config = _config(
        tables={
            "wh.sales.ordres": {"tags": {"customer": ["PII"]}},
            "wh.sales.orders": {"tags": {"custmer": ["PII"], "customer": ["PII"]}, "event_time": "created"},
            "snow.CRM.PEOPLE": {"tags": {"EMAIL": ["PII"], "email": ["PII"]}, "event_time": "mail"},
        },
        policies=[
            {"name": "m", "mask": {"tables": ["wh.sales.*"], "columns": ["custom*", "emial"], "with": "null"}},
            {"name": "r", "row_filter": {"tables": ["sales.ordrs", "crm.*"], "where": "true"}},
        ],
    )
    found = {(p.path, p.suggestion) for p in catalog_problems(config, [ORDERS, SNOW])}
    assert found == {
        ("tables.wh.sales.ordres", "wh.sales.orders"),
        ("tables.wh.sales.orders.tags.custmer", "customer"),
        ("tables.snow.CRM.PEOPLE.event_time", "email"),
        ("policies[0].mask.columns[1]", None),
        ("policies[1].row_filter.tables[0]", "sales.orders"),
    }


def test_connections_that_could_not_be_listed_are_not_judged() -> None:
    config = _config(
        tables={"snow.CRM.PEOPLE": {"tags": {"nothing": ["PII"]}}},
        policies=[{"name": "r", "row_filter": {"tables": ["snow.*"], "where": "true"}}],
    )
    assert catalog_problems(config, [ORDERS], unknown={"snow"}) == []


def test_a_reload_that_removes_every_user_or_connection_is_refused() -> None:
    current = parse_config({"users": {"a": {}}, "connections": {"c": {"type": "duckdb", "path": "x.duckdb"}}})
    assert reload_refusal(current, current) is None
    assert "every user" in (reload_refusal(current, parse_config({"connections": {"c": {"type": "duckdb", "path": "x"}}})) or "")
    assert "every connection" in (reload_refusal(current, parse_config({"users": {"a": {}}})) or "")


def test_a_mask_that_does_not_fit_its_column_type_is_reported_with_its_yaml_path() -> None:
    config = _config(
        tables={"wh.sales.orders": {"tags": {"id": ["PII.Email"]}}},
        policies=[
            {"name": "r", "mask": {"tables": ["wh.sales.orders"], "columns": ["customer"], "with": "round"}},
            {"name": "y", "mask": {"tables": ["wh.sales.orders"], "columns": ["id", "created"], "with": "year"}},
            {"name": "e", "mask": {"column_tags": ["PII.Email"], "with": "email_domain"}},
            {"name": "ok", "mask": {"columns": ["created"], "with": "round", "unit": "month"}},
            {"name": "ok2", "mask": {"columns": ["email"], "with": "email_domain"}},
        ],
    )
    found = {(p.path, p.problem) for p in catalog_problems(config, [ORDERS, SNOW])}
    assert found == {
        ("policies[0].mask.with", "cannot mask wh.sales.orders.customer: `round` with `digits` rounds numbers, not text"),
        ("policies[1].mask.with",
         "cannot mask wh.sales.orders.id: `year` takes the year of dates and timestamps, not bigint"),
        ("policies[2].mask.with", "cannot mask wh.sales.orders.id: `email_domain` masks text, not bigint"),
    }
