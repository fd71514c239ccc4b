"""Latency-cache hits on the fast path: a repeated prepared statement answered from the cache
in the socket's data callback (see :mod:`veil.proxy.fastpath`, which recognises the
Bind/Describe/Execute/Sync group and hands a :class:`~veil.executor.cache.fasthit.FastCacheHit`
ticket here).

The reply is what the message loop sends for the same hit: BindComplete, the RowDescription
(when the group describes the portal), the DataRows the entry keeps for this variant,
CommandComplete and ReadyForQuery, in one write. When the entry is missing, expired or holds no
DataRows for the variant, when the parameters do not decode, or when the client is not reading
its replies, nothing is written and the group goes to the message loop as it came.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Protocol

import pyarrow as pa

from veil.api import EngineSession, PreparedStatement
from veil.executor.cache.fasthit import FastCacheHit, KeptReply, started_now
from veil.proxy import messages
from veil.proxy.framing import ConnectionClosed, MessageWriter
from veil.proxy.portal import decode_parameters, expand_formats

#: Parameters this long or longer are decoded every time instead of being remembered.
_REMEMBERED_BIND = 256
#: Replies this long or shorter are kept per statement and group, and sent again as they are.
_KEPT_REPLY = 512
#: Unsent bytes above which hits wait for the message loop (which waits for the client).
_CLIENT_BEHIND = 256 * 1024


class FastHitStats:
    """Statements served as fast cache hits, process-wide."""

    __slots__ = ("served",)

    def __init__(self) -> None:
        self.served = 0


STATS = FastHitStats()


class HitHost(Protocol):
    """What a hit uses of its :class:`~veil.proxy.connection.Connection`."""

    session: EngineSession | None
    out: MessageWriter
    timezone: str

    def row_description(self, schema: pa.Schema, formats: list[int]) -> bytes: ...


def serve_hit(
    host: HitHost,
    ticket: FastCacheHit,
    statement: PreparedStatement,
    bind: messages.Bind,
    bind_size: int,
    describe: bool,
) -> bool:
    """Answer the group from the cache; False: nothing was written, the message loop serves it."""
    schema = statement.schema
    oids = statement.param_oids
    out = host.out
    session = host.session
    if schema is None or session is None or len(bind.values) != len(oids) or out.backlog() > _CLIENT_BEHIND:
        return False
    wall, started = started_now()
    timezone = host.timezone
    values, param_formats = bind.values, bind.param_formats
    remembered = bind_size < _REMEMBERED_BIND
    group = (values, param_formats, bind.result_formats, describe, timezone)
    if remembered:
        kept = ticket.kept(group)
        if kept is not None:
            entry = ticket.entry(kept.key_part)
            if entry is not None and kept.made_from(entry):
                _send(host, session, kept.body)
                STATS.served += 1
                ticket.served(wall, started, kept.encoded)
                return True
        raw = (values, param_formats, timezone)
        key_part = ticket.key_part(raw, lambda: decode_parameters(values, oids, param_formats, timezone))
    else:
        key_part = ticket.parameters(decode_parameters(values, oids, param_formats, timezone))
    entry = ticket.entry(key_part)
    if entry is None:
        return False
    formats = expand_formats(bind.result_formats, len(schema), "result")
    encoded = ticket.encoded(entry, formats)
    if encoded is None:
        return False
    rows = encoded.rows
    head = messages.BIND_COMPLETE
    if describe:
        head += host.row_description(schema, formats)
    body = b"".join((head, rows.data, messages.command_complete(f"SELECT {rows.num_rows}")))
    if remembered and len(body) <= _KEPT_REPLY:
        ticket.keep(group, KeptReply(key_part, entry, body, encoded))
    _send(host, session, body)
    STATS.served += 1
    ticket.served(wall, started, encoded)
    return True


def _send(host: HitHost, session: EngineSession, body: bytes) -> None:
    out = host.out
    out.write(body)
    out.write(messages.ready_for_query(session.transaction_status))
    with suppress(ConnectionClosed):  # the loop sees the end of the stream; the hit is audited
        out.flush()
