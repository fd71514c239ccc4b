import pyarrow as pa

from veil.catalog.model import Column, Table
from veil.config import parse_config
from veil.policy.principals import User
from veil.policy.resolve import resolve_table_policy

TABLE = Table(
    "w", "sales", "people", "sales", "people",
    (Column("email", pa.string()), Column("name", pa.string()), Column("created", pa.timestamp("us"))),
)


def config(policies: list[dict], tables: dict | None = None):
    return parse_config({"secrets": {"hash_key": "k"}, "policies": policies, "tables": tables or {}})


TAGS = {"w.sales.people": {"tags": {"email": ["PII.Email"], "name": ["PII"]}, "event_time": "created"}}


def test_deeper_tag_wins_regardless_of_order() -> None:
    cfg = config(
        [
            {"name": "generic", "mask": {"column_tags": ["PII"], "with": "null"}},
            {"name": "emails", "mask": {"column_tags": ["PII.Email"], "with": "email_domain"}},
        ],
        TAGS,
    )
    policy = resolve_table_policy(User("u"), TABLE, cfg.policies, cfg.tables["w.sales.people"])
    assert policy.masks["email"].policy == "emails"
    assert policy.masks["name"].policy == "generic"
    assert "created" not in policy.masks


def test_first_listed_wins_at_equal_depth() -> None:
    cfg = config(
        [
            {"name": "first", "mask": {"column_tags": ["PII"], "with": "hash"}},
            {"name": "second", "mask": {"column_tags": ["PII"], "with": "null"}},
        ],
        TAGS,
    )
    policy = resolve_table_policy(User("u"), TABLE, cfg.policies, cfg.tables["w.sales.people"])
    assert policy.masks["name"].policy == "first"


def test_except_and_for_select_users() -> None:
    cfg = config(
        [
            {"name": "m", "mask": {"column_tags": ["PII"], "with": "hash", "except": {"groups": ["Fraud"]}}},
            {"name": "f", "row_filter": {"where": "TRUE", "for": {"attributes": {"tier": "gold"}}}},
        ],
        TAGS,
    )
    table_config = cfg.tables["w.sales.people"]
    fraud = resolve_table_policy(User("f", frozenset({"Fraud"})), TABLE, cfg.policies, table_config)
    gold = resolve_table_policy(User("g", attributes={"tier": ("gold",)}), TABLE, cfg.policies, table_config)
    assert fraud.masks == {} and fraud.filters == ()
    assert set(gold.masks) == {"email", "name"}
    assert [f.policy for f in gold.filters] == ["f"]


def test_row_filters_and_time_windows_accumulate() -> None:
    cfg = config(
        [
            {"name": "a", "row_filter": {"tables": ["w.sales.*"], "where": "name = 'x'"}},
            {"name": "b", "row_filter": {"tables": ["other.*"], "where": "FALSE"}},
            {"name": "c", "time_window": {"tables": ["sales.people"], "last": "90d"}},
        ],
        TAGS,
    )
    policy = resolve_table_policy(User("u"), TABLE, cfg.policies, cfg.tables["w.sales.people"])
    assert [(f.policy, f.kind) for f in policy.filters] == [("a", "row_filter"), ("c", "time_window")]
    assert policy.filters[1].seconds == 90 * 86400
    assert policy.filters[1].event_time == "created"


def test_time_window_without_event_time_shows_nothing() -> None:
    cfg = config([{"name": "c", "time_window": {"last": "1d"}}])
    policy = resolve_table_policy(User("u"), TABLE, cfg.policies, None)
    assert policy.filters[0].condition == "FALSE"
