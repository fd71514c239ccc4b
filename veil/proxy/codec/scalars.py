"""Text and binary cells of the simple scalar types: bool, integers, floats, strings, bytea, uuid.

Binary integers are sized by the PostgreSQL type, not the Arrow one (an ``int8`` Arrow column
pinned as ``oid`` is sent as 4 unsigned bytes; an Arrow ``uint8`` reported as ``int2`` as two).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.errors import InvalidTextRepresentation
from veil.proxy.codec.cells import (
    HEX_WORDS,
    ArrowCells,
    MatrixCells,
    big_endian,
    binary_array,
    data_of,
    from_arrow,
    offsets_of,
    validity,
    values_of,
)

# Big-endian numpy dtype of each fixed-width integer-like PostgreSQL type's binary form.
INTEGER_WIRE: dict[int, str] = {
    21: ">i2",  # int2
    23: ">i4",  # int4
    20: ">i8",  # int8
    26: ">u4",  # oid
    24: ">u4",  # regproc
    28: ">u4",  # xid
    29: ">u4",  # cid
    2202: ">u4",  # regprocedure
    2203: ">u4",  # regoper
    2204: ">u4",  # regoperator
    2205: ">u4",  # regclass
    2206: ">u4",  # regtype
    4089: ">u4",  # regnamespace
    4096: ">u4",  # regrole
    3734: ">u4",  # regconfig
    3769: ">u4",  # regdictionary
    4191: ">u4",  # regcollation
    18: ">i1",  # "char"
}
_UUID_DASHES = (8, 12, 16, 20)


def null_cells(rows: int) -> MatrixCells:
    """A column of NULLs (Arrow's null type)."""
    return MatrixCells(np.zeros((rows, 0), dtype=np.uint8), None, np.zeros(rows, dtype=bool))


def bool_values(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(bool)


def bool_text(arr: pa.Array) -> MatrixCells:
    data = np.where(bool_values(arr), ord("t"), ord("f")).astype(np.uint8)[:, None]
    return MatrixCells(data, None, validity(arr))


def bool_binary(arr: pa.Array) -> MatrixCells:
    return MatrixCells(bool_values(arr).astype(np.uint8)[:, None], None, validity(arr))


def integer_text(arr: pa.Array) -> ArrowCells:
    return from_arrow(pc.cast(arr, pa.string()))


def integer_binary(arr: pa.Array, wire: str) -> MatrixCells:
    raw = values_of(arr, arr.type.to_pandas_dtype())
    return MatrixCells(big_endian(raw, wire), None, validity(arr))


def float_binary(arr: pa.Array, wire: str) -> MatrixCells:
    raw = values_of(arr, arr.type.to_pandas_dtype())
    return MatrixCells(big_endian(raw, wire), None, validity(arr))


def fixed_binary(arr: pa.Array) -> MatrixCells:
    """Raw bytes of a fixed_size_binary column."""
    width = arr.type.byte_width
    raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8, count=(arr.offset + len(arr)) * width)
    return MatrixCells(raw[arr.offset * width :].reshape(len(arr), width), None, validity(arr))


def bytea_text(arr: pa.Array) -> ArrowCells:
    """PostgreSQL's hex format: ``\\x`` then two lowercase hex digits per byte."""
    if pa.types.is_fixed_size_binary(arr.type):
        arr = pc.cast(arr, pa.binary())
    offsets = offsets_of(arr).astype(np.int64)
    data = data_of(arr)[offsets[0] : offsets[-1]]
    rebased = offsets - offsets[0]
    index = np.arange(len(arr) + 1, dtype=np.int64)
    hex_data = HEX_WORDS[data].view(np.uint8)
    hex_offsets = 2 * rebased + 2 * index
    out = np.empty(len(hex_data) + 2 * len(arr), dtype=np.uint8)
    starts = hex_offsets[:-1]
    out[starts] = ord("\\")
    out[starts + 1] = ord("x")
    keep = np.ones(len(out), dtype=bool)
    keep[starts] = False
    keep[starts + 1] = False
    out[keep] = hex_data
    return ArrowCells(binary_array(hex_offsets.astype(np.int32), out, validity(arr)))


def uuid_text(arr: pa.Array) -> MatrixCells:
    """``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` from 16-byte values."""
    raw = fixed_binary(arr)
    hex_chars = HEX_WORDS[raw.data].view(np.uint8).reshape(len(arr), 32)
    out = np.empty((len(arr), 36), dtype=np.uint8)
    source = 0
    target = 0
    for dash in (*_UUID_DASHES, 32):
        span = dash - source
        out[:, target : target + span] = hex_chars[:, source:dash]
        target += span
        if dash != 32:
            out[:, target] = ord("-")
            target += 1
        source = dash
    return MatrixCells(out, None, raw.valid)


def uuid_binary_from_text(arr: pa.Array) -> MatrixCells:
    """16 bytes from canonical uuid strings (a uuid extension stored as text)."""
    filled = pc.fill_null(arr, "00000000-0000-0000-0000-000000000000")
    compact = pc.replace_substring(pc.utf8_lower(filled), "-", "")
    lengths = pc.binary_length(compact).to_numpy()
    if len(lengths) and (lengths != 32).any():
        raise InvalidTextRepresentation("invalid input syntax for type uuid")
    chars = np.frombuffer(compact.buffers()[2], dtype=np.uint8, count=32 * len(arr))
    nibbles = np.full(256, 255, dtype=np.uint8)
    nibbles[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
    nibbles[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
    values = nibbles[chars.reshape(len(arr), 16, 2)]
    if (values == 255).any():
        raise InvalidTextRepresentation("invalid input syntax for type uuid")
    return MatrixCells((values[:, :, 0] << 4) | values[:, :, 1], None, validity(arr))
