"""The plan cache's entry and key: a statement planned once per catalog version, search path,
parameter types and user fingerprint (the effective policy's inputs), never per user name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from veil.admin.audit import AppliedPolicy
from veil.catalog.model import CatalogSnapshot
from veil.planner.pushdown import SourcePlan
from veil.policy.principals import User

if TYPE_CHECKING:
    from veil.planner.federation.plan import FederatedPlan


@dataclass(frozen=True)
class CachedPlan:
    plan: SourcePlan | FederatedPlan
    schema: pa.Schema
    policies: tuple[AppliedPolicy, ...] = ()


def plan_cache_key(
    snapshot: CatalogSnapshot,
    search_path: Sequence[str],
    sql: str,
    param_oids: Sequence[int],
    user: User | None = None,
) -> tuple[object, ...]:
    """Plans are cached per user fingerprint (the effective policy's inputs), never per name."""
    fingerprint = user.fingerprint if user is not None else ()
    return (snapshot.version, id(snapshot), fingerprint, tuple(search_path), sql, tuple(param_oids))
