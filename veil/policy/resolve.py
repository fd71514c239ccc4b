"""Which data policies apply to one user reading one table, after conflict resolution.

Rules (also in the README):
* A policy applies to a user when ``for:`` is absent or selects them, and ``except:`` does not.
* A mask selects columns by tag (a policy tag ``PII`` matches column tags ``PII`` and ``PII.*``) or
  by name glob. When several masks select one column, the one matched through the deeper tag wins
  (``PII.Email`` beats ``PII``; a name match counts as depth 1); at equal depth the policy listed
  first wins.
* Row filters, time windows and minimize policies of every applicable policy are ANDed.
* The built-in "New Column Added" policy masks every column object sync flagged ``New`` with
  NULL, for everyone; it beats every other mask until an admin approves the column.
"""

from __future__ import annotations

import fnmatch
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from veil.admin.audit import AppliedPolicy
from veil.catalog.model import Column, Table, tags_of
from veil.config.models import (
    Audience,
    MaskPolicy,
    MinimizePolicy,
    PolicyConfig,
    PolicyTarget,
    RowFilterPolicy,
    TableConfig,
    TimeWindowPolicy,
)
from veil.policy.principals import User, selects

log = logging.getLogger(__name__)

NEW_COLUMN_POLICY = "New Column Added"
_NEW_COLUMN_MASK = MaskPolicy.model_validate({"columns": ["*"], "with": "null"})


@dataclass(frozen=True)
class AppliedMask:
    policy: str
    column: str
    mask: MaskPolicy
    depth: int
    discovered: bool = False  # selected through a tag found by discovery, not the config


@dataclass(frozen=True)
class AppliedFilter:
    policy: str
    condition: str  # PostgreSQL-dialect SQL over the table's raw columns, macros expanded later
    kind: str = "row_filter"
    seconds: float = 0.0
    event_time: str | None = None
    percent: float = 100.0
    key: tuple[str, ...] = ()


@dataclass(frozen=True)
class TablePolicy:
    masks: dict[str, AppliedMask] = field(default_factory=dict)
    filters: tuple[AppliedFilter, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.masks and not self.filters


def applies_to(audience: Audience, user: User) -> bool:
    if audience.for_ is not None and not selects(audience.for_, user):
        return False
    return not (audience.except_ is not None and selects(audience.except_, user))


def tag_depth(policy_tag: str, column_tags: Sequence[str]) -> int:
    """Depth of ``policy_tag`` if it covers one of the column's tags, else 0."""
    for tag in column_tags:
        if tag == policy_tag or tag.startswith(policy_tag + "."):
            return policy_tag.count(".") + 1
    return 0


def covers_table(target: PolicyTarget, table: Table, table_tags: Sequence[str]) -> bool:
    if not target.tables and not target.table_tags:
        return True
    names = (table.source_key, table.qualified_name)
    if any(fnmatch.fnmatchcase(n, pattern) for pattern in target.tables for n in names):
        return True
    return any(tag_depth(t, table_tags) for t in target.table_tags)


def _mask_depth(mask: MaskPolicy, column: Column, column_tags: Sequence[str]) -> int:
    """A name glob matches the served name or the source's spelling (``email`` or ``EMAIL``)."""
    depth = max((tag_depth(t, column_tags) for t in mask.column_tags), default=0)
    names = (column.name, column.source_name) if column.source_name else (column.name,)
    if depth == 0 and any(fnmatch.fnmatchcase(n, pattern) for pattern in mask.columns for n in names):
        depth = 1
    return depth


def _served(table: Table, name: str | None) -> str | None:
    """The served name of a column a policy or table setting names in either spelling."""
    column = table.find_column(name) if name is not None else None
    return column.name if column is not None else None


def _select(masks: dict[str, AppliedMask], candidate: AppliedMask) -> None:
    current = masks.get(candidate.column)
    if candidate.depth and (current is None or candidate.depth > current.depth):
        masks[candidate.column] = candidate


def resolve_table_policy(
    user: User,
    table: Table,
    policies: Sequence[PolicyConfig],
    table_config: TableConfig | None,
    discovered: Mapping[str, Sequence[str]] | None = None,
) -> TablePolicy:
    """The masks and filters that apply to this user on this table. ``discovered`` maps column
    names to the tags discovery found on them (rejected tags already removed)."""
    config = table_config or TableConfig()
    discovered = discovered or {}
    masks: dict[str, AppliedMask] = {}
    by_discovery: dict[str, AppliedMask] = {}
    filters: list[AppliedFilter] = []
    for policy in policies:
        rule = policy.mask or policy.row_filter or policy.time_window or policy.minimize
        if rule is None or not covers_table(rule, table, config.table_tags) or not applies_to(rule, user):
            continue
        if isinstance(rule, MaskPolicy):
            for column in table.columns:
                depth = _mask_depth(rule, column, tags_of(config.tags, column))
                _select(masks, AppliedMask(policy.name, column.name, rule, depth))
                found = tags_of(discovered, column)
                if found:
                    depth = max((tag_depth(t, found) for t in rule.column_tags), default=0)
                    _select(by_discovery, AppliedMask(policy.name, column.name, rule, depth, discovered=True))
        elif isinstance(rule, RowFilterPolicy):
            filters.append(AppliedFilter(policy.name, rule.where))
        elif isinstance(rule, MinimizePolicy):
            missing = [c for c in rule.key if table.find_column(c) is None]
            if missing:
                log.warning("policy %s: %s has no column %s; it shows no rows", policy.name, table.source_key, missing[0])
                filters.append(AppliedFilter(policy.name, "FALSE", kind="minimize"))
            else:
                key = tuple(_served(table, c) or c for c in rule.key) or tuple(c.name for c in table.columns)
                filters.append(AppliedFilter(policy.name, "", kind="minimize", percent=rule.percent, key=key))
        elif isinstance(rule, TimeWindowPolicy):
            event_time = _served(table, config.event_time)
            if event_time is None:
                log.warning("policy %s: %s has no event_time; it shows no rows", policy.name, table.source_key)
                filters.append(AppliedFilter(policy.name, "FALSE", kind="time_window", seconds=rule.last))
            else:
                filters.append(
                    AppliedFilter(
                        policy.name, "", kind="time_window", seconds=rule.last, event_time=event_time
                    )
                )
    for name, applied in by_discovery.items():
        masks.setdefault(name, applied)
    for name in table.new_columns:
        masks[name] = AppliedMask(NEW_COLUMN_POLICY, name, _NEW_COLUMN_MASK, depth=sys.maxsize)
    return TablePolicy(masks, tuple(filters))


def describe_policy(table: str, policy: TablePolicy) -> list[AppliedPolicy]:
    """What the audit trail and EXPLAIN report for one table: policy names and masked columns."""
    by_policy: dict[str, list[str]] = {}
    for applied in policy.masks.values():
        by_policy.setdefault(applied.policy, []).append(applied.column)
    described = [AppliedPolicy(name, table, "mask", tuple(columns)) for name, columns in by_policy.items()]
    described += [AppliedPolicy(f.policy, table, f.kind) for f in policy.filters]
    return described


def why_not_applied(
    user: User,
    table: Table,
    policy: PolicyConfig,
    table_config: TableConfig | None,
    discovered: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """Why a data policy does not change this user's view of this table (None if it does)."""
    rule = policy.mask or policy.row_filter or policy.time_window or policy.minimize
    if rule is None:
        return "not a data policy"
    config = table_config or TableConfig()
    if not covers_table(rule, table, config.table_tags):
        return f"does not cover {table.qualified_name}"
    if rule.for_ is not None and not selects(rule.for_, user):
        return f"only for other users (for: does not select {user.name})"
    if rule.except_ is not None and selects(rule.except_, user):
        return f"{user.name} is excepted"
    if isinstance(rule, MaskPolicy):
        resolved = resolve_table_policy(user, table, [policy], table_config, discovered).masks
        if not resolved:
            return "no column of the table matches its tags or names"
    return None
