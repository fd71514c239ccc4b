"""Table tags kept in the source system: object sync copies them, every policy that selects
tables by tag sees them like the config's ``table_tags``, and they survive a sync that cannot read
them. A DuckDB source stands in for a tagging source (Snowflake and Databricks are covered end to
end in tests/catalog/sources/)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from veil.catalog.registry import build_catalog, open_source
from veil.catalog.sources.base import Source, SourceTable, SourceTag
from veil.catalog.sync import SOURCE_TAGS_CHANGED, sync_connections
from veil.config import parse_config
from veil.config.models import VeilConfig
from veil.engine.engine import QueryEngine
from veil.errors import VeilError
from veil.policy.principals import User


@dataclass
class TaggingSource:
    """A real source whose ``list_tags`` answers what the test sets (or raises)."""

    inner: Source
    tags: list[SourceTag] = field(default_factory=list)
    failure: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_tables(self) -> list[SourceTable]:
        return self.inner.list_tables()

    def list_tags(self) -> list[SourceTag]:
        if self.failure is not None:
            raise self.failure
        return list(self.tags)


@pytest.fixture
def config(tmp_path: Path) -> VeilConfig:
    path = tmp_path / "wh.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA s")
    connection.execute("CREATE TABLE s.orders AS SELECT * FROM (VALUES (1, 12.5), (2, 1.0), (3, 99.0)) v(id, amount)")
    connection.execute("CREATE TABLE s.events AS SELECT 1 AS id, TIMESTAMP '2001-01-01' AS at")
    connection.execute("CREATE TABLE s.people AS SELECT 1 AS id, 'Ada' AS name")
    connection.close()
    return parse_config({
        "state_dir": str(tmp_path / "state"),
        "connections": {"w": {"type": "duckdb", "path": str(path)}},
        "tables": {"w.s.orders": {"table_tags": ["Finance"]}, "w.s.events": {"event_time": "at"}},
        "policies": [
            {"name": "Sales tables", "subscription": {"table_tags": ["Domain.Sales"], "allow": "everyone"}},
            {"name": "Big orders", "row_filter": {"table_tags": ["Domain"], "where": "amount > 5"}},
            {"name": "Recent", "time_window": {"table_tags": ["Recent"], "last": "1d"}},
        ],
    })


@pytest.fixture
def source(config: VeilConfig) -> Iterator[TaggingSource]:
    wrapped = TaggingSource(open_source("w", config.connections["w"]))
    yield wrapped
    wrapped.inner.close()


def _sync(config: VeilConfig, source: TaggingSource) -> list[tuple[str, str]]:
    results = sync_connections(config, {"w": source}, trigger="test")  # type: ignore[dict-item]
    return [(c.kind, c.detail) for r in results for c in r.changes if c.kind == SOURCE_TAGS_CHANGED]


def _engine(config: VeilConfig) -> QueryEngine:
    return QueryEngine(config, build_catalog(config, sync=()))


def test_source_table_tags_select_tables_for_every_policy_kind(config: VeilConfig, source: TaggingSource) -> None:
    source.tags = [SourceTag("s", "orders", None, "Domain.Sales"), SourceTag("s", "orders", "amount", "PII.Money"),
                   SourceTag("s", "events", None, "Domain.Sales"), SourceTag("s", "events", None, "Recent"),
                   SourceTag("s", "gone", None, "Domain.Sales")]  # a table not crawled is ignored
    assert _sync(config, source) == [(SOURCE_TAGS_CHANGED, "1 column tag and 3 table tags from the source")]
    engine = _engine(config)
    try:
        user = User.from_config("alice", None)
        visible = {t.source_key: t for t in engine.snapshot_for(user)}
        # Subscription by table tag: people carries no tag and stays invisible.
        assert set(visible) == {"w.s.orders", "w.s.events"}
        orders, events = visible["w.s.orders"], visible["w.s.events"]
        # The config's table tags come first and accumulate with the source's.
        assert engine.table_tags(orders) == ("Finance", "Domain.Sales")
        filters = engine.table_policy(user, orders).filters
        assert [(f.policy, f.kind, f.condition) for f in filters] == [("Big orders", "row_filter", "amount > 5")]
        kinds = {(f.policy, f.kind, f.event_time) for f in engine.table_policy(user, events).filters}
        assert kinds == {("Big orders", "row_filter", None), ("Recent", "time_window", "at")}
    finally:
        engine.close()


def test_table_tags_stay_when_the_source_cannot_read_them_and_go_when_removed(
    config: VeilConfig, source: TaggingSource
) -> None:
    source.tags = [SourceTag("s", "orders", None, "Domain.Sales")]
    _sync(config, source)
    source.failure = VeilError("42501", "Insufficient privileges on ACCOUNT_USAGE")
    assert _sync(config, source) == []
    engine = _engine(config)
    try:
        user = User.from_config("alice", None)
        assert [t.source_key for t in engine.snapshot_for(user)] == ["w.s.orders"]
    finally:
        engine.close()
    source.failure, source.tags = None, []
    assert _sync(config, source) == [(SOURCE_TAGS_CHANGED, "0 column tags from the source")]
    engine = _engine(config)
    try:
        assert list(engine.snapshot_for(User.from_config("alice", None))) == []  # default deny
    finally:
        engine.close()


def test_table_tags_alone_in_a_subscription_grant_only_tagged_tables() -> None:
    """Without the fix the ``tables: ["*"]`` default granted every table to such a subscription."""
    config = parse_config({"policies": [{"name": "t", "subscription": {"table_tags": ["X"]}}]})
    subscription = config.policies[0].subscription
    assert subscription is not None and subscription.tables == [] and subscription.table_tags == ["X"]
    everything = parse_config({"policies": [{"name": "t", "subscription": {"allow": "everyone"}}]})
    assert everything.policies[0].subscription is not None and everything.policies[0].subscription.tables == ["*"]
