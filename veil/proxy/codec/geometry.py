"""Binary forms of PostgreSQL's geometric types, built from their text form.

Every geometric value is a sequence of float8 coordinates (``point_send``, ``lseg_send``,
``box_send``, ``line_send``, ``circle_send``), a path adds its closed flag and point count, a
polygon its point count. PostgreSQL prints each coordinate in the shortest form that reads back
exactly (extra_float_digits 1, its default), so the floats parsed here are the stored ones.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

_NUMBER = re.compile(r"[-+]?(?:Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_SPECIAL = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf", "+Infinity": "inf"}


def _floats(text: str, count: int | None = None) -> list[float]:
    values = [float(_SPECIAL.get(n, n)) for n in _NUMBER.findall(text)]
    if count is not None and len(values) != count:
        raise ValueError(text)
    return values


def _fixed(count: int) -> Callable[[str], bytes]:
    packer = struct.Struct(f">{count}d")
    return lambda text: packer.pack(*_floats(text, count))


def _path_send(text: str) -> bytes:
    values = _floats(text)
    closed = not text.lstrip().startswith("[")
    return struct.pack(f">?i{len(values)}d", closed, len(values) // 2, *values)


def _polygon_send(text: str) -> bytes:
    values = _floats(text)
    return struct.pack(f">i{len(values)}d", len(values) // 2, *values)


#: Type OID -> converter of point, lseg, path, box, polygon, line and circle.
GEOMETRY: dict[int, Callable[[str], bytes]] = {
    600: _fixed(2),
    601: _fixed(4),
    602: _path_send,
    603: _fixed(4),
    604: _polygon_send,
    628: _fixed(3),
    718: _fixed(3),
}
