"""``float4``/``float8`` text output, byte-identical to PostgreSQL 15 (``extra_float_digits = 1``).

PostgreSQL prints the shortest digit string that reads back to the same value (Ryu), in fixed
notation when the decimal exponent is in ``[-4, 15)`` (``[-4, 6)`` for ``float4``) and as
``1.5e+20`` / ``1.5e-07`` otherwise (at least two exponent digits). pyarrow's cast to string
produces the same shortest digits but switches notation at other thresholds (``[-6, 10)``) and
writes one-digit exponents. So the column is cast by Arrow, and only rows in the band where the
two layouts can differ are re-laid out with numpy: their digits and exponent are parsed out of
Arrow's text and rendered PostgreSQL's way. Infinities and NaN are spelled ``Infinity``,
``-Infinity`` and ``NaN``.

One more difference: PostgreSQL's Ryu never accepts a candidate lying exactly on the boundary of
the rounding interval (standard Ryu and Arrow do, when the mantissa is even). That can only
happen for large integral values (``>= 2**54`` for float8, ``>= 2**25`` for float4), so those
rows are checked with exact integer arithmetic, and the rare hits are re-derived one by one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.proxy.codec.cells import ArrowCells, padded_matrix, validity_or_true, values_of

_ZERO, _NINE, _DOT, _MINUS, _PLUS, _E = (ord(c) for c in "09.-+e")


def float_text(arr: pa.Array) -> ArrowCells:
    """Text of a float32/float64 array (float16 must be widened to float32 first)."""
    single = pa.types.is_float32(arr.type)
    values = values_of(arr, np.float32 if single else np.float64)
    text = pc.cast(arr, pa.string()).view(pa.binary())
    if len(values) == 0:
        return ArrowCells(text)
    valid = validity_or_true(arr)
    finite = np.isfinite(values)
    magnitude = np.abs(np.where(finite, values, 1.0))
    # Loose bounds around the bands where Arrow's layout may differ; rows inside are re-rendered
    # from their digits, which is correct whether or not they needed it.
    upper_low, upper_high = (9e5, 1.1e10) if single else (9e9, 1.1e15)
    band = ((magnitude >= 9e-10) & (magnitude < 1.1e-4)) | (
        (magnitude >= upper_low) & (magnitude < upper_high)
    )
    bits = 24 if single else 53
    risky = magnitude >= 2.0 ** (bits + 1)
    relayout = (band | risky) & finite & valid
    if relayout.any():
        rows = np.flatnonzero(relayout)
        rendered = _relayout(
            text.take(pa.array(rows)),
            values[rows].astype(np.float64),
            bits=bits,
            exponent_limit=6 if single else 15,
        )
        text = pc.replace_with_mask(text, pa.array(relayout), rendered)
    special = ~finite & valid
    if special.any():
        rows = np.flatnonzero(special)
        words = np.where(
            np.isnan(values[rows]), "NaN", np.where(values[rows] > 0, "Infinity", "-Infinity")
        )
        text = pc.replace_with_mask(
            text, pa.array(special), pa.array(words.tolist(), pa.binary())
        )
    return ArrowCells(text)


def _relayout(text: pa.Array, values: np.ndarray, bits: int, exponent_limit: int) -> pa.Array:
    """Re-render non-zero finite numbers from Arrow's text in PostgreSQL's layout."""
    negative, digits, count, exponent = _parse(text)
    risky = np.flatnonzero(np.abs(values) >= 2.0 ** (bits + 1))
    if len(risky):
        hits = risky[
            _on_boundary(digits[risky], count[risky], exponent[risky], values[risky], bits)
        ]
        for row in hits:
            digits[row], count[row], exponent[row] = _interior_digits(float(values[row]), bits)
    matrix, mask = _render(digits, count, exponent, exponent_limit)
    matrix[:, 0] = _MINUS
    mask[:, 0] = negative
    offsets = np.zeros(len(matrix) + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(matrix), [None, pa.py_buffer(offsets), pa.py_buffer(matrix[mask])]
    )


def _parse(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``-1.25e+20`` / ``0.000125`` / ``1250000`` into sign, digits, digit count, exponent.

    ``digits`` is a ``(rows, 17)`` matrix of ASCII digits without leading or trailing zeros
    (padded with ``0``); ``exponent`` is the decimal exponent of the first digit. Arrow writes
    at most one ``.``, so digit ``i`` sits at ``base + i``, one further once past the dot.
    """
    matrix, lengths = padded_matrix(text)
    rows, width = matrix.shape
    row_index = np.arange(rows)
    cols = np.arange(width)[None, :]
    negative = matrix[:, 0] == _MINUS
    start = negative.astype(np.int64)
    is_e = matrix == _E
    has_e = is_e.any(axis=1)
    end = np.where(has_e, is_e.argmax(axis=1), lengths)
    is_dot = matrix == _DOT
    dot = np.where(is_dot.any(axis=1), is_dot.argmax(axis=1), end)
    below_one = ~has_e & (matrix[row_index, start] == _ZERO)
    significant = (matrix != _ZERO) & (cols > dot[:, None]) & (cols < end[:, None])
    first_significant = significant.argmax(axis=1)
    base = np.where(below_one, first_significant, start)
    skip = np.where(below_one, width + 1, dot)
    raw_count = end - base - (skip < end)

    i = np.arange(17)[None, :]
    present = i < raw_count[:, None]
    digits = _shifted_digits(matrix, base, skip)
    digits[~present] = _ZERO
    nonzero = (digits != _ZERO) & present
    count = 17 - nonzero[:, ::-1].argmax(axis=1)

    fixed_exponent = np.where(below_one, dot - first_significant, dot - start - 1)
    exponent = np.where(has_e, _parse_exponent(matrix, end, lengths), fixed_exponent)
    return negative, digits, count, exponent


def _shifted_digits(matrix: np.ndarray, base: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """``digits[r, i] = matrix[r, base + i]``, one column further from ``skip`` on.

    ``base`` takes only a few distinct values, so this is a handful of shifted-slice selects
    rather than a per-byte gather.
    """
    rows, width = matrix.shape
    padded = np.zeros((rows, width + 19), dtype=np.uint8)
    padded[:, :width] = matrix
    digits = np.zeros((rows, 17), dtype=np.uint8)
    i = np.arange(17)[None, :]
    for shift in np.flatnonzero(np.bincount(base, minlength=1)):
        rows_here = (base == shift)[:, None]
        before_dot = (i + shift) < skip[:, None]
        digits = np.where(rows_here & before_dot, padded[:, shift : shift + 17], digits)
        after_dot = rows_here & ~before_dot
        digits = np.where(after_dot, padded[:, shift + 1 : shift + 18], digits)
    return digits


def _parse_exponent(matrix: np.ndarray, e_pos: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    rows, width = matrix.shape
    row_index = np.arange(rows)
    value = np.zeros(rows, dtype=np.int64)
    negative = matrix[row_index, np.minimum(e_pos + 1, width - 1)] == _MINUS
    for offset in range(2, 5):
        pos = e_pos + offset
        char = matrix[row_index, np.minimum(pos, width - 1)].astype(np.int64)
        value = np.where(pos < lengths, value * 10 + (char - _ZERO), value)
    return np.where(negative, -value, value)


# Rendering fills one canonical row per value and masks away what a layout does not use:
#   sign | "0." | three "0" | d0 . d1 . d2 ... d16 . | "e" | exponent sign | three digits
_SIGN, _LEAD, _ZEROS, _DIGITS, _SUFFIX = 0, 1, 3, 6, 40
_WIDTH = 45


def _render(
    digits: np.ndarray, count: np.ndarray, exponent: np.ndarray, exponent_limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """PostgreSQL's layout of the digits: a byte matrix whose column 0 is left for the sign,
    and the mask of the bytes to keep (column 0 unmasked)."""
    rows = len(count)
    matrix = np.empty((rows, _WIDTH), dtype=np.uint8)
    matrix[:, _LEAD] = _ZERO
    matrix[:, _LEAD + 1] = _DOT
    matrix[:, _ZEROS:_DIGITS] = _ZERO
    matrix[:, _DIGITS:_SUFFIX:2] = digits
    matrix[:, _DIGITS + 1 : _SUFFIX : 2] = _DOT
    matrix[:, _SUFFIX] = _E
    matrix[:, _SUFFIX + 1] = np.where(exponent < 0, _MINUS, _PLUS)
    magnitude = np.abs(exponent)
    matrix[:, _SUFFIX + 2] = _ZERO + magnitude // 100
    matrix[:, _SUFFIX + 3] = _ZERO + (magnitude // 10) % 10
    matrix[:, _SUFFIX + 4] = _ZERO + magnitude % 10

    fixed = (exponent >= -4) & (exponent < exponent_limit)
    small = fixed & (exponent < 0)
    sci = ~fixed
    n = count[:, None]
    e = exponent[:, None]
    i = np.arange(17)[None, :]
    mask = np.zeros((rows, _WIDTH), dtype=bool)
    mask[:, _LEAD : _LEAD + 2] = small[:, None]
    mask[:, _ZEROS:_DIGITS] = small[:, None] & (np.arange(3)[None, :] < -e - 1)
    integer_digits = np.where(fixed & ~small, np.maximum(count, exponent + 1), count)
    mask[:, _DIGITS:_SUFFIX:2] = i < integer_digits[:, None]
    dot_after = np.where(sci, 0, exponent)[:, None]
    mask[:, _DIGITS + 1 : _SUFFIX : 2] = (~small[:, None]) & (i == dot_after) & (n > dot_after + 1)
    mask[:, _SUFFIX : _SUFFIX + 2] = sci[:, None]
    mask[:, _SUFFIX + 2] = sci & (magnitude >= 100)
    mask[:, _SUFFIX + 3 : _SUFFIX + 5] = sci[:, None]
    return matrix, mask


def _digits_value(digits: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The digit strings (at most 17 digits) as int64."""
    value = np.zeros(len(count), dtype=np.int64)
    for col in range(16):
        value = np.where(col < count, value * 10 + (digits[:, col].astype(np.int64) - _ZERO), value)
    return value


def _on_boundary(
    digits: np.ndarray, count: np.ndarray, exponent: np.ndarray, values: np.ndarray, bits: int
) -> np.ndarray:
    """Rows whose shortest digits sit exactly on a midpoint between adjacent floats.

    With ``value = m * 2**e2`` (``2**(bits-1) <= m < 2**bits``) the midpoints are
    ``(2m +- 1) * 2**(e2 - 1)`` (and ``(4m - 1) * 2**(e2 - 2)`` below a power of two), whose odd
    parts are below ``2**(bits + 2)``. The candidate ``D * 10**p`` has odd part
    ``odd(D) * 5**p``; comparing odd parts and powers of two is exact in int64.
    """
    magnitude = np.abs(values)
    candidate = (magnitude >= 2.0 ** (bits + 1)) & (count < (9 if bits == 24 else 17))
    mantissa, exp2 = np.frexp(magnitude)
    m = (mantissa * 2.0**bits).astype(np.int64)
    e2 = exp2.astype(np.int64) - bits
    d = _digits_value(digits, count)
    d = np.where(candidate & (d > 0), d, 1)
    twos = np.zeros(len(d), dtype=np.int64)
    for _ in range(60):
        even = (d & 1) == 0
        if not even.any():
            break
        d = np.where(even, d >> 1, d)
        twos += even
    p = exponent.astype(np.int64) - (count - 1)
    limit = 1 << (bits + 3)
    odd = d
    rest = p.copy()
    fits = candidate & (p >= 0) & (p <= 27)
    for _ in range(28):
        active = fits & (rest > 0)
        if not active.any():
            break
        odd = np.where(active, odd * 5, odd)
        rest = np.where(active, rest - 1, rest)
        fits &= odd < limit
    fits &= rest == 0
    p_total = p + twos
    upper = (odd == 2 * m + 1) & (p_total == e2 - 1)
    lower = (odd == 2 * m - 1) & (p_total == e2 - 1)
    power = (m == 1 << (bits - 1)) & (odd == 4 * m - 1) & (p_total == e2 - 2)
    return fits & (upper | (lower & (m != 1 << (bits - 1))) | power)


def _interior_digits(value: float, bits: int) -> tuple[np.ndarray, int, int]:
    """PostgreSQL's digits for an integral ``value`` whose shortest candidate was a boundary."""
    magnitude = abs(value)
    mantissa, exp2 = np.frexp(magnitude)
    m = int(mantissa * 2.0**bits)
    e2 = int(exp2) - bits
    exact = m << e2
    high = (2 * m + 1) << (e2 - 1)
    low = ((4 * m - 1) << (e2 - 2)) if m == 1 << (bits - 1) else (2 * m - 1) << (e2 - 1)
    length = len(str(exact))
    chosen = exact
    for wanted in range(1, length + 1):
        scale = 10 ** (length - wanted)
        quotient, remainder = divmod(exact, scale)
        if 2 * remainder > scale or (2 * remainder == scale and quotient % 2 == 1):
            quotient += 1
        rounded = quotient * scale
        if low < rounded < high:
            chosen = rounded
            break
    text = str(chosen).rstrip("0")
    row = np.full(17, _ZERO, dtype=np.uint8)
    row[: min(17, len(text))] = np.frombuffer(text[:17].encode(), dtype=np.uint8)
    return row, len(text), len(str(chosen)) - 1
