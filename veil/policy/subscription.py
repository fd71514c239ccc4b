"""Subscription: which tables a user may see at all. Default deny."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from veil.catalog.model import CatalogSnapshot, Table
from veil.config.models import PolicyConfig, Subscription
from veil.policy.principals import User, selects


def _matches_table(subscription: Subscription, table: Table, table_tags: Sequence[str]) -> bool:
    names = (table.source_key, table.qualified_name)
    if any(fnmatch.fnmatchcase(n, pattern) for pattern in subscription.tables for n in names):
        return True
    return any(tag in table_tags for tag in subscription.table_tags)


def _allows(subscription: Subscription, user: User) -> bool:
    if subscription.allow == "everyone":
        return True
    return selects(subscription.allow, user)


def visible_tables(
    snapshot: CatalogSnapshot,
    policies: Sequence[PolicyConfig],
    user: User,
    table_tags: dict[str, list[str]] | None = None,
) -> CatalogSnapshot:
    """The part of the catalog this user is subscribed to."""
    subscriptions = [p.subscription for p in policies if p.subscription is not None]
    tags = table_tags or {}
    visible = [
        table
        for table in snapshot
        if any(
            _matches_table(s, table, tags.get(table.source_key, [])) and _allows(s, user)
            for s in subscriptions
        )
    ]
    return snapshot.restricted_to(visible)
