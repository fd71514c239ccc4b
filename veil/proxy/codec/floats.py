"""``float4``/``float8`` text output, byte-identical to PostgreSQL 15 (``extra_float_digits = 1``).

PostgreSQL prints the shortest digit string that reads back to the same value (Ryu), in fixed
notation when the decimal exponent is in ``[-4, 15)`` (``[-4, 6)`` for ``float4``) and as
``1.5e+20`` / ``1.5e-07`` otherwise (at least two exponent digits). pyarrow's cast to string
produces the same shortest digits but switches notation at other thresholds (``[-6, 10)``) and
writes one-digit exponents. So the column is cast by Arrow, and only rows in the band where the
two layouts can differ are re-laid out with numpy: their digits and exponent are parsed out of
Arrow's text and rendered PostgreSQL's way. Infinities and NaN are spelled ``Infinity``,
``-Infinity`` and ``NaN``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.proxy.codec.cells import ArrowCells, padded_matrix, validity_or_true, values_of

_ZERO, _NINE, _DOT, _MINUS, _PLUS, _E = (ord(c) for c in "09.-+e")
_BODY_WIDTH = 26


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
    relayout = band & finite & valid
    if relayout.any():
        rows = np.flatnonzero(relayout)
        rendered = _relayout(text.take(pa.array(rows)), exponent_limit=6 if single else 15)
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


def _relayout(text: pa.Array, exponent_limit: int) -> pa.Array:
    """Re-render non-zero finite numbers from Arrow's text in PostgreSQL's layout."""
    negative, digits, count, exponent = _parse(text)
    body, keep = _render(digits, count, exponent, exponent_limit)
    sign = np.where(negative, _MINUS, 0).astype(np.uint8)[:, None]
    matrix = np.concatenate([sign, body], axis=1)
    mask = np.concatenate([negative[:, None], keep], axis=1)
    offsets = np.zeros(len(matrix) + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    return pa.Array.from_buffers(
        pa.binary(), len(matrix), [None, pa.py_buffer(offsets), pa.py_buffer(matrix[mask])]
    )


def _parse(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``-1.25e+20`` / ``0.000125`` / ``1250000`` into sign, digits, digit count, exponent.

    ``digits`` is a ``(rows, 17)`` matrix of ASCII digits without leading or trailing zeros;
    ``exponent`` is the decimal exponent of the first digit.
    """
    matrix, lengths = padded_matrix(text)
    rows, width = matrix.shape
    cols = np.arange(width)[None, :]
    negative = matrix[:, 0] == _MINUS
    start = negative.astype(np.int64)
    is_e = matrix == _E
    has_e = is_e.any(axis=1)
    e_pos = np.where(has_e, is_e.argmax(axis=1), lengths)
    in_mantissa = cols < e_pos[:, None]
    is_digit = (matrix >= _ZERO) & (matrix <= _NINE) & in_mantissa
    order = np.argsort(~is_digit, axis=1, kind="stable")
    raw = np.take_along_axis(matrix, order, axis=1)
    raw_count = is_digit.sum(axis=1)
    nonzero = (raw != _ZERO) & (cols < raw_count[:, None])
    leading = nonzero.argmax(axis=1)
    shifted = np.take_along_axis(raw, np.minimum(cols + leading[:, None], width - 1), axis=1)
    nonzero = (shifted != _ZERO) & (cols < (raw_count - leading)[:, None])
    count = width - np.argmax(nonzero[:, ::-1], axis=1)
    digits = np.full((rows, 17), _ZERO, dtype=np.uint8)
    span = min(17, width)
    digits[:, :span] = np.where(cols[:, :span] < count[:, None], shifted[:, :span], _ZERO)

    dot = matrix == _DOT
    dot_pos = np.where(dot.any(axis=1), dot.argmax(axis=1), e_pos)
    int_len = dot_pos - start
    starts_zero = matrix[np.arange(rows), start] == _ZERO
    fixed_exp = np.where(starts_zero & (int_len == 1), -leading, int_len - 1)
    sci_exp = _parse_exponent(matrix, e_pos, lengths)
    exponent = np.where(has_e, sci_exp, fixed_exp)
    return negative, digits, count, exponent


def _parse_exponent(matrix: np.ndarray, e_pos: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    rows, width = matrix.shape
    value = np.zeros(rows, dtype=np.int64)
    sign_pos = np.minimum(e_pos + 1, width - 1)
    negative = matrix[np.arange(rows), sign_pos] == _MINUS
    for offset in range(2, 5):
        pos = e_pos + offset
        present = pos < lengths
        char = matrix[np.arange(rows), np.minimum(pos, width - 1)].astype(np.int64)
        value = np.where(present, value * 10 + (char - _ZERO), value)
    return np.where(negative, -value, value)


def _render(
    digits: np.ndarray, count: np.ndarray, exponent: np.ndarray, exponent_limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lay digits out as PostgreSQL does; returns a byte matrix and the mask of bytes to keep."""
    rows = len(count)
    j = np.arange(_BODY_WIDTH)[None, :]
    n = count[:, None]
    e = exponent[:, None]
    fixed = (e >= -4) & (e < exponent_limit)

    # Fixed notation, exponent >= 0: integer digits (zero-filled), then ".fraction" if any.
    int_digits = e + 1
    pos_index = np.where(j <= e, j, j - 1)
    pos_dot = (j == int_digits) & (n > int_digits)
    pos_len = np.maximum(n, int_digits) + (n > int_digits)
    # Fixed notation, exponent < 0: "0." then -exponent-1 zeros, then the digits.
    zeros = -e - 1
    neg_index = j - 2 - zeros
    neg_len = 2 + zeros + n
    # Scientific: d[.ddd]e±XX.
    mantissa_len = np.where(n > 1, n + 1, 1)
    sci_index = np.where(j == 0, 0, j - 1)
    sci_dot = (j == 1) & (n > 1)
    exp_abs = np.abs(e)
    exp_digits = np.where(exp_abs >= 100, 3, 2)
    sci_len = mantissa_len + 2 + exp_digits
    after = j - mantissa_len  # 0: 'e', 1: sign, 2..: exponent digits
    exp_place = exp_digits - (after - 2) - 1
    exp_char = _ZERO + (exp_abs // (10 ** np.clip(exp_place, 0, 2))) % 10

    positive_fixed = fixed & (e >= 0)
    negative_fixed = fixed & (e < 0)
    index = np.where(positive_fixed, pos_index, np.where(negative_fixed, neg_index, sci_index))
    from_digits = np.where(
        positive_fixed,
        ~pos_dot & ((j < e + 1) | (j > e + 1)),
        np.where(negative_fixed, j >= 2 + zeros, (j < mantissa_len) & ~sci_dot),
    )
    digit_chars = np.take_along_axis(digits, np.clip(index, 0, 16), axis=1)
    digit_chars = np.where(from_digits & (index < n), digit_chars, _ZERO)
    literal = np.full((rows, _BODY_WIDTH), _ZERO, dtype=np.int64)
    literal = np.where(positive_fixed & pos_dot, _DOT, literal)
    literal = np.where(negative_fixed & (j == 1), _DOT, literal)
    literal = np.where(~fixed & sci_dot, _DOT, literal)
    literal = np.where(~fixed & (after == 0), _E, literal)
    literal = np.where(~fixed & (after == 1), np.where(e < 0, _MINUS, _PLUS), literal)
    literal = np.where(~fixed & (after >= 2), exp_char, literal)
    body = np.where(from_digits, digit_chars, literal).astype(np.uint8)
    length = np.where(positive_fixed, pos_len, np.where(negative_fixed, neg_len, sci_len))
    return body, j < length
