"""``numeric`` text and binary output for Arrow decimals (and ``uint64``).

Text is the value with exactly the column's scale (``12.50``), like PostgreSQL prints a
``numeric(p, s)``. Arrow's own decimal-to-string switches to ``1.000E-7`` for tiny values, so
the text is built from the unscaled integer: cast to digits, pad, and split at the scale.

Binary is ``numeric_send``: int16 ``ndigits``, ``weight``, ``sign``, ``dscale``, then
``ndigits`` base-10000 digits, with leading and trailing zero digits stripped (zero has no
digits, weight 0 and a positive sign). Each column has a fixed number of base-10000 groups
(integer groups from the precision, fraction groups from the scale); they are computed for
every row at once -- with int64 arithmetic when the precision is at most 18, otherwise from the
decimal digit string -- then each row's significant groups are shifted to the front and the row
is cut to ``8 + 2 * ndigits`` bytes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.proxy.codec.cells import (
    ArrowCells,
    MatrixCells,
    big_endian,
    validity,
    values_of,
)

NUMERIC_POS = 0x0000
NUMERIC_NEG = 0x4000
_POW10 = [10**k for k in range(20)]


def _as_decimal(arr: pa.Array) -> pa.Array:
    """decimal32/64 widened to decimal128; negative scales rescaled to scale 0."""
    t = arr.type
    if t.bit_width < 128:
        arr = pc.cast(arr, pa.decimal128(t.precision, t.scale))
        t = arr.type
    if t.scale < 0:
        precision = t.precision - t.scale
        target = pa.decimal128 if precision <= 38 else pa.decimal256
        arr = pc.cast(arr, target(min(precision, 76), 0))
    return arr


def _unscaled_text(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Digits of the absolute unscaled integer of each decimal, and the negative rows."""
    t = arr.type
    as_integer = pa.Array.from_buffers(
        (pa.decimal128 if t.bit_width == 128 else pa.decimal256)(t.precision, 0),
        len(arr),
        arr.buffers(),
        null_count=arr.null_count,
        offset=arr.offset,
    )
    negative = pc.fill_null(pc.less(as_integer, 0), False).to_numpy(zero_copy_only=False)
    return pc.cast(pc.abs(as_integer), pa.string()), negative


def numeric_text(arr: pa.Array) -> ArrowCells:
    """Text of a decimal or unsigned integer column."""
    if pa.types.is_integer(arr.type):
        return ArrowCells(pc.cast(arr, pa.string()).view(pa.binary()))
    arr = _as_decimal(arr)
    scale = arr.type.scale
    digits, negative = _unscaled_text(arr)
    if scale > 0:
        padded = pc.ascii_lpad(digits, width=scale + 1, padding="0")
        whole = pc.utf8_slice_codeunits(padded, 0, -scale)
        fraction = pc.utf8_slice_codeunits(padded, -scale)
        digits = pc.binary_join_element_wise(whole, fraction, ".")
    sign = pc.if_else(pa.array(negative), "-", "")
    text = pc.binary_join_element_wise(sign, digits, "")
    return ArrowCells(text.view(pa.binary()))


def numeric_binary(arr: pa.Array) -> MatrixCells:
    """``numeric_send`` of a decimal or unsigned integer column."""
    valid = validity(arr)
    if pa.types.is_integer(arr.type):
        magnitude = values_of(arr, np.uint64)
        negative = np.zeros(len(arr), dtype=bool)
        return _from_groups(_groups_from_int(magnitude, 20, 0), 5, negative, 0, valid)
    arr = _as_decimal(arr)
    precision, scale = arr.type.precision, arr.type.scale
    int_groups = max(0, -(-(precision - scale) // 4))
    if arr.type.bit_width == 128 and precision <= 18:
        raw = _low_words(arr)
        negative = raw < 0
        groups = _groups_from_int(np.abs(raw).astype(np.uint64), precision, scale)
    else:
        digits, negative = _unscaled_text(arr)
        groups = _groups_from_digits(digits, precision, scale)
    negative &= groups.any(axis=1)
    return _from_groups(groups, int_groups, negative, scale, valid)


def _low_words(arr: pa.Array) -> np.ndarray:
    """The low 64 bits of each decimal128 (the whole value when precision <= 18)."""
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=2 * (arr.offset + len(arr)))
    return words[2 * arr.offset :: 2]


def _groups_from_int(magnitude: np.ndarray, precision: int, scale: int) -> np.ndarray:
    """Base-10000 groups (most significant first) of ``magnitude / 10**scale``."""
    int_groups = max(0, -(-(precision - scale) // 4))
    frac_groups = -(-scale // 4)
    whole = magnitude // np.uint64(_POW10[scale])
    fraction = magnitude % np.uint64(_POW10[scale])
    out = np.empty((len(magnitude), int_groups + frac_groups), dtype=np.int64)
    for k in range(int_groups):
        out[:, int_groups - 1 - k] = (whole // np.uint64(10 ** (4 * k))) % np.uint64(10_000)
    for j in range(1, frac_groups + 1):
        if 4 * j <= scale:
            group = (fraction // np.uint64(_POW10[scale - 4 * j])) % np.uint64(10_000)
        else:
            group = (fraction % np.uint64(_POW10[scale - 4 * (j - 1)])) * np.uint64(
                _POW10[4 * j - scale]
            )
        out[:, int_groups + j - 1] = group
    return out


def _groups_from_digits(digits: pa.Array, precision: int, scale: int) -> np.ndarray:
    """Base-10000 groups from the unscaled digit strings (any precision)."""
    rows = len(digits)
    int_digits = max(0, precision - scale)
    int_groups = -(-int_digits // 4)
    frac_groups = -(-scale // 4)
    padded = pc.ascii_lpad(pc.fill_null(digits, "0"), width=precision, padding="0")
    raw = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=rows * precision)
    chars = raw.reshape(rows, precision).astype(np.int64) - ord("0")
    matrix = np.zeros((rows, 4 * (int_groups + frac_groups)), dtype=np.int64)
    start = 4 * int_groups - int_digits
    matrix[:, start : start + precision] = chars
    quads = matrix.reshape(rows, int_groups + frac_groups, 4)
    return quads[:, :, 0] * 1000 + quads[:, :, 1] * 100 + quads[:, :, 2] * 10 + quads[:, :, 3]


def _from_groups(
    groups: np.ndarray,
    int_groups: int,
    negative: np.ndarray,
    scale: int,
    valid: np.ndarray | None,
) -> MatrixCells:
    rows, count = groups.shape
    nonzero = groups != 0
    any_digit = nonzero.any(axis=1)
    lead = nonzero.argmax(axis=1)
    trail = nonzero[:, ::-1].argmax(axis=1)
    ndigits = np.where(any_digit, count - lead - trail, 0)
    weight = np.where(any_digit, int_groups - 1 - lead, 0)
    sign = np.where(negative & any_digit, NUMERIC_NEG, NUMERIC_POS)
    header = np.empty((rows, 8), dtype=np.uint8)
    header[:, 0:2] = big_endian(ndigits, ">i2")
    header[:, 2:4] = big_endian(weight, ">i2")
    header[:, 4:6] = big_endian(sign, ">u2")
    header[:, 6:8] = big_endian(np.full(rows, scale), ">i2")
    padded = np.concatenate([groups, np.zeros_like(groups)], axis=1)
    significant = groups
    shifts = np.flatnonzero(np.bincount(lead, minlength=1))
    for shift in shifts[shifts > 0]:
        rows_here = (lead == shift)[:, None]
        significant = np.where(rows_here, padded[:, shift : shift + count], significant)
    body = big_endian(significant.reshape(-1), ">i2").reshape(rows, 2 * count)
    data = np.concatenate([header, body], axis=1)
    return MatrixCells(data, None, valid, widths=8 + 2 * ndigits)
