"""Encoded cells: the wire bytes of every value of one column, before rows are assembled.

Encoders hand back one of two shapes, whichever is cheaper to produce:

* :class:`MatrixCells` -- a ``(rows, width)`` uint8 matrix. Every row may keep all its bytes
  (fixed-width binary values such as ``int8``, ``float8``, ``timestamp``, and fixed-layout text
  such as dates and uuids), a prefix of them (``widths``: timestamps whose fraction is trimmed),
  or any subset (``mask``: numerics, generic date layouts). Dense matrices are glued side by side
  by the row assembler (see ``datarow``), which keeps the final join short.
* :class:`ArrowCells` -- an Arrow ``binary`` array, for values that pyarrow compute already
  produces (integer casts, strings passed through, joined arrays).

Both carry NULLs: ``valid`` for matrices, the validity bitmap for Arrow arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Two ASCII digits for every number 0..99: ``DIGIT_PAIRS[n]`` is ``b"%02d" % n`` as uint8.
DIGIT_PAIRS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8)
# The same as little-endian integers, for assembling text in 64-bit words.
PAIR_WORDS = DIGIT_PAIRS.view("<u2").reshape(100).astype(np.uint64)
QUAD_WORDS = np.frombuffer(b"".join(b"%04d" % i for i in range(10_000)), dtype="<u4").astype(
    np.uint64
)
# Two lowercase hex digits for every byte value, as little-endian uint16.
HEX_WORDS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype="<u2")
_INLINE_VIEW = 12  # Arrow binary views keep values up to 12 bytes inline


@dataclass(frozen=True)
class MatrixCells:
    """Cell ``i`` is ``data[i]``, or its first ``widths[i]`` bytes, or ``data[i][mask[i]]``.

    At most one of ``widths`` and ``mask`` is given. A row whose ``valid`` entry is False is
    NULL whatever the rest says.
    """

    data: np.ndarray
    mask: np.ndarray | None = None
    valid: np.ndarray | None = None
    widths: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def dense(self) -> bool:
        """Every row keeps every byte and none is NULL."""
        return self.mask is None and self.widths is None and self.valid is None

    def lengths(self) -> np.ndarray:
        """Byte length of every cell as int64, -1 for NULL."""
        rows, width = self.data.shape
        if self.widths is not None:
            out = self.widths.astype(np.int64)
        elif self.mask is not None:
            out = self.mask.sum(axis=1, dtype=np.int64)
        else:
            out = np.full(rows, width, dtype=np.int64)
        if self.valid is not None:
            out[~self.valid] = -1
        return out


@dataclass(frozen=True)
class ArrowCells:
    """Cell ``i`` is ``array[i]`` (an Arrow ``binary`` array; NULL where the array is null)."""

    array: pa.Array

    def __len__(self) -> int:
        return len(self.array)

    def lengths(self) -> np.ndarray:
        offsets = offsets_of(self.array)
        out = np.diff(offsets).astype(np.int64)
        if self.array.null_count:
            out[~validity_or_true(self.array)] = -1
        return out


Cells = MatrixCells | ArrowCells


def validity(arr: pa.Array) -> np.ndarray | None:
    """Boolean validity of an Arrow array, or None when it has no NULLs."""
    if arr.null_count == 0:
        return None
    if pa.types.is_null(arr.type):
        return np.zeros(len(arr), dtype=bool)
    bitmap = arr.buffers()[0]
    if bitmap is None:
        return pc.is_valid(arr).to_numpy(zero_copy_only=False)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)].astype(bool)


def validity_or_true(arr: pa.Array) -> np.ndarray:
    valid = validity(arr)
    return np.ones(len(arr), dtype=bool) if valid is None else valid


def values_of(arr: pa.Array, dtype: np.dtype | type | str) -> np.ndarray:
    """The raw value buffer of a fixed-width Arrow array as numpy (NULL slots hold garbage)."""
    dtype = np.dtype(dtype)
    buf = arr.buffers()[1]
    width = dtype.itemsize
    start = arr.offset * width
    return np.frombuffer(buf, dtype=dtype, count=len(arr), offset=start)


def offsets_of(arr: pa.Array) -> np.ndarray:
    """The ``len + 1`` value offsets of a binary/string/list array (honouring slicing)."""
    large = pa.types.is_large_binary(arr.type) or pa.types.is_large_string(arr.type)
    large = large or pa.types.is_large_list(arr.type)
    dtype = np.int64 if large else np.int32
    width = 8 if large else 4
    return np.frombuffer(
        arr.buffers()[1], dtype=dtype, count=len(arr) + 1, offset=arr.offset * width
    )


def data_of(arr: pa.Array) -> np.ndarray:
    """The data buffer of a binary/string array as uint8 (empty when there is none)."""
    buf = arr.buffers()[2]
    if buf is None:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(buf, dtype=np.uint8)


def binary_array(
    offsets: np.ndarray, data: np.ndarray | pa.Buffer, valid: np.ndarray | None = None
) -> pa.Array:
    """An Arrow ``binary`` array from int32 offsets, a data buffer and optional validity."""
    rows = len(offsets) - 1
    bitmap = None
    null_count = 0
    if valid is not None and not bool(valid.all()):
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(rows - np.count_nonzero(valid))
    data_buf = data if isinstance(data, pa.Buffer) else pa.py_buffer(np.ascontiguousarray(data))
    return pa.Array.from_buffers(
        pa.binary(),
        rows,
        [bitmap, pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int32)), data_buf],
        null_count=null_count,
    )


def pack_matrix(data: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Compact a byte matrix row by row: (int64 offsets, concatenated kept bytes)."""
    rows, width = data.shape
    offsets = np.zeros(rows + 1, dtype=np.int64)
    if mask is None:
        offsets[1:] = np.arange(1, rows + 1, dtype=np.int64) * width
        return offsets, np.ascontiguousarray(data).reshape(-1)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    return offsets, data[mask]


def to_arrow(cells: Cells) -> pa.Array:
    """Any cells as an Arrow ``binary`` array (NULLs kept)."""
    if isinstance(cells, ArrowCells):
        return cells.array
    if cells.mask is not None:
        mask = cells.mask
        if cells.valid is not None:
            mask = mask & cells.valid[:, None]
        offsets, data = pack_matrix(cells.data, mask)
        return binary_array(offsets, data, cells.valid)
    if cells.dense:
        offsets, data = pack_matrix(cells.data, None)
        return binary_array(offsets, data)
    lengths = np.maximum(cells.lengths(), 0)
    return _from_views(np.ascontiguousarray(cells.data), lengths, cells.valid)


def _from_views(data: np.ndarray, lengths: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """Rows of a matrix cut to per-row lengths, through an Arrow ``binary_view`` array.

    Each view points into the matrix (or inlines values of at most 12 bytes); Arrow's cast to
    ``binary`` then copies the bytes out in C++, much faster than a numpy mask compaction.
    """
    rows, width = data.shape
    views = np.zeros((rows, 16), dtype=np.uint8)
    views[:, 0:4] = lengths.astype("<i4").view(np.uint8).reshape(rows, 4)
    head = min(width, _INLINE_VIEW)
    short = lengths <= _INLINE_VIEW
    inline = data[:, :head] * (np.arange(head)[None, :] < lengths[:, None])
    views[:, 4 : 4 + head] = inline
    if not short.all():
        long_rows = ~short
        row_starts = (np.arange(rows, dtype=np.int64) * width).astype("<i4")
        views[long_rows, 8:12] = 0
        views[long_rows, 12:16] = row_starts[long_rows].view(np.uint8).reshape(-1, 4)
    bitmap = None
    null_count = 0
    if valid is not None and not bool(valid.all()):
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(rows - np.count_nonzero(valid))
    array = pa.Array.from_buffers(
        pa.binary_view(),
        rows,
        [bitmap, pa.py_buffer(views), pa.py_buffer(data.reshape(-1))],
        null_count=null_count,
    )
    return pc.cast(array, pa.binary())


def from_arrow(arr: pa.Array) -> ArrowCells:
    """Wrap a string-like or binary-like Arrow array, viewing or casting it as ``binary``."""
    t = arr.type
    if pa.types.is_binary(t):
        return ArrowCells(arr)
    if pa.types.is_string(t):
        return ArrowCells(arr.view(pa.binary()))
    return ArrowCells(pc.cast(arr, pa.binary()))


def big_endian(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values`` converted to a big-endian numpy dtype, as a ``(rows, itemsize)`` byte matrix."""
    converted = values.astype(dtype)
    return converted.view(np.uint8).reshape(len(values), np.dtype(dtype).itemsize)


def put_digits(out: np.ndarray, values: np.ndarray) -> None:
    """Write non-negative ``values`` as zero-padded decimal into the ``(rows, k)`` slice ``out``.

    Digits beyond ``k`` are dropped; callers size ``k`` for the largest value.
    """
    width = out.shape[1]
    v = values.astype(np.int64, copy=True)
    col = width
    while col >= 2:
        out[:, col - 2 : col] = DIGIT_PAIRS[v % 100]
        v //= 100
        col -= 2
    if col == 1:
        out[:, 0] = 48 + v % 10


def decimal_width(values: np.ndarray) -> np.ndarray:
    """Number of decimal digits of each non-negative int64 (at least 1)."""
    width = np.ones(len(values), dtype=np.int64)
    threshold = 10
    top = int(values.max()) if len(values) else 0
    while threshold <= top:
        width += values >= threshold
        threshold *= 10
    return width


def merge_rows(base: pa.Array, pieces: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """``base`` with the rows listed in each piece replaced by that piece's values.

    One concatenation and one take, however many pieces there are.
    """
    if not pieces:
        return base
    if len(pieces) == 1 and len(pieces[0][0]) == len(base):
        values = pieces[0][1]
        return values.cast(base.type) if values.type != base.type else values
    if len(pieces) == 1:
        mask = np.zeros(len(base), dtype=bool)
        mask[pieces[0][0]] = True
        return pc.replace_with_mask(base, pa.array(mask), pieces[0][1].cast(base.type))
    index = np.arange(len(base), dtype=np.int64)
    start = len(base)
    arrays = [base]
    for rows, values in pieces:
        index[rows] = np.arange(start, start + len(rows))
        start += len(rows)
        arrays.append(values.cast(base.type) if values.type != base.type else values)
    return pa.concat_arrays(arrays).take(pa.array(index))
