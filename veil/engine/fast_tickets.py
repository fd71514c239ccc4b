"""The cache-hit ticket of the socket-callback fast path (veil.proxy.fasthit): built by the session
once a prepared statement has been served from the in-process latency cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from veil.admin.audit import AuditRecord
from veil.catalog.sources.base import result_key
from veil.executor.cache.fasthit import FastCacheHit
from veil.planner.pushdown import SourcePlan
from veil.sql.settings import Settings

if TYPE_CHECKING:
    from veil.engine.engine import QueryEngine


def cache_hit_ticket(
    engine: QueryEngine,
    query: object,
    schema: pa.Schema | None,
    settings: Settings,
    audit_record: Callable[[], AuditRecord],
) -> FastCacheHit | None:
    """The fast path of a statement just served from the cache; ``None`` where there is none
    (not a source statement, no described schema, or a shared cache such as Redis)."""
    if not isinstance(query, SourcePlan) or schema is None or not engine.cache.local:
        return None
    key_param = query.key_param
    source = engine.catalog.sources[query.connection]

    def record() -> AuditRecord:
        hit = audit_record()
        hit.cache_hit = True
        return hit

    return FastCacheHit(
        lambda: engine.cache,
        lambda timezone: result_key(source, timezone),
        query.sql,
        schema,
        engine.latency_for(query.tables),
        lambda params: engine.cache_parameters(params, key_param),
        lambda: settings.get("TimeZone"),
        record,
        lambda: engine.audit,
        lambda: settings.get_or_none("application_name") or "",
    )
