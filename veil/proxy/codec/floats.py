"""``float4``/``float8`` text output, byte-identical to PostgreSQL 15 (``extra_float_digits = 1``).

PostgreSQL prints the shortest digit string that reads back to the same value (Ryu), in fixed
notation when the decimal exponent is in ``[-4, 15)`` (``[-4, 6)`` for ``float4``) and as
``1.5e+20`` / ``1.5e-07`` otherwise (at least two exponent digits). pyarrow's cast to string
produces the same shortest digits but switches notation at other thresholds (``[-6, 10)``) and
writes one-digit exponents. So the column is cast by Arrow, and only rows in the bands where the
two layouts can differ are taken apart (digits, exponent) and laid out again PostgreSQL's way,
with Arrow string kernels. Infinities and NaN are spelled ``Infinity``, ``-Infinity``, ``NaN``.

One more difference: PostgreSQL's Ryu never accepts a candidate lying exactly on the boundary of
the rounding interval (standard Ryu and Arrow do, when the mantissa is even); it then prints more
digits. That only happens for large integral values (``>= 2**54`` for float8, ``>= 2**25`` for
float4), so those rows are checked with exact integer arithmetic (see :mod:`.float_bounds`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.proxy.codec.cells import ArrowCells, merge_rows, validity_or_true, values_of
from veil.proxy.codec.float_bounds import fix_boundaries


def float_text(arr: pa.Array) -> ArrowCells:
    """Text of a float32/float64 array (float16 must be widened to float32 first)."""
    single = pa.types.is_float32(arr.type)
    values = values_of(arr, np.float32 if single else np.float64)
    if len(values) == 0:
        return ArrowCells(pa.array([], pa.binary()))
    valid = validity_or_true(arr)
    finite = np.isfinite(values)
    magnitude = np.abs(np.where(finite, values, 1.0))
    # Loose bounds around the bands where Arrow's layout may differ; rows inside are re-rendered
    # from their digits, which is correct whether or not they needed it.
    bits = 24 if single else 53
    upper_low, upper_high = (9e5, 1.1e10) if single else (9e9, 1.1e15)
    relayout = (
        ((magnitude >= 9e-10) & (magnitude < 1.1e-4))
        | ((magnitude >= upper_low) & (magnitude < upper_high))
        | (magnitude >= 2.0 ** (bits + 1))
    )
    relayout &= finite & valid
    pieces: list[tuple[np.ndarray, pa.Array]] = []
    if not single:
        fast = relayout & (magnitude >= 1e10) & (magnitude < 999999999999999.0)
        if fast.any():
            rows = np.flatnonzero(fast)
            pieces.append((rows, _large_fixed(values[rows])))
            relayout &= ~fast
    if len(pieces) and len(pieces[0][0]) == len(values):
        return ArrowCells(pieces[0][1].view(pa.binary()))
    text = pc.cast(arr, pa.string())
    if relayout.any():
        rows = np.flatnonzero(relayout)
        rendered = _relayout(
            text.take(pa.array(rows)),
            values[rows].astype(np.float64),
            bits=bits,
            fixed_limit=6 if single else 15,
        )
        pieces.append((rows, rendered))
    special = ~finite & valid
    if special.any():
        rows = np.flatnonzero(special)
        words = np.where(
            np.isnan(values[rows]), "NaN", np.where(values[rows] > 0, "Infinity", "-Infinity")
        )
        pieces.append((rows, pa.array(words.tolist())))
    return ArrowCells(merge_rows(text, pieces).view(pa.binary()))


def _large_fixed(values: np.ndarray) -> pa.Array:
    """PostgreSQL's text of float8 values with ``1e10 <= |x| < 999999999999999``.

    They print in fixed notation with at most 6 fraction digits, and can be computed exactly:
    ``|x| = I + f`` with ``f`` a multiple of ``2**-19``, so ``f * 10**k`` (k <= 6) is exact in
    float64. The shortest text uses the fewest fraction digits ``k`` whose rounded ``f`` lies
    strictly within half a unit in the last place of ``x`` (PostgreSQL's Ryu excludes the
    boundary); any coarser candidate would be the same number.
    """
    magnitude = np.abs(values)
    whole = np.floor(magnitude)
    fraction = magnitude - whole
    half_ulp = np.spacing(magnitude) / 2
    places = np.full(len(values), 6, dtype=np.int64)
    chosen = np.round(fraction * 1e6)
    pending = np.arange(len(values))
    for k in range(6):
        scaled = fraction[pending] * 10.0**k
        rounded = np.round(scaled)
        inside = np.abs(rounded - scaled) < half_ulp[pending] * 10.0**k
        done = pending[inside]
        places[done] = k
        chosen[done] = rounded[inside]
        pending = pending[~inside]
        if not len(pending):
            break
    integer = whole.astype(np.int64) + np.where(places == 0, chosen, 0).astype(np.int64)
    integer_text = pc.cast(pa.array(integer), pa.string())
    padded = (chosen + 10.0**places).astype(np.int64)
    fraction_text = pc.utf8_slice_codeunits(pc.cast(pa.array(padded), pa.string()), 1)
    has_fraction = pa.array(places > 0)
    dot = pc.if_else(has_fraction, ".", "")
    fraction_text = pc.if_else(has_fraction, fraction_text, "")
    sign = pc.if_else(pa.array(values < 0), "-", "")
    return pc.binary_join_element_wise(sign, integer_text, dot, fraction_text, "")


def _relayout(text: pa.Array, values: np.ndarray, bits: int, fixed_limit: int) -> pa.Array:
    """Re-render non-zero finite numbers from Arrow's text in PostgreSQL's layout."""
    digits, exponent = _parse(text)
    digits, exponent = fix_boundaries(digits, exponent, values, bits)
    body = _render(digits, exponent, fixed_limit)
    sign = pc.if_else(pa.array(values < 0), "-", "")
    return pc.binary_join_element_wise(sign, body, "")


def _parse(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Significant digits (no sign, dot, leading or trailing zeros) and the decimal exponent of
    the first digit, from Arrow's ``-1.25e+20`` / ``0.000125`` / ``1250000``."""
    unsigned = pc.ascii_ltrim(text, "-")
    has_e = pc.greater_equal(pc.find_substring(unsigned, "e"), 0)
    with_e = pc.binary_join_element_wise(unsigned, pc.if_else(has_e, "", "e0"), "")
    parts = pc.split_pattern(with_e, "e", max_splits=1)
    mantissa = pc.list_element(parts, 0)
    exponent_text = pc.ascii_ltrim(pc.list_element(parts, 1), "+")
    sci_exponent = pc.cast(exponent_text, pa.int64()).to_numpy()

    dot = pc.find_substring(mantissa, ".").to_numpy().astype(np.int64)
    mantissa_len = pc.binary_length(mantissa).to_numpy().astype(np.int64)
    dot = np.where(dot < 0, mantissa_len, dot)
    all_digits = pc.replace_substring(mantissa, ".", "")
    no_leading = pc.ascii_ltrim(all_digits, "0")
    leading = mantissa_len - (dot < mantissa_len) - pc.binary_length(no_leading).to_numpy()
    digits = pc.ascii_rtrim(no_leading, "0")
    fixed_exponent = np.where(leading > 0, -leading, dot - 1)
    exponent = np.where(has_e.to_numpy(zero_copy_only=False), sci_exponent, fixed_exponent)
    return digits, exponent


def _render(digits: pa.Array, exponent: np.ndarray, fixed_limit: int) -> pa.Array:
    """PostgreSQL's layout of unsigned digits with the given exponents."""
    count = pc.binary_length(digits).to_numpy()
    first = pc.utf8_slice_codeunits(digits, 0, 1)
    rest = pc.utf8_slice_codeunits(digits, 1)
    dot_rest = pc.if_else(pa.array(count > 1), pc.binary_join_element_wise(".", rest, ""), "")
    magnitude = pa.array(np.abs(exponent).astype(np.int64))
    exp_digits = pc.ascii_lpad(pc.cast(magnitude, pa.string()), width=2, padding="0")
    exp_sign = pc.if_else(pa.array(exponent < 0), "e-", "e+")
    sci = pc.binary_join_element_wise(first, dot_rest, exp_sign, exp_digits, "")
    fixed = (exponent >= -4) & (exponent < fixed_limit)
    pieces = []
    for e in np.unique(exponent[fixed]).tolist():
        rows = np.flatnonzero(exponent == e)
        pieces.append((rows, _fixed(digits.take(pa.array(rows)), int(e))))
    return merge_rows(sci, pieces)


def _fixed(digits: pa.Array, exponent: int) -> pa.Array:
    """Fixed-point text of digits that all share one exponent."""
    if exponent < 0:
        return pc.binary_join_element_wise("0." + "0" * (-exponent - 1), digits, "")
    whole = pc.utf8_slice_codeunits(
        pc.ascii_rpad(digits, width=exponent + 1, padding="0"), 0, exponent + 1
    )
    fraction = pc.utf8_slice_codeunits(digits, exponent + 1)
    has_fraction = pc.greater(pc.binary_length(fraction), 0)
    dot_fraction = pc.if_else(has_fraction, pc.binary_join_element_wise(".", fraction, ""), "")
    return pc.binary_join_element_wise(whole, dot_fraction, "")
