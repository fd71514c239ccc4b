"""References in ``veil.yaml`` that resolve to nothing: a typo must not silently disable a policy.

A ``for: {groups: [Analytcs]}`` selects nobody, so the mask it guards applies to nobody. Such a
reference is an error of ``veil check`` and a WARNING of ``veil serve`` (listed in the admin view
``veil.config_problems``). This module checks what the config alone can tell (user and group
names in ``for``/``except``/``allow``); :mod:`veil.catalog.references` checks what needs the
catalog (table keys, columns, table patterns).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from veil.config.models import Principals, VeilConfig


@dataclass(frozen=True)
class ConfigProblem:
    """One unresolved reference: its YAML path, what is wrong, and the closest existing name."""

    path: str
    problem: str
    suggestion: str | None = None

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion}?)" if self.suggestion else ""
        return f"{self.path}: {self.problem}{hint}"


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The existing name ``name`` most likely misspells, if any is close enough."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in candidates}
    return lowered.get(name.lower())


POLICY_KINDS = ("subscription", "mask", "row_filter", "time_window", "minimize")


def _principal_problems(path: str, principals: Principals, config: VeilConfig) -> Iterator[ConfigProblem]:
    users = set(config.users)
    groups = {g for u in config.users.values() for g in u.groups}
    for i, user in enumerate(principals.users):
        if user not in users:
            yield ConfigProblem(f"{path}.users[{i}]", f"no user is named {user}", closest(user, users))
    for i, group in enumerate(principals.groups):
        if group not in groups:
            yield ConfigProblem(f"{path}.groups[{i}]", f"no user is in group {group}", closest(group, groups))


def principal_problems(config: VeilConfig) -> list[ConfigProblem]:
    """User and group names in ``for:``, ``except:`` and ``allow:`` that no configured user has."""
    problems: list[ConfigProblem] = []
    for index, policy in enumerate(config.policies):
        for kind in POLICY_KINDS:
            rule = getattr(policy, kind)
            if rule is None:
                continue
            base = f"policies[{index}].{kind}"
            if kind == "subscription":
                if rule.allow != "everyone":
                    problems += _principal_problems(f"{base}.allow", rule.allow, config)
                continue
            if rule.for_ is not None:
                problems += _principal_problems(f"{base}.for", rule.for_, config)
            if rule.except_ is not None:
                problems += _principal_problems(f"{base}.except", rule.except_, config)
    return problems


def reload_refusal(current: VeilConfig, new: VeilConfig) -> str | None:
    """Why a reload must not apply (``None``: it may). A file that lost every user or every
    connection is far more likely a bad edit than an intent; the last good config stays."""
    if current.users and not new.users:
        return "the new configuration removes every user"
    if current.connections and not new.connections:
        return "the new configuration removes every connection"
    return None
