"""PostgreSQL's ``numeric`` variance and standard deviation, finished per group.

PostgreSQL's ``var_samp``, ``var_pop``, ``stddev_samp`` and ``stddev_pop`` over integers and
``numeric`` (``numeric_stddev_internal`` in ``numeric.c``) keep N, Σx and Σx² in arbitrary
precision, and divide N·Σx² − (Σx)² by N·(N−1) (or N·N) at ``select_div_scale``, the standard
deviation being the square root of that rounded variance at the same scale. Σx² of
``numeric(38)`` values has up to 77 digits, beyond DuckDB's 128-bit integers, so DuckDB sums
exact pieces that cannot overflow (:mod:`veil.pgcatalog.pgnumeric` builds them: each scaled value
X = H·2⁶³ + L, and each product H·H, H·L, L·L split again at 2⁶³: shifts and masks, far
cheaper than 128-bit division) and :data:`FUNCTION`, a
vectorised Python function registered on every DuckDB Veil opens, puts one group's pieces
together with Python's integers and prints the result as PostgreSQL does.
"""

from __future__ import annotations

import contextlib
from math import isqrt

import duckdb
import pyarrow as pa
from duckdb.func import FunctionNullHandling, PythonUDFType
from duckdb.sqltypes import BIGINT, INTEGER, VARCHAR

FUNCTION = "veil_numeric_variance"
LIMB = 2**63  # the pieces DuckDB sums are below this, so 2^63 rows of them fit 128 bits
SAMPLE, ROOT = 1, 2  # the mode argument's bits: divide by N·(N−1), take the square root
_MIN_SIG_DIGITS, _MAX_DISPLAY_SCALE = 16, 1000
_MAX_SCALE = 38  # DuckDB's DECIMAL: the scales Veil hands over


def _weight_and_first(value: int, scale: int) -> tuple[int, int]:
    """The weight of ``value``·10^-scale in base-10000 digits and its first such digit."""
    digits = str(value)
    exponent = len(digits) - 1 - scale
    width = exponent % 4 + 1
    return exponent // 4, int(digits[:width].ljust(width, "0"))


def _div_scale(numerator: int, numerator_scale: int, denominator: int) -> int:
    """PostgreSQL's ``select_div_scale`` for positive operands (the divisor has scale 0)."""
    weight1, first1 = _weight_and_first(numerator, numerator_scale)
    weight2, first2 = _weight_and_first(denominator, 0)
    quotient_weight = weight1 - weight2 - (1 if first1 <= first2 else 0)
    scale = max(_MIN_SIG_DIGITS - quotient_weight * 4, numerator_scale, 0)
    return min(scale, _MAX_DISPLAY_SCALE)


def _text(value: int, scale: int) -> str:
    """A non-negative ``value``·10^-scale as PostgreSQL prints it (``scale`` decimals)."""
    digits = str(value).rjust(scale + 1, "0")
    return digits[: len(digits) - scale] + ("." + digits[-scale:] if scale else "")


def spread(count: int, sum_x: int, sum_x2: int, scale: int, mode: int) -> str | None:
    """``numeric_stddev_internal`` for N = ``count``, Σx = ``sum_x``·10^-scale and
    Σx² = ``sum_x2``·10^-2·scale, as text (``None``: too few rows)."""
    if not (0 <= scale <= _MAX_SCALE and 0 <= mode <= (SAMPLE | ROOT)):  # only Veil's SQL calls it
        raise ValueError(f"{FUNCTION}: scale {scale} or mode {mode} out of range")
    sample = bool(mode & SAMPLE)
    if count <= (1 if sample else 0):
        return None
    numerator = count * sum_x2 - sum_x * sum_x
    if numerator <= 0:
        return "0"
    denominator = count * (count - 1 if sample else count)
    rscale = _div_scale(numerator, 2 * scale, denominator)
    shifted, divisor = numerator * 10**rscale, denominator * 10 ** (2 * scale)
    variance, remainder = divmod(shifted, divisor)
    if 2 * remainder >= divisor:  # half away from zero
        variance += 1
    if not mode & ROOT:
        return _text(variance, rscale)
    return _text((isqrt(variance * 10 ** (rscale + 2)) + 5) // 10, rscale)


def _spreads(
    count: pa.Array,
    sh: pa.Array,
    sl: pa.Array,
    hh1: pa.Array,
    hh0: pa.Array,
    hl1: pa.Array,
    hl0: pa.Array,
    ll1: pa.Array,
    ll0: pa.Array,
    scale: pa.Array,
    mode: pa.Array,
) -> pa.Array:
    """The vectorised :data:`FUNCTION`: count, Σh, Σl, then Σ(p >> 63) and Σ(p & (2⁶³ − 1)) of
    p = h·h, h·l, l·l (as text: how DuckDB hands HUGEINT to Arrow depends on the connection's
    settings); scale; mode. A NULL count or sum is no rows, or zero."""
    columns = [c.to_pylist() for c in (count, sh, sl, hh1, hh0, hl1, hl0, ll1, ll0, scale, mode)]
    results: list[str | None] = []
    for n, *sums, group_scale, group_mode in zip(*columns, strict=True):
        if n is None:
            results.append(None)
            continue
        sum_x, hh, hl, ll = [int(a or 0) * LIMB + int(b or 0) for a, b in zip(sums[0::2], sums[1::2], strict=True)]
        sum_x2 = hh * LIMB * LIMB + 2 * hl * LIMB + ll
        results.append(spread(int(n), sum_x, sum_x2, int(group_scale), int(group_mode)))
    return pa.array(results, pa.string())


def register(connection: duckdb.DuckDBPyConnection) -> None:
    """Add :data:`FUNCTION` to ``connection``'s database (once: a database file opened twice
    is one DuckDB instance, whose catalog already has it)."""
    with contextlib.suppress(duckdb.CatalogException):
        connection.create_function(
            FUNCTION,
            _spreads,
            [BIGINT, *[VARCHAR] * 8, INTEGER, INTEGER],
            VARCHAR,
            type=PythonUDFType.ARROW,
            null_handling=FunctionNullHandling.SPECIAL,
            side_effects=False,
        )
