"""``interval`` output: PostgreSQL's ``postgres`` IntervalStyle text and ``interval_send``.

An interval is (months, days, microseconds). Arrow's ``month_day_nano_interval`` maps onto it
directly (nanoseconds truncated toward zero); a ``duration`` is all microseconds, as PostgreSQL
keeps ``'100 hours'::interval`` (``100:00:00``).

Text mirrors ``EncodeInterval``: ``1 year 2 mons 3 days 04:05:06.5``. Units are printed only
when non-zero, pluralised unless exactly 1; a positive field following a negative one gets an
explicit ``+`` (``-1 days +02:00:00``); the clock part appears when non-zero or when nothing
else did (``00:00:00``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil.proxy.codec.cells import (
    ArrowCells,
    MatrixCells,
    big_endian,
    to_arrow,
    validity,
    values_of,
)
from veil.proxy.codec.temporal import USECS_PER_SEC, Layout, add_fraction, micros

_MDN = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
USECS_PER_HOUR = 3_600 * USECS_PER_SEC


def components(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(months, days, microseconds) as int64 arrays."""
    if pa.types.is_duration(arr.type):
        zeros = np.zeros(len(arr), dtype=np.int64)
        return zeros, zeros.copy(), micros(arr)
    raw = values_of(arr, _MDN)
    nanos = raw["nanos"].astype(np.int64)
    usecs = np.sign(nanos) * (np.abs(nanos) // 1000)
    return raw["months"].astype(np.int64), raw["days"].astype(np.int64), usecs


def interval_binary(arr: pa.Array) -> MatrixCells:
    months, day_count, usecs = components(arr)
    data = np.concatenate(
        [big_endian(usecs, ">i8"), big_endian(day_count, ">i4"), big_endian(months, ">i4")],
        axis=1,
    )
    return MatrixCells(data, None, validity(arr))


def interval_text(arr: pa.Array) -> ArrowCells:
    if len(arr) == 0:
        return ArrowCells(pa.array([], pa.binary()))
    months, day_count, usecs = components(arr)
    years = np.sign(months) * (np.abs(months) // 12)
    months = months - years * 12
    rows = len(arr)
    is_zero = np.ones(rows, dtype=bool)
    is_before = np.zeros(rows, dtype=bool)
    parts: list[pa.Array] = []
    for value, unit in ((years, "year"), (months, "mon"), (day_count, "day")):
        present = value != 0
        if present.any():
            parts.append(_unit_part(value, unit, present, is_before))
        is_before = np.where(present, value < 0, is_before)
        is_zero &= ~present
    show_clock = is_zero | (usecs != 0)
    if show_clock.any():
        parts.append(_clock_part(usecs, show_clock, is_before))
    text = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    valid = validity(arr)
    if valid is not None:
        text = pc.if_else(pa.array(valid), text, pa.scalar(None, text.type))
    return ArrowCells(text.cast(pa.binary()))


def _unit_part(
    value: np.ndarray, unit: str, present: np.ndarray, is_before: np.ndarray
) -> pa.Array:
    plus = pc.if_else(pa.array(is_before & (value > 0)), "+", "")
    number = pc.cast(pa.array(value), pa.string())
    name = pc.if_else(pa.array(value == 1), f" {unit}", f" {unit}s")
    text = pc.binary_join_element_wise(plus, number, name, "")
    return pc.if_else(pa.array(present), text, pa.scalar(None, pa.string()))


def _clock_part(usecs: np.ndarray, show: np.ndarray, is_before: np.ndarray) -> pa.Array:
    """``[-+]HH:MM:SS[.ffffff]`` with hours unbounded, as ``AppendSeconds`` prints it."""
    magnitude = np.abs(usecs)
    hours = magnitude // USECS_PER_HOUR
    sign = pc.if_else(pa.array(usecs < 0), "-", pc.if_else(pa.array(is_before), "+", ""))
    hour_text = pc.ascii_lpad(pc.cast(pa.array(hours), pa.string()), width=2, padding="0")
    seconds, fraction = np.divmod(magnitude % USECS_PER_HOUR, USECS_PER_SEC)
    layout = Layout(len(usecs))
    layout.literal(b":")
    layout.pairs(seconds // 60)
    layout.literal(b":")
    layout.pairs(seconds % 60)
    add_fraction(layout, fraction)
    rest = to_arrow(layout.build(None)).cast(pa.string())
    text = pc.binary_join_element_wise(sign, hour_text, rest, "")
    return pc.if_else(pa.array(show), text, pa.scalar(None, pa.string()))
