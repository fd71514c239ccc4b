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
connection key (with the TimeZone where the source computed in it), the SQL sent (which embeds the user's masks and row filters) and the parameter
values. Any other case (an entry missing, expired or without that variant, a cache in Redis)
is left to the message loop, which loads, counts and keeps as it always does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from time import perf_counter, time
from weakref import ref

import pyarrow as pa

from veil.admin.audit import AuditLog, AuditRecord, RecordTemplate, TemplateSlot
from veil.executor.cache.backend import CacheEntry, Encoded
from veil.executor.cache.hits import variant
from veil.executor.cache.latency import ResultCache

#: Parameter keys remembered per statement (raw Bind values and formats -> cache key part).
_KEYS = 128
#: Small replies remembered per statement (see KeptReply).
_REPLIES = 32


class FastCacheHit:
    """The fast path of a statement served from the latency cache (see the module docstring).

    ``parameters`` turns decoded parameter values into the parameters part of the cache key
    (``QueryEngine.cache_parameters`` with the plan's hash key parameter); ``result_key`` the
    connection part for a TimeZone (:func:`veil.catalog.sources.base.result_key`)."""

    __slots__ = (
        "_keys",
        "_replies",
        "_template",
        "application_name",
        "audit",
        "cache",
        "max_age",
        "parameters",
        "record",
        "result_key",
        "schema",
        "sql",
        "timezone",
    )

    def __init__(
        self,
        cache: Callable[[], ResultCache],
        result_key: Callable[[str], Hashable],
        sql: str,
        schema: pa.Schema,
        max_age: float,
        parameters: Callable[[Sequence[object | None]], str],
        timezone: Callable[[], str],
        record: Callable[[], AuditRecord],
        audit: Callable[[], AuditLog],
        application_name: Callable[[], str],
    ) -> None:
        self.cache, self.result_key, self.sql, self.schema = cache, result_key, sql, schema
        self.max_age, self.parameters, self.timezone = max_age, parameters, timezone
        self.record, self.audit, self.application_name = record, audit, application_name
        self._template = TemplateSlot()
        self._keys: dict[Hashable, str] = {}
        self._replies: dict[Hashable, KeptReply] = {}

    def key_part(self, raw: Hashable, decode: Callable[[], Sequence[object | None]]) -> str:
        """The parameters part of the cache key for the raw Bind values and formats ``raw``
        (``decode``: their decoded values, asked for the first time only)."""
        known = self._keys.get(raw)
        if known is None:
            if len(self._keys) >= _KEYS:
                self._keys.clear()
            known = self._keys[raw] = self.parameters(decode())
        return known

    def entry(self, key_part: str) -> CacheEntry | None:
        """The fresh in-process entry for the parameters part ``key_part``, counted as nothing;
        ``None`` when the message loop must serve the statement."""
        cache = self.cache()
        if not cache.local:
            return None
        return cache.peek((self.result_key(self.timezone()), self.sql, key_part), self.max_age)

    def encoded(self, entry: CacheEntry, result_formats: Sequence[int]) -> Encoded | None:
        """The DataRows ``entry`` keeps in the session's variant for ``result_formats``."""
        return entry.encoded.get(variant(result_formats, self.timezone(), self.schema))

    def kept(self, raw: Hashable) -> KeptReply | None:
        """The reply kept for the group ``raw`` (see :class:`KeptReply`), if any."""
        return self._replies.get(raw)

    def keep(self, raw: Hashable, reply: KeptReply) -> None:
        if len(self._replies) >= _REPLIES:
            self._replies.clear()
        self._replies[raw] = reply

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
        return self._template.get(self.application_name(), self.record)

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


class KeptReply:
    """A reply already sent for one group (raw Bind values and formats, result formats, whether
    it describes the portal, time zone): the cache key's parameters part, the entry it was made
    from (weakly: an entry dropped from the cache is not kept alive), and the reply from
    BindComplete to CommandComplete. It is sent again only while that very entry is still the
    fresh one under the key (an entry replaced, expired or invalidated is another object)."""

    __slots__ = ("_entry", "body", "encoded", "key_part")

    def __init__(self, key_part: str, entry: CacheEntry, body: bytes, encoded: Encoded) -> None:
        self.key_part, self.body, self.encoded = key_part, body, encoded
        self._entry = ref(entry)

    def made_from(self, entry: CacheEntry) -> bool:
        return self._entry() is entry


def started_now() -> tuple[float, float]:
    """When a statement starts: the wall clock (its audit record's time, as ``AuditRecord``'s
    default would write it) and the perf counter (its duration)."""
    return time(), perf_counter()
