"""Where PostgreSQL's shortest float digits differ from standard Ryu's (and Arrow's).

Shortest round-trip printing looks for the fewest digits inside the interval of reals that
round to the float. Standard Ryu (and double-conversion, used by Arrow) treat the interval as
closed when the mantissa is even, so a candidate lying exactly on the midpoint to the next float
is accepted; PostgreSQL's copy of Ryu never accepts it and prints more digits
(``68322666178056224`` rather than ``6.832266617805622e+16``).

A short decimal can sit exactly on a midpoint only when the midpoint is an integer with few
significant digits, i.e. for large integral floats. Those rows are checked exactly with int64
arithmetic on odd parts and powers of two, and the hits are re-derived: with numpy for values
below ``2**62`` (where the value itself is an exact int64), one by one above (rare).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_POW5 = np.array([5**p for p in range(28)], dtype=np.int64)
_POW10 = np.array([10**p for p in range(19)], dtype=np.int64)
_EXACT_LIMIT = 2.0**62


def fix_boundaries(
    digits: pa.Array, exponent: np.ndarray, values: np.ndarray, bits: int
) -> tuple[pa.Array, np.ndarray]:
    """Replace boundary candidates with PostgreSQL's digits.

    ``digits`` are significant digits as strings, ``exponent`` the decimal exponent of the
    first digit, ``values`` the floats (as float64), ``bits`` the mantissa width (24 or 53).
    """
    magnitude = np.abs(values)
    count = pc.binary_length(digits).to_numpy().astype(np.int64)
    candidate = (magnitude >= 2.0 ** (bits + 1)) & (count < (9 if bits == 24 else 17))
    if not candidate.any():
        return digits, exponent
    rows = np.flatnonzero(candidate)
    value = pc.cast(digits.take(pa.array(rows)), pa.int64()).to_numpy()
    hit = _on_boundary(value, count[rows], exponent[rows], magnitude[rows], bits)
    hits = rows[hit]
    if not len(hits):
        return digits, exponent
    new_digits = np.empty(len(hits), dtype=object)
    new_exponent = np.empty(len(hits), dtype=np.int64)
    small = magnitude[hits] < _EXACT_LIMIT
    if small.any():
        text, exps = _interior_exact(magnitude[hits][small], count[hits][small], bits)
        new_digits[small] = text
        new_exponent[small] = exps
    for i in np.flatnonzero(~small):
        new_digits[i], new_exponent[i] = _interior_python(float(magnitude[hits][i]), bits)
    mask = np.zeros(len(digits), dtype=bool)
    mask[hits] = True
    digits = pc.replace_with_mask(digits, pa.array(mask), pa.array(new_digits.tolist()))
    exponent = exponent.copy()
    exponent[hits] = new_exponent
    return digits, exponent


def _mantissa(magnitude: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``magnitude = m * 2**e2`` with ``2**(bits-1) <= m < 2**bits``."""
    fraction, exp2 = np.frexp(magnitude)
    return (fraction * 2.0**bits).astype(np.int64), exp2.astype(np.int64) - bits


def _on_boundary(
    value: np.ndarray, count: np.ndarray, exponent: np.ndarray, magnitude: np.ndarray, bits: int
) -> np.ndarray:
    """Whether ``value * 10**p`` (``p = exponent - count + 1``) is a midpoint of the float.

    The midpoints are ``(2m +- 1) * 2**(e2 - 1)`` and, just below a power of two,
    ``(4m - 1) * 2**(e2 - 2)``: their odd parts are below ``2**(bits + 2)``. The candidate's odd
    part is ``odd(value) * 5**p``, so comparing odd parts and powers of two decides exactly.
    """
    m, e2 = _mantissa(magnitude, bits)
    lowbit = value & -value
    twos = np.round(np.log2(lowbit)).astype(np.int64)
    odd = value >> twos
    p = exponent - (count - 1)
    usable = (p >= 0) & (p < len(_POW5))
    p_safe = np.where(usable, p, 0)
    limit = np.int64(1) << (bits + 3)
    usable &= odd <= limit // _POW5[p_safe]
    odd_part = odd * _POW5[p_safe]
    power = p_safe + twos
    power_of_two = m == (1 << (bits - 1))
    upper = (odd_part == 2 * m + 1) & (power == e2 - 1)
    lower = ~power_of_two & (odd_part == 2 * m - 1) & (power == e2 - 1)
    lower_pow2 = power_of_two & (odd_part == 4 * m - 1) & (power == e2 - 2)
    return usable & (upper | lower | lower_pow2)


def _interior_exact(
    magnitude: np.ndarray, count: np.ndarray, bits: int
) -> tuple[list[str], np.ndarray]:
    """PostgreSQL's digits for integral values below ``2**62``: the value rounded (half to even)
    to the coarsest power of ten whose nearest multiple lies strictly inside the interval."""
    m, e2 = _mantissa(magnitude, bits)
    exact = m << e2
    above = np.int64(1) << (e2 - 1)
    below = np.where(m == (1 << (bits - 1)), above >> 1, above)
    total_digits = 1 + (exact[:, None] >= _POW10[None, 1:]).sum(axis=1)
    chosen = exact.copy()
    found = np.zeros(len(exact), dtype=bool)
    for t in range(18, 0, -1):
        active = ~found & (t <= total_digits - count - 1)
        if not active.any():
            continue
        step = _POW10[t]
        quotient, remainder = np.divmod(exact, step)
        half = step // 2
        up = (remainder > half) | ((remainder == half) & (quotient % 2 == 1))
        rounded = (quotient + up) * step
        inside = (rounded - exact < above) & (exact - rounded < below)
        take = active & inside
        chosen = np.where(take, rounded, chosen)
        found |= take
    text = pc.cast(pa.array(chosen), pa.string())
    exponents = pc.binary_length(text).to_numpy().astype(np.int64) - 1
    return pc.ascii_rtrim(text, "0").to_pylist(), exponents


def _interior_python(magnitude: float, bits: int) -> tuple[str, int]:
    """Same as :func:`_interior_exact` for one value of any size, with Python integers."""
    fraction, exp2 = np.frexp(magnitude)
    m = int(fraction * 2.0**bits)
    e2 = int(exp2) - bits
    exact = m << e2
    above = 1 << (e2 - 1)
    below = above >> 1 if m == 1 << (bits - 1) else above
    length = len(str(exact))
    chosen = exact
    for wanted in range(1, length + 1):
        step = 10 ** (length - wanted)
        quotient, remainder = divmod(exact, step)
        if 2 * remainder > step or (2 * remainder == step and quotient % 2 == 1):
            quotient += 1
        rounded = quotient * step
        if rounded - exact < above and exact - rounded < below:
            chosen = rounded
            break
    text = str(chosen)
    return text.rstrip("0"), len(text) - 1
