"""``date``, ``time``, ``timestamp`` and ``timestamptz`` in PostgreSQL's text and binary forms.

Text follows ``DateStyle = ISO, MDY``: ``2024-01-31``, ``13:05:00.25``,
``2024-01-31 13:05:00.25`` and, for ``timestamptz``, the session zone's offset (``+00``,
``-04:56:02``). Years are zero-padded to four digits, longer years print in full, and years
before 1 AD print as ``0044-03-15 BC``. Fractions drop trailing zeros. ``infinity`` and
``-infinity`` are the extreme int32/int64 values (PostgreSQL's and DuckDB's sentinels).

Common values (years 1..9999, no infinities, whole-hour zone offsets) are written as
little-endian 64-bit words looked up from digit tables and cut to each row's length. Everything
else goes through :class:`Layout`: a byte matrix (fixed columns per field) with a mask for the
parts a row does not print. Either way a million values cost a few dozen numpy operations.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from veil import timezones
from veil.errors import InvalidParameterValue
from veil.proxy.codec.cells import (
    DIGIT_PAIRS,
    PAIR_WORDS,
    QUAD_WORDS,
    MatrixCells,
    decimal_width,
    put_digits,
    validity,
    values_of,
)

USECS_PER_DAY = 86_400_000_000
USECS_PER_SEC = 1_000_000
PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
PG_EPOCH_USECS = PG_EPOCH_DAYS * USECS_PER_DAY
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
INT32_MAX = np.iinfo(np.int32).max
INT32_MIN = np.iinfo(np.int32).min

_UTC_NAMES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal", "uct"})
_UNIT_FACTORS = {"s": 1_000_000, "ms": 1_000, "us": 1}


def micros(arr: pa.Array) -> np.ndarray:
    """Timestamp/time/duration values in microseconds (nanoseconds floored)."""
    unit = arr.type.unit
    raw = values_of(arr, np.int64 if arr.type.bit_width == 64 else np.int32).astype(np.int64)
    if unit == "ns":
        return np.floor_divide(raw, 1000)
    return raw * _UNIT_FACTORS[unit]


def timestamp_infinities(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding +infinity / -infinity (int64 max, and int64 min or -max as DuckDB writes)."""
    raw = values_of(arr, np.int64)
    return raw == INT64_MAX, raw <= -INT64_MAX


def days(arr: pa.Array) -> np.ndarray:
    """Date values as int64 days since 1970-01-01."""
    if pa.types.is_date64(arr.type):
        return np.floor_divide(values_of(arr, np.int64), 86_400_000)
    return values_of(arr, np.int32).astype(np.int64)


def date_infinities(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_date64(arr.type):
        return timestamp_infinities(arr)
    raw = values_of(arr, np.int32)
    return raw == INT32_MAX, raw <= -INT32_MAX


def civil_from_days(day_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proleptic Gregorian (astronomical year, month, day) of days since 1970-01-01.

    Howard Hinnant's ``civil_from_days``, vectorised.
    """
    z = day_numbers + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


class Layout:
    """Builds a text matrix left to right; each part is a block of columns plus a keep-mask."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.blocks: list[np.ndarray] = []
        self.masks: list[np.ndarray | None] = []

    def add(self, block: np.ndarray, keep: np.ndarray | None = None) -> None:
        self.blocks.append(block)
        self.masks.append(keep)

    def literal(self, text: bytes, keep: np.ndarray | None = None) -> None:
        row = np.frombuffer(text, dtype=np.uint8)
        block = np.broadcast_to(row, (self.rows, len(text)))
        self.add(block, None if keep is None else np.repeat(keep[:, None], len(text), axis=1))

    def pairs(self, values: np.ndarray) -> None:
        self.add(DIGIT_PAIRS[values])

    def build(self, valid: np.ndarray | None) -> MatrixCells:
        data = np.concatenate(self.blocks, axis=1) if self.blocks else np.zeros((self.rows, 0))
        mask = None
        if any(m is not None for m in self.masks):
            mask = np.concatenate(
                [
                    np.ones(b.shape, dtype=bool) if m is None else m
                    for b, m in zip(self.blocks, self.masks, strict=True)
                ],
                axis=1,
            )
        return MatrixCells(np.ascontiguousarray(data, dtype=np.uint8), mask, valid)


def _add_date(layout: Layout, day_numbers: np.ndarray) -> np.ndarray:
    """Append ``YYYY-MM-DD`` (year zero-padded to 4, longer years in full); returns BC rows."""
    year, month, day = civil_from_days(day_numbers)
    bc = year <= 0
    shown = np.where(bc, 1 - year, year)
    digits = np.maximum(decimal_width(shown), 4)
    width = int(digits.max()) if len(digits) else 4
    block = np.empty((layout.rows, width), dtype=np.uint8)
    put_digits(block, shown)
    keep = None
    if width > 4:
        keep = np.arange(width)[None, :] >= (width - digits)[:, None]
    layout.add(block, keep)
    layout.literal(b"-")
    layout.pairs(month)
    layout.literal(b"-")
    layout.pairs(day)
    return bc


def _add_clock(layout: Layout, usecs_of_day: np.ndarray) -> None:
    """Append ``HH:MM:SS`` and ``.ffffff`` without trailing zeros (nothing for whole seconds)."""
    seconds, fraction = np.divmod(usecs_of_day, USECS_PER_SEC)
    layout.pairs(seconds // 3600)
    layout.literal(b":")
    layout.pairs((seconds // 60) % 60)
    layout.literal(b":")
    layout.pairs(seconds % 60)
    add_fraction(layout, fraction)


def add_fraction(layout: Layout, fraction: np.ndarray) -> None:
    has_fraction = fraction != 0
    if not has_fraction.any():
        return
    trailing = np.zeros(layout.rows, dtype=np.int64)
    for power in (10, 100, 1_000, 10_000, 100_000):
        trailing += (fraction % power) == 0
    block = np.empty((layout.rows, 7), dtype=np.uint8)
    block[:, 0] = ord(".")
    put_digits(block[:, 1:], fraction)
    shown = np.where(has_fraction, 7 - trailing, 0)
    layout.add(block, np.arange(7)[None, :] < shown[:, None])


def _add_offset(layout: Layout, offset_seconds: np.ndarray) -> None:
    """Append ``+HH``, ``+HH:MM`` or ``+HH:MM:SS`` as PostgreSQL prints zone offsets."""
    sign = np.where(offset_seconds < 0, ord("-"), ord("+")).astype(np.uint8)
    magnitude = np.abs(offset_seconds)
    layout.add(sign[:, None])
    layout.pairs(magnitude // 3600)
    minutes, seconds = (magnitude // 60) % 60, magnitude % 60
    if (minutes != 0).any() or (seconds != 0).any():
        show_minutes = (minutes != 0) | (seconds != 0)
        layout.literal(b":", show_minutes)
        layout.add(DIGIT_PAIRS[minutes], np.repeat(show_minutes[:, None], 2, axis=1))
        show_seconds = seconds != 0
        layout.literal(b":", show_seconds)
        layout.add(DIGIT_PAIRS[seconds], np.repeat(show_seconds[:, None], 2, axis=1))


def _finish(
    layout: Layout,
    bc: np.ndarray,
    valid: np.ndarray | None,
    specials: list[tuple[np.ndarray, bytes]],
) -> MatrixCells:
    if bc.any():
        layout.literal(b" BC", bc)
    cells = layout.build(valid)
    if not any(rows.any() for rows, _ in specials):
        return cells
    mask = np.ones(cells.data.shape, dtype=bool) if cells.mask is None else cells.mask.copy()
    data = cells.data.copy()
    for rows, word in specials:
        if rows.any():
            data[rows, : len(word)] = np.frombuffer(word, dtype=np.uint8)
            mask[rows] = False
            mask[rows, : len(word)] = True
    return MatrixCells(data, mask, valid)


def date_text(arr: pa.Array) -> MatrixCells:
    positive, negative = date_infinities(arr)
    valid = validity(arr)
    day_numbers = np.where(positive | negative, 0, days(arr))
    if valid is not None:
        day_numbers = np.where(valid, day_numbers, 0)
    year, month, day = civil_from_days(day_numbers)
    if not (positive.any() or negative.any()) and _four_digit_years(year):
        return _fast_date(year, month, day, valid)
    layout = Layout(len(arr))
    bc = _add_date(layout, day_numbers)
    specials = [(positive, b"infinity"), (negative, b"-infinity")]
    return _finish(layout, bc, valid, specials)


def time_text(arr: pa.Array) -> MatrixCells:
    usecs = micros(arr)
    valid = validity(arr)
    if valid is not None:
        usecs = np.where(valid, usecs, 0)
    if len(usecs) and (usecs.min() < 0 or usecs.max() > USECS_PER_DAY):
        layout = Layout(len(arr))
        _add_clock(layout, np.clip(usecs, 0, USECS_PER_DAY))
        return layout.build(valid)
    return _fast_clock(usecs, valid)


def timestamp_text(arr: pa.Array, zone: str | None) -> MatrixCells:
    """``timestamp`` text, or ``timestamptz`` text in ``zone`` when one is given."""
    positive, negative = timestamp_infinities(arr)
    valid = validity(arr)
    usecs = np.where(positive | negative, 0, micros(arr))
    if valid is not None:
        usecs = np.where(valid, usecs, 0)
    offsets = None
    if zone is not None:
        offsets = zone_offsets(usecs, zone)
        usecs = usecs + offsets * USECS_PER_SEC
    day_numbers, usecs_of_day = np.divmod(usecs, USECS_PER_DAY)
    year, month, day = civil_from_days(day_numbers)
    whole_hours = offsets is None or not (offsets % 3600).any()
    if not (positive.any() or negative.any()) and whole_hours and _four_digit_years(year):
        return _fast_timestamp(year, month, day, usecs_of_day, offsets, valid)
    layout = Layout(len(arr))
    bc = _add_date(layout, day_numbers)
    layout.literal(b" ")
    _add_clock(layout, usecs_of_day)
    if offsets is not None:
        _add_offset(layout, offsets)
    specials = [(positive, b"infinity"), (negative, b"-infinity")]
    return _finish(layout, bc, valid, specials)


# Fast paths for the common case (years 1..9999 AD, whole-hour zone offsets): the text is
# assembled as little-endian 64-bit words from digit lookup tables, a handful of numpy
# operations per column, and cut to length with per-row widths.


def _four_digit_years(year: np.ndarray) -> bool:
    return not len(year) or (int(year.min()) >= 1 and int(year.max()) <= 9999)


def _date_word(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """``YYYY-MM-`` as a little-endian uint64."""
    return QUAD_WORDS[year] | (0x2D << 32) | (PAIR_WORDS[month] << 40) | np.uint64(0x2D << 56)


def _fraction_tail(
    fraction: np.ndarray, suffix: np.ndarray | None, suffix_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``.ffffff`` (trailing zeros trimmed, nothing when zero) followed by ``suffix``.

    Returns the first 8 bytes and the next 2 as little-endian words, and the byte count.
    """
    word = (
        np.uint64(0x2E)
        | (PAIR_WORDS[fraction // 10_000] << 8)
        | (PAIR_WORDS[(fraction // 100) % 100] << 24)
        | (PAIR_WORDS[fraction % 100] << 40)
    )
    trailing = np.zeros(len(fraction), dtype=np.uint64)
    for power in (10, 100, 1_000, 10_000, 100_000):
        trailing += (fraction % power) == 0
    length = np.where(fraction == 0, 0, 7 - trailing.astype(np.int64)).astype(np.uint64)
    bits = length * np.uint64(8)
    low = word & ((np.uint64(1) << bits) - np.uint64(1))
    high = np.zeros(len(fraction), dtype=np.uint64)
    if suffix is not None:
        low |= suffix << bits
        spill = np.uint64(64) - np.maximum(bits, np.uint64(1))
        high = np.where(bits > 64 - 8 * suffix_len, suffix >> spill, np.uint64(0))
    return low, high, length.astype(np.int64) + suffix_len


def _fast_date(year: np.ndarray, month: np.ndarray, day: np.ndarray, valid) -> MatrixCells:
    data = np.empty((len(year), 10), dtype=np.uint8)
    data[:, :8].view("<u8")[:, 0] = _date_word(year, month)
    data[:, 8:].view("<u2")[:, 0] = PAIR_WORDS[day]
    return MatrixCells(data, None, valid)


def _fast_clock(usecs: np.ndarray, valid) -> MatrixCells:
    seconds, fraction = np.divmod(usecs, USECS_PER_SEC)
    words = np.empty((len(usecs), 2), dtype="<u8")
    words[:, 0] = (
        PAIR_WORDS[seconds // 3600]
        | np.uint64(0x3A << 16)
        | (PAIR_WORDS[(seconds // 60) % 60] << 24)
        | np.uint64(0x3A << 40)
        | (PAIR_WORDS[seconds % 60] << 48)
    )
    words[:, 1], _, tail = _fraction_tail(fraction, None, 0)
    return MatrixCells(words.view(np.uint8).reshape(len(usecs), 16), None, valid, 8 + tail)


def _fast_timestamp(
    year: np.ndarray,
    month: np.ndarray,
    day: np.ndarray,
    usecs_of_day: np.ndarray,
    offsets: np.ndarray | None,
    valid,
) -> MatrixCells:
    seconds, fraction = np.divmod(usecs_of_day, USECS_PER_SEC)
    suffix = None
    if offsets is not None:
        sign = np.where(offsets < 0, np.uint64(ord("-")), np.uint64(ord("+")))
        suffix = sign | (PAIR_WORDS[np.abs(offsets) // 3600] << 8)
    low, high, tail = _fraction_tail(fraction, suffix, 0 if suffix is None else 3)
    words = np.empty((len(year), 4), dtype="<u8")
    words[:, 0] = _date_word(year, month)
    words[:, 1] = (
        PAIR_WORDS[day]
        | np.uint64(0x20 << 16)
        | (PAIR_WORDS[seconds // 3600] << 24)
        | np.uint64(0x3A << 40)
        | (PAIR_WORDS[(seconds // 60) % 60] << 48)
    )
    words[:, 2] = np.uint64(0x3A) | (PAIR_WORDS[seconds % 60] << 8) | (low << 24)
    words[:, 3] = (low >> 40) | (high << 24)
    return MatrixCells(words.view(np.uint8).reshape(len(year), 32), None, valid, 19 + tail)


def zone_offsets(usecs: np.ndarray, zone: str) -> np.ndarray:
    """UTC offset in seconds of ``zone`` at each UTC instant (microseconds since 1970)."""
    if zone.lower() in _UTC_NAMES:
        return np.zeros(len(usecs), dtype=np.int64)
    arrow_zone = timezones.zone(zone).arrow
    _check_zone(arrow_zone)
    instants = pa.array(usecs, pa.timestamp("us", tz=arrow_zone))
    local = pc.local_timestamp(instants)
    return (values_of(local, np.int64) - usecs) // USECS_PER_SEC


@lru_cache(maxsize=64)
def _check_zone(zone: str) -> None:
    try:
        pc.local_timestamp(pa.array([0], pa.timestamp("us", tz=zone)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidParameterValue(f'time zone "{zone}" not recognized') from None


def date_binary(arr: pa.Array) -> np.ndarray:
    """int32 days since 2000-01-01; infinities as PostgreSQL's int32 extremes."""
    positive, negative = date_infinities(arr)
    out = days(arr) - PG_EPOCH_DAYS
    out = np.where(positive, INT32_MAX, np.where(negative, INT32_MIN, out))
    return out.astype(np.int32)


def timestamp_binary(arr: pa.Array) -> np.ndarray:
    """int64 microseconds since 2000-01-01 UTC; infinities as int64 extremes."""
    positive, negative = timestamp_infinities(arr)
    usecs = np.where(positive | negative, 0, micros(arr)) - PG_EPOCH_USECS
    return np.where(positive, INT64_MAX, np.where(negative, INT64_MIN, usecs))
