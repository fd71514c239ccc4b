"""Python values straight from the buffers of a small Arrow array, for the row path.

``to_pylist`` builds ``datetime``/``Decimal`` objects (and rejects some values); the row path
wants the raw integers and bytes, as the vectorised encoders read them. Every reader returns one
entry per row, ``None`` for NULL rows. Only :mod:`.rowpath` uses these, on batches of a few rows.
"""

from __future__ import annotations

import struct

import pyarrow as pa


def valid_flags(arr: pa.Array) -> list[bool] | None:
    """Per-row validity, or None when the array has no NULLs."""
    if not arr.null_count:
        return None
    bitmap = arr.buffers()[0]
    if bitmap is None:
        return [False] * len(arr)
    bits = memoryview(bitmap)
    start = arr.offset
    return [bool(bits[i >> 3] >> (i & 7) & 1) for i in range(start, start + len(arr))]


def _with_nulls(values: list, valid: list[bool] | None) -> list:
    if valid is None:
        return values
    return [v if ok else None for v, ok in zip(values, valid, strict=True)]


def fixed_values(arr: pa.Array, code: str, width: int) -> list:
    """Fixed-width values (``struct`` code, little-endian) with NULL rows as None."""
    count = len(arr)
    buffer = arr.buffers()[1]
    if count == 0 or buffer is None:
        return [None] * count
    values = list(struct.unpack_from(f"<{count}{code}", buffer, arr.offset * width))
    return _with_nulls(values, valid_flags(arr))


def raw_chunks(arr: pa.Array, width: int) -> list[bytes | None]:
    """The value bytes of each row of a fixed-width array (``width`` bytes each)."""
    count = len(arr)
    buffer = arr.buffers()[1]
    if count == 0 or buffer is None:
        return [None] * count
    data = memoryview(buffer)
    start = arr.offset * width
    values = [data[start + i * width : start + (i + 1) * width].tobytes() for i in range(count)]
    return _with_nulls(values, valid_flags(arr))


def binary_values(arr: pa.Array) -> list[bytes | None]:
    """The bytes of each row of a ``string`` or ``binary`` array (32-bit offsets)."""
    count = len(arr)
    buffers = arr.buffers()
    if count == 0 or buffers[1] is None:
        return [None] * count
    offsets = struct.unpack_from(f"<{count + 1}i", buffers[1], arr.offset * 4)
    data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")
    values = [data[offsets[i] : offsets[i + 1]].tobytes() for i in range(count)]
    return _with_nulls(values, valid_flags(arr))


def decimal_values(arr: pa.Array) -> list[int | None]:
    """The unscaled integer of each decimal (any of decimal32/64/128/256)."""
    width = arr.type.bit_width // 8
    if width == 4:
        return fixed_values(arr, "i", 4)
    if width == 8:
        return fixed_values(arr, "q", 8)
    chunks = raw_chunks(arr, width)
    return [None if c is None else int.from_bytes(c, "little", signed=True) for c in chunks]
