"""Latency-cache hits of a repeated prepared statement, served without the engine.

A statement the session answered from the latency cache once (:mod:`veil.executor.cache.hits`)
is handed to the wire front end as a :class:`FastCacheHit`: its next executions look the entry
up straight from the client's Bind (:mod:`veil.proxy.fasthit`) and, when the entry is fresh and
already holds the DataRows of the variant asked for (result formats, the session's time zone,
the described schema), those bytes are sent as they are and the statement is audited from a
per-statement template (the same line, byte for byte, that the session's hit writes).

Nothing about who may see what is decided here: the ticket is handed out only for the plan the
session made for this user (same User object, same catalog generation, see
``Session.fast_passthrough``), and the cache key is the one the session computes, made of the
connection key, the SQL sent (which embeds the user's masks and row filters) and the parameter
values. Any other case (an entry missing, expired or without that variant, a cache in Redis)
is left to the message loop, which loads, counts and keeps as it always does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from time import perf_counter, time

import pyarrow as pa

from veil.admin.audit import AuditLog, AuditRecord, RecordTemplate
from veil.executor.cache.backend import Encoded
from veil.executor.cache.hits import variant
from veil.executor.cache.latency import ResultCache

#: Parameter keys remembered per statement (raw Bind values and formats -> cache key part).
_KEYS = 128


class FastCacheHit:
    """The fast path of a statement served from the latency cache (see the module docstring).

    ``parameters`` turns decoded parameter values into the parameters part of the cache key
    (``QueryEngine.cache_parameters`` with the plan's hash key parameter)."""

    __slots__ = (
        "_keys",
        "_template",
        "application_name",
        "audit",
        "cache",
        "connection_key",
        "max_age",
        "parameters",
        "record",
        "schema",
        "sql",
        "timezone",
    )

    def __init__(
        self,
        cache: Callable[[], ResultCache],
        connection_key: Hashable,
        sql: str,
        schema: pa.Schema,
        max_age: float,
        parameters: Callable[[Sequence[object | None]], str],
        timezone: Callable[[], str],
        record: Callable[[], AuditRecord],
        audit: Callable[[], AuditLog],
        application_name: Callable[[], str],
    ) -> None:
        self.cache, self.connection_key, self.sql, self.schema = cache, connection_key, sql, schema
        self.max_age, self.parameters, self.timezone = max_age, parameters, timezone
        self.record, self.audit, self.application_name = record, audit, application_name
        self._template: tuple[str, RecordTemplate | None] | None = None
        self._keys: dict[Hashable, str] = {}

    def key_part(self, raw: Hashable, decode: Callable[[], Sequence[object | None]]) -> str:
        """The parameters part of the cache key for the raw Bind values and formats ``raw``
        (``decode``: their decoded values, asked for the first time only)."""
        known = self._keys.get(raw)
        if known is None:
            if len(self._keys) >= _KEYS:
                self._keys.clear()
            known = self._keys[raw] = self.parameters(decode())
        return known

    def lookup(self, key_part: str, result_formats: Sequence[int]) -> Encoded | None:
        """The kept DataRows of a fresh entry in the session's variant; ``None`` when the
        message loop must serve the statement. Nothing is counted: :meth:`served` counts."""
        cache = self.cache()
        if not cache.local:
            return None
        entry = cache.peek((self.connection_key, self.sql, key_part), self.max_age)
        if entry is None:
            return None
        return entry.encoded.get(variant(result_formats, self.timezone(), self.schema))

    def served(self, wall: float, started: float, encoded: Encoded) -> None:
        """Count the hit that was sent from ``encoded`` and write its audit record (``wall``,
        ``started``: from :func:`started_now` when the group arrived); called once the reply
        is on its way, off the client's critical path."""
        self.cache().count_hit()
        rows = encoded.rows.num_rows
        self.audited(datetime.fromtimestamp(wall, UTC).isoformat(), started, rows, encoded.arrow_bytes if rows else 0)

    def template(self) -> RecordTemplate | None:
        """The audit line template of a hit, for the current application_name (``None``: the
        statement's text holds a template sentinel, write whole records)."""
        name = self.application_name()
        cached = self._template
        if cached is None or cached[0] != name:
            try:
                template: RecordTemplate | None = RecordTemplate(self.record())
            except ValueError:
                template = None
            self._template = cached = (name, template)
        return cached[1]

    def audited(self, time: str, started: float, rows: int, size: int) -> None:
        """Write the audit record of a hit that started at ``time`` (``started``: its perf
        counter) and sent ``rows`` rows counted as ``size`` Arrow bytes."""
        template = self.template()
        if template is not None:
            self.audit().write_repeated(template, time, started, rows, size)
            return
        record = self.record()
        record.time, record.started, record.rows, record.bytes = time, started, rows, size
        self.audit().write(record)


def started_now() -> tuple[float, float]:
    """When a statement starts: the wall clock (its audit record's time, as ``AuditRecord``'s
    default would write it) and the perf counter (its duration)."""
    return time(), perf_counter()
