"""Serving a latency-cache hit: the cached rows, already encoded for the wire when possible.

An entry of the in-process cache keeps, next to its Arrow result, the DataRow messages it was
sent as, per *variant*: the result format codes, the time zone the values were written in and
the described schema (types, pinned typmods). The first hit in a variant is sent from the Arrow
batches; the wire front end hands the bytes it encoded back (``keep_encoded``) and, once the
whole result went out, they are kept with the entry (:meth:`ResultCache.attach_encoded`). Later
hits in that variant are one :class:`~veil.api.EncodedRows` written as it is.

The entry's key (connection, the SQL sent, which embeds the user's masks and row filters, and the
parameters) already separates users whose effective policies differ; the variant only chooses
among encodings of the same rows. Encoded forms expire, are evicted and are invalidated with
their entry, and their bytes count against the cache's bounds. Hits write their audit record
themselves (marked ``cache_hit``), counting what :class:`~veil.admin.audit.AuditedStream` would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable, Sequence

import pyarrow as pa

from veil.admin.audit import AuditLog, AuditRecord
from veil.api import EncodedRows
from veil.executor.cache.backend import CacheEntry, Encoded
from veil.executor.cache.latency import ResultCache
from veil.executor.results import conform

_TOKENS: dict[int, tuple[pa.Schema, str]] = {}
_TOKENS_ENTRIES = 256


def schema_token(schema: pa.Schema) -> str:
    """What of a described schema shapes the encoding (types and fields' metadata), as text
    equal for equal schemas; remembered per schema object."""
    known = _TOKENS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    if len(_TOKENS) >= _TOKENS_ENTRIES:
        _TOKENS.clear()
    token = schema.to_string(show_field_metadata=True, show_schema_metadata=False)
    _TOKENS[id(schema)] = (schema, token)
    return token


def variant(result_formats: Sequence[int], timezone: str, schema: pa.Schema) -> Hashable:
    return (tuple(result_formats), timezone, schema_token(schema))


class _Hit:
    """Audit bookkeeping shared by both kinds of hit: the record is written once, at the end."""

    audited = True  # the session does not wrap it in an AuditedStream

    def __init__(self, schema: pa.Schema, record: AuditRecord, audit: AuditLog) -> None:
        self.schema = schema
        self._record = record
        self._audit = audit
        self._written = False

    def _finish(self) -> None:
        if not self._written:
            self._written = True
            self._audit.write(self._record)

    def command_tag(self, rows_sent: int) -> str:
        self._finish()
        return f"SELECT {rows_sent}"

    async def close(self) -> None:
        self._finish()


class EncodedHit(_Hit):
    """A hit in a variant already encoded: its DataRows, as they are."""

    def __init__(self, schema: pa.Schema, encoded: Encoded, record: AuditRecord, audit: AuditLog) -> None:
        super().__init__(schema, record, audit)
        self._encoded = encoded

    async def __aiter__(self) -> AsyncIterator[EncodedRows]:
        encoded = self._encoded
        rows = encoded.rows
        if rows.num_rows:
            record = self._record
            record.rows += rows.num_rows
            record.bytes += encoded.arrow_bytes
            yield rows


class ArrowHit(_Hit):
    """A hit sent from the Arrow batches; what the front end encodes is kept for the variant."""

    def __init__(
        self,
        schema: pa.Schema,
        batches: Sequence[pa.RecordBatch],
        record: AuditRecord,
        audit: AuditLog,
        keep: tuple[ResultCache, Hashable, CacheEntry, Hashable, str] | None,
    ) -> None:
        super().__init__(schema, record, audit)
        self._batches = batches
        self._keep = keep  # (cache, key, entry, variant, time zone), None: nothing to keep
        self._chunks: list[bytes] = []
        self._rows = 0
        self._bytes = 0
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        record = self._record
        for batch in self._batches:
            rows, size = batch.num_rows, batch.get_total_buffer_size()
            self._rows += rows
            self._bytes += size
            record.rows += rows
            record.bytes += size
            yield batch
        self._complete = True

    def keep_encoded(self, data: bytes | memoryview, timezone: str) -> None:
        """The DataRows the front end sent for the batches yielded (in order, in ``timezone``)."""
        keep = self._keep
        if keep is not None and timezone == keep[4]:
            self._chunks.append(bytes(data))
        else:
            self._keep = None

    def command_tag(self, rows_sent: int) -> str:
        keep, self._keep = self._keep, None
        if keep is not None and self._complete:
            cache, key, entry, variant_key, _ = keep
            data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            cache.attach_encoded(key, entry, variant_key, Encoded(EncodedRows(data, self._rows), self._bytes))
        self._chunks = []
        return super().command_tag(rows_sent)

    async def close(self) -> None:
        self._keep = None
        await super().close()


def serve_hit(
    cache: ResultCache,
    key: Hashable,
    entry: CacheEntry,
    schema: pa.Schema,
    result_formats: Sequence[int],
    timezone: str,
    record: AuditRecord,
    audit: AuditLog,
) -> EncodedHit | ArrowHit:
    """The stream of a hit on ``entry`` (under ``key``) for rows sent in ``result_formats``
    and ``timezone``, as ``schema`` describes them; it writes ``record`` when it ends."""
    kind = variant(result_formats, timezone, schema)
    encoded = entry.encoded.get(kind)
    if encoded is not None:
        return EncodedHit(schema, encoded, record, audit)
    keep = (cache, key, entry, kind, timezone) if cache.local else None
    return ArrowHit(schema, [conform(b, schema) for b in entry.batches], record, audit, keep)
