"""The plans a session makes of a statement: where it runs and what it was planned under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from veil.admin.audit import AppliedPolicy
from veil.executor.cache.fasthit import FastCacheHit
from veil.executor.passthru import FastPassthrough
from veil.planner.federation.plan import FederatedPlan
from veil.planner.pushdown import SourcePlan
from veil.sql.statements import Statement

if TYPE_CHECKING:
    from veil.pgcatalog import LocalContext, LocalQuery


@dataclass
class LocalPlan:
    """A statement answered by the local engine (catalog emulation, table-less queries)."""

    query: LocalQuery
    param_oids: tuple[int, ...]
    context: LocalContext  # compiled under it: run under another, compiled again


@dataclass(frozen=True)
class AdminPlan:
    """A query over admin views (``veil.audit`` ...), answered from Veil's own state."""

    statement: exp.Expr
    param_oids: tuple[int, ...] = ()


@dataclass
class Plan:
    statement: Statement
    generation: int
    query: SourcePlan | FederatedPlan | LocalPlan | AdminPlan | None = None
    schema: pa.Schema | None = None
    policies: tuple[AppliedPolicy, ...] = ()
    user: tuple[object, ...] = ()  # the fingerprint of the user it was planned for
    # once it ran through pass-through: for whom (the User object), and its fast path
    fast: tuple[object, FastPassthrough | FastCacheHit | None] | None = None
