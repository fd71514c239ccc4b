"""Selecting users by name, group or attribute."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from veil.config.models import Principals, UserConfig


@dataclass(frozen=True)
class User:
    """The connected user as policies see them."""

    name: str
    groups: frozenset[str] = frozenset()
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    admin: bool = False

    @classmethod
    def from_config(cls, name: str, config: UserConfig | None) -> User:
        if config is None:
            return cls(name)
        return cls(
            name=name,
            groups=frozenset(config.groups),
            attributes={k: tuple(v) for k, v in config.attributes.items()},
            admin=config.admin,
        )

    @cached_property
    def fingerprint(self) -> tuple[object, ...]:
        """Everything a policy can see of the user: two users with one fingerprint get the same
        tables, masks and filters under one config, so caches of policy results key by it."""
        attributes = tuple(sorted((k, tuple(sorted(v))) for k, v in self.attributes.items()))
        return (self.name, tuple(sorted(self.groups)), attributes, self.admin)


def selects(principals: Principals, user: User) -> bool:
    """True when the user is named, in a listed group, or has a listed attribute value."""
    if user.name in principals.users:
        return True
    if user.groups.intersection(principals.groups):
        return True
    return any(
        set(values).intersection(user.attributes.get(key, ()))
        for key, values in principals.attributes.items()
    )
