"""Arrow ↔ numpy helpers that let validators work on whole sample columns at once.

Validators receive values a regex has already vetted (so their characters and lengths are known)
and turn them into fixed-width byte matrices: one row per value, one column per character. A
checksum over a million values is then a handful of numpy operations instead of a Python loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ZERO = ord("0")


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DASHES = (8, 12, 16, 20)


def uuid_text(values: pa.Array) -> pa.StringArray:
    """16-byte UUIDs (DuckDB's ``arrow.uuid`` extension) as canonical 8-4-4-4-12 text."""
    storage = values.storage if isinstance(values, pa.ExtensionArray) else values
    valid = storage.is_valid()
    raw = storage.fill_null(b"\0" * 16) if storage.null_count else storage
    data = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 16 : (raw.offset + len(raw)) * 16]
    nibbles = np.stack([_HEX[data >> 4], _HEX[data & 15]], axis=1).reshape(len(raw), 32)
    text = np.insert(nibbles, _UUID_DASHES, ord("-"), axis=1)
    offsets = pa.py_buffer((np.arange(len(raw) + 1, dtype=np.int32) * 36).tobytes())
    array = pa.Array.from_buffers(pa.string(), len(raw), [None, offsets, pa.py_buffer(text.tobytes())])
    return pc.if_else(valid, array, None)


def as_strings(values: pa.Array) -> pa.StringArray:
    """``values`` as a (small-offset) UTF-8 string array."""
    if isinstance(values, pa.ChunkedArray):
        values = pa.concat_arrays(values.chunks) if values.num_chunks else pa.array([], pa.string())
    if isinstance(values.type, pa.BaseExtensionType) and values.type.extension_name == "arrow.uuid":
        return uuid_text(values)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def byte_matrix(values: pa.Array, width: int) -> np.ndarray:
    """An ``(n, width)`` uint8 matrix of values that are all exactly ``width`` bytes long."""
    values = as_strings(values)
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    flat = data[offsets[0] : offsets[-1]]
    if flat.size != len(values) * width:
        raise ValueError(f"byte_matrix needs values of exactly {width} bytes")
    return flat.reshape(len(values), width)


def right_aligned(values: pa.Array, width: int, fill: str = "0") -> np.ndarray:
    """Values of at most ``width`` ASCII characters, left-padded with ``fill`` into a matrix.

    Left-padding with zeros leaves Luhn sums and mod-97 remainders unchanged, so values of
    different lengths share one matrix."""
    return byte_matrix(pc.utf8_lpad(as_strings(values), width, fill), width)


def digit_matrix(values: pa.Array, width: int) -> np.ndarray:
    """Digit strings of at most ``width`` digits as an ``(n, width)`` int matrix (zero-padded)."""
    return right_aligned(values, width).astype(np.int64) - ZERO


def digits_only(values: pa.Array) -> pa.StringArray:
    """Values with every non-digit removed (``4111-1111 1111`` → ``411111111111``)."""
    return pc.replace_substring_regex(as_strings(values), r"[^0-9]", "")


def matches(values: pa.Array, pattern: str, ignore_case: bool = False) -> np.ndarray:
    """Boolean numpy mask of values matching an RE2 ``pattern`` (nulls never match)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    matched = pc.match_substring_regex(as_strings(values), pattern, ignore_case=ignore_case)
    return pc.fill_null(matched, False).to_numpy(zero_copy_only=False)


def lengths(values: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.utf8_length(as_strings(values)), 0).to_numpy(zero_copy_only=False)


def int_groups(values: pa.Array, pattern: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Named integer groups extracted with an RE2 ``pattern``; -1 where a value does not match."""
    extracted = pc.extract_regex(as_strings(values), pattern)
    result = {}
    for name in names:
        field = pc.struct_field(extracted, name)
        field = pc.if_else(pc.equal(field, ""), None, field)
        result[name] = pc.fill_null(pc.cast(field, pa.int64()), -1).to_numpy(zero_copy_only=False)
    return result
