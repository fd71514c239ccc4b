"""``range_send`` and ``multirange_send`` from PostgreSQL's text forms of ranges and multiranges
(a local-engine constant, or a PostgreSQL source's column read as text)."""

from __future__ import annotations

import struct
from collections.abc import Callable

from veil.pgcatalog.textforms import parse_multirange, parse_range

Converter = Callable[[str], bytes]

# range flags of rangetypes.h
_EMPTY, _LB_INC, _UB_INC, _LB_INF, _UB_INF = 0x01, 0x02, 0x04, 0x08, 0x10


def range_sender(element: Converter) -> Converter:
    """``range_send`` of a range whose bounds ``element`` sends."""

    def send(text: str) -> bytes:
        value = parse_range(text)
        if value.empty:
            return bytes((_EMPTY,))
        flags = (_LB_INC if value.lower_inc else 0) | (_UB_INC if value.upper_inc else 0)
        flags |= (_LB_INF if value.lower is None else 0) | (_UB_INF if value.upper is None else 0)
        parts = [bytes((flags,))]
        for bound in (value.lower, value.upper):
            if bound is not None:
                data = element(bound)
                parts.append(struct.pack(">i", len(data)) + data)
        return b"".join(parts)

    return send


def multirange_sender(element: Converter) -> Converter:
    """``multirange_send``: the range count, then each range's length and ``range_send``."""
    send_range = range_sender(element)

    def send(text: str) -> bytes:
        ranges = [send_range(part) for part in parse_multirange(text)]
        return struct.pack(">i", len(ranges)) + b"".join(struct.pack(">i", len(r)) + r for r in ranges)

    return send
