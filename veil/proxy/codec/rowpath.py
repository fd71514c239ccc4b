"""The row path: cells of *tiny* batches (point queries) computed one Python value at a time.

Every vectorised encoder costs a fixed ~10-500 us of numpy/pyarrow calls per column whatever the
row count, which dominates a one-row result. For batches of at most ``datarow.SMALL_BATCH_ROWS``
rows, each column's cells are produced here with plain Python instead. The output must be
byte-identical to the vectorised encoders (see ``tests/proxy/codec/test_codec_rowpath.py``), so
only common values are handled: a cell encoder returns ``None`` for a column holding anything
unusual (infinities, years outside 1..9999, floats at or above 2**54 ...), and that column then
goes through the vectorised encoder. Types not listed here (intervals, arrays, JSON from
structs, float4 text ...) always do.

:func:`row_encoder` picks the encoder once per schema (see :mod:`.plan`), mirroring the
decisions of :mod:`.dispatch`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from veil.pgtypes import BYTEA, JSONB, TEXT, TIMESTAMPTZ, UUID, ColumnType
from veil.proxy.codec import rowvalues
from veil.proxy.codec.numeric import NUMERIC_NEG, NUMERIC_POS
from veil.proxy.codec.scalars import INTEGER_WIRE
from veil.proxy.codec.temporal import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    PG_EPOCH_DAYS,
    PG_EPOCH_USECS,
    USECS_PER_DAY,
    zone_offsets,
)
from veil.proxy.codec.textbinary import SAME_AS_TEXT

Cells = list[bytes | None]
#: Cells of one (prepared) column, or ``None``: this column needs the vectorised encoder.
CellEncoder = Callable[[pa.Array], Cells | None]

_MASK64 = (1 << 64) - 1
_ORDINAL_1970 = 719_163  # date(1970, 1, 1).toordinal()
_MAX_ORDINAL = 3_652_059  # date(9999, 12, 31).toordinal()
_FLOAT8_EXACT_LIMIT = 2.0**54  # from here PostgreSQL's shortest digits may differ (float_bounds)
_UNIT_FACTORS = {"s": 1_000_000, "ms": 1_000, "us": 1}
_EPOCH = datetime(1970, 1, 1)
_HEADER = struct.Struct(">hhHh")


def row_encoder(t: pa.DataType, pg: ColumnType, fmt: int, timezone: str) -> CellEncoder | None:
    """The row-path encoder for a prepared Arrow type, PostgreSQL type and format code."""
    if fmt == 1:
        return _binary_encoder(t, pg)
    return _text_encoder(t, pg, timezone)


# --- choosing ---------------------------------------------------------------------------------


def _text_encoder(t: pa.DataType, pg: ColumnType, timezone: str) -> CellEncoder | None:
    types = pa.types
    if types.is_null(t):
        return _nulls
    if types.is_boolean(t):
        return _bool_text
    if types.is_integer(t):
        return _integer_text
    if types.is_float64(t):
        return _float8_text
    if types.is_decimal(t):
        return _decimal_text if t.scale >= 0 else None
    if types.is_string(t):
        return rowvalues.binary_values
    if types.is_binary(t):
        return _bytea_text if pg.oid == BYTEA.oid else rowvalues.binary_values
    if types.is_fixed_size_binary(t):
        if pg.oid == UUID.oid and t.byte_width == 16:
            return _uuid_text
        return _fixed_bytea_text
    if types.is_date(t):
        return _date_text
    if types.is_time(t):
        return _time_text
    if types.is_timestamp(t):
        zone = timezone if pg.oid == TIMESTAMPTZ.oid else None
        return lambda arr: _timestamp_text(arr, zone)
    return None


def _binary_encoder(t: pa.DataType, pg: ColumnType) -> CellEncoder | None:
    types = pa.types
    oid = pg.oid
    if types.is_null(t):
        return _nulls
    if types.is_boolean(t) and oid == 16:
        return _bool_binary
    if types.is_integer(t):
        wire = INTEGER_WIRE.get(oid)
        if wire is not None:
            return _integer_binary(wire)
        if oid == 1700 and types.is_uint64(t):
            return _uint64_numeric_binary
        return None
    if types.is_float32(t) and oid == 700:
        return lambda arr: _swapped(arr, 4)
    if types.is_float64(t) and oid == 701:
        return lambda arr: _swapped(arr, 8)
    if types.is_decimal(t) and oid == 1700:
        return _decimal_binary if t.scale >= 0 else None
    if types.is_fixed_size_binary(t):
        return lambda arr: rowvalues.raw_chunks(arr, arr.type.byte_width)
    if types.is_binary(t):
        return rowvalues.binary_values
    if types.is_string(t):
        if oid == UUID.oid or (oid not in SAME_AS_TEXT and oid not in (JSONB.oid, TEXT.oid) and not pg.type.is_enum):
            return None
        return _jsonb_binary if oid == JSONB.oid else rowvalues.binary_values
    if types.is_date(t) and oid == 1082:
        return _date_binary
    if types.is_time(t) and oid == 1083:
        return _time_binary
    if types.is_timestamp(t) and oid in (1114, 1184):
        return _timestamp_binary
    return None


# --- simple scalars ---------------------------------------------------------------------------


def _nulls(arr: pa.Array) -> Cells:
    return [None] * len(arr)


def _bool_text(arr: pa.Array) -> Cells:
    return [None if v is None else (b"t" if v else b"f") for v in arr.to_pylist()]


def _bool_binary(arr: pa.Array) -> Cells:
    return [None if v is None else (b"\x01" if v else b"\x00") for v in arr.to_pylist()]


def _integer_text(arr: pa.Array) -> Cells:
    return [None if v is None else b"%d" % v for v in arr.to_pylist()]


def _integer_binary(wire: str) -> CellEncoder:
    """Two's complement truncated to the wire width, as numpy's ``astype`` does."""
    size = int(wire[-1])
    packer = struct.Struct(">" + {1: "B", 2: "H", 4: "I", 8: "Q"}[size]).pack
    mask = (1 << (8 * size)) - 1

    def encode(arr: pa.Array) -> Cells:
        return [None if v is None else packer(v & mask) for v in arr.to_pylist()]

    return encode


def _swapped(arr: pa.Array, width: int) -> Cells:
    """Fixed-width little-endian values sent big-endian (floats: NaN payloads kept)."""
    return [None if c is None else c[::-1] for c in rowvalues.raw_chunks(arr, width)]


def _jsonb_binary(arr: pa.Array) -> Cells:
    return [None if v is None else b"\x01" + v for v in rowvalues.binary_values(arr)]


def _bytea_text(arr: pa.Array) -> Cells:
    return [None if v is None else b"\\x" + v.hex().encode() for v in rowvalues.binary_values(arr)]


def _fixed_bytea_text(arr: pa.Array) -> Cells:
    chunks = rowvalues.raw_chunks(arr, arr.type.byte_width)
    return [None if v is None else b"\\x" + v.hex().encode() for v in chunks]


def _uuid_text(arr: pa.Array) -> Cells:
    out: Cells = []
    for v in rowvalues.raw_chunks(arr, 16):
        if v is None:
            out.append(None)
        else:
            h = v.hex()
            out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode())
    return out


# --- floats -----------------------------------------------------------------------------------


def _float8_text(arr: pa.Array) -> Cells | None:
    out: Cells = []
    for v in arr.to_pylist():
        if v is None:
            out.append(None)
            continue
        text = float8_text(v)
        if text is None:
            return None
        out.append(text)
    return out


def float8_text(v: float) -> bytes | None:
    """PostgreSQL's ``float8out`` (shortest digits), or None at or above 2**54 (see floats)."""
    if math.isnan(v):
        return b"NaN"
    if v == math.inf:
        return b"Infinity"
    if v == -math.inf:
        return b"-Infinity"
    if v == 0.0:
        return b"-0" if math.copysign(1.0, v) < 0 else b"0"
    magnitude = -v if v < 0 else v
    if magnitude >= _FLOAT8_EXACT_LIMIT:
        return None
    # repr() gives the shortest digits that read back to the same double, like Ryu.
    mantissa, has_exponent, exponent = repr(magnitude).partition("e")
    shift = int(exponent) if has_exponent else 0
    whole, _, fraction = mantissa.partition(".")
    if whole != "0":
        point = len(whole) - 1 + shift
        digits = (whole + fraction).rstrip("0")
    else:
        significant = fraction.lstrip("0")
        point = shift - (len(fraction) - len(significant)) - 1
        digits = significant.rstrip("0")
    text = _float_layout(digits, point, 15)
    return b"-" + text if v < 0 else text


def _float_layout(digits: str, point: int, fixed_limit: int) -> bytes:
    """Digits whose first one has decimal exponent ``point``, laid out as PostgreSQL does."""
    if -4 <= point < fixed_limit:
        if point < 0:
            return ("0." + "0" * (-point - 1) + digits).encode()
        whole = digits[: point + 1].ljust(point + 1, "0")
        rest = digits[point + 1 :]
        return (whole + "." + rest if rest else whole).encode()
    tail = "." + digits[1:] if len(digits) > 1 else ""
    return f"{digits[0]}{tail}e{'-' if point < 0 else '+'}{abs(point):02d}".encode()


# --- numeric ----------------------------------------------------------------------------------


def _decimal_text(arr: pa.Array) -> Cells:
    scale = arr.type.scale
    out: Cells = []
    for unscaled in rowvalues.decimal_values(arr):
        if unscaled is None:
            out.append(None)
            continue
        digits = str(-unscaled if unscaled < 0 else unscaled)
        if scale > 0:
            padded = digits.rjust(scale + 1, "0")
            digits = padded[:-scale] + "." + padded[-scale:]
        out.append(("-" + digits if unscaled < 0 else digits).encode())
    return out


def _decimal_binary(arr: pa.Array) -> Cells:
    t = arr.type
    values = rowvalues.decimal_values(arr)
    return [
        None if v is None else numeric_send(abs(v), v < 0, t.precision, t.scale) for v in values
    ]


def _uint64_numeric_binary(arr: pa.Array) -> Cells:
    return [None if v is None else numeric_send(v, False, 20, 0) for v in arr.to_pylist()]


def numeric_send(magnitude: int, negative: bool, precision: int, scale: int) -> bytes:
    """``numeric_send`` of ``magnitude / 10**scale`` in a column of this precision and scale:
    the column's base-10000 groups with leading and trailing zero groups dropped."""
    int_groups = max(0, -(-(precision - scale) // 4))
    frac_groups = -(-scale // 4)
    whole, fraction = divmod(magnitude, 10**scale)
    groups = [(whole // 10 ** (4 * k)) % 10_000 for k in range(int_groups - 1, -1, -1)]
    for j in range(1, frac_groups + 1):
        if 4 * j <= scale:
            groups.append((fraction // 10 ** (scale - 4 * j)) % 10_000)
        else:
            groups.append((fraction % 10 ** (scale - 4 * (j - 1))) * 10 ** (4 * j - scale))
    nonzero = [i for i, g in enumerate(groups) if g]
    if not nonzero:
        return _HEADER.pack(0, 0, NUMERIC_POS, scale)
    first, last = nonzero[0], nonzero[-1]
    digits = groups[first : last + 1]
    sign = NUMERIC_NEG if negative else NUMERIC_POS
    header = _HEADER.pack(len(digits), int_groups - 1 - first, sign, scale)
    return header + struct.pack(f">{len(digits)}h", *digits)


# --- dates and times --------------------------------------------------------------------------


def _micros(arr: pa.Array, raw: list[int | None] | None = None) -> list[int | None]:
    """Time/timestamp values in microseconds (nanoseconds floored), exact (no int64 wrap)."""
    unit = arr.type.unit
    if raw is None:
        width = arr.type.bit_width
        raw = rowvalues.fixed_values(arr, "q" if width == 64 else "i", width // 8)
    if unit == "ns":
        return [None if v is None else v // 1000 for v in raw]
    factor = _UNIT_FACTORS[unit]
    return raw if factor == 1 else [None if v is None else v * factor for v in raw]


def _clock(usecs_of_day: int) -> str:
    """``HH:MM:SS`` plus ``.ffffff`` without trailing zeros."""
    seconds, fraction = divmod(usecs_of_day, 1_000_000)
    minutes, second = divmod(seconds, 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}:{second:02d}"
    if fraction:
        text += f".{fraction:06d}".rstrip("0")
    return text


def _days(arr: pa.Array) -> list[int | None] | None:
    """Days since 1970-01-01, or None when a row holds an infinity sentinel."""
    if pa.types.is_date64(arr.type):
        raw = rowvalues.fixed_values(arr, "q", 8)
        if any(v is not None and (v == INT64_MAX or v <= -INT64_MAX) for v in raw):
            return None
        return [None if v is None else v // 86_400_000 for v in raw]
    raw = rowvalues.fixed_values(arr, "i", 4)
    if any(v is not None and (v == INT32_MAX or v <= -INT32_MAX) for v in raw):
        return None
    return raw


def _date_text(arr: pa.Array) -> Cells | None:
    days = _days(arr)
    if days is None:
        return None
    out: Cells = []
    for day in days:
        if day is None:
            out.append(None)
            continue
        ordinal = day + _ORDINAL_1970
        if not 1 <= ordinal <= _MAX_ORDINAL:
            return None
        out.append(date.fromordinal(ordinal).isoformat().encode())
    return out


def _date_binary(arr: pa.Array) -> Cells:
    if pa.types.is_date64(arr.type):
        raw = rowvalues.fixed_values(arr, "q", 8)
        days = [None if v is None else v // 86_400_000 for v in raw]
        positive = [v == INT64_MAX for v in raw]
        negative = [v is not None and v <= -INT64_MAX for v in raw]
    else:
        raw = rowvalues.fixed_values(arr, "i", 4)
        days = raw
        positive = [v == INT32_MAX for v in raw]
        negative = [v is not None and v <= -INT32_MAX for v in raw]
    out: Cells = []
    for day, plus, minus in zip(days, positive, negative, strict=True):
        if day is None:
            out.append(None)
            continue
        value = INT32_MAX if plus else INT32_MIN if minus else day - PG_EPOCH_DAYS
        out.append(struct.pack(">I", value & 0xFFFF_FFFF))
    return out


def _time_text(arr: pa.Array) -> Cells | None:
    out: Cells = []
    for usecs in _micros(arr):
        if usecs is None:
            out.append(None)
        elif 0 <= usecs <= USECS_PER_DAY:
            out.append(_clock(usecs).encode())
        else:
            return None
    return out


def _time_binary(arr: pa.Array) -> Cells:
    return [None if v is None else struct.pack(">Q", v & _MASK64) for v in _micros(arr)]


def _timestamp_text(arr: pa.Array, zone: str | None) -> Cells | None:
    raw = rowvalues.fixed_values(arr, "q", 8)
    if any(v is not None and (v == INT64_MAX or v <= -INT64_MAX) for v in raw):
        return None
    usecs = _micros(arr, raw)
    offsets: list[int] | None = None
    if zone is not None:
        present = np.array([v for v in usecs if v is not None], dtype=np.int64)
        found = iter(zone_offsets(present, zone).tolist())
        offsets = [0 if v is None else next(found) for v in usecs]
    out: Cells = []
    for row, value in enumerate(usecs):
        if value is None:
            out.append(None)
            continue
        offset = 0 if offsets is None else offsets[row]
        try:  # datetime covers exactly the years 1..9999 the layout below is for
            moment = _EPOCH + timedelta(microseconds=value + offset * 1_000_000)
        except OverflowError:
            return None
        text = moment.isoformat(" ")
        if moment.microsecond:
            text = text.rstrip("0")
        if offsets is not None:
            text += _zone_offset(offset)
        out.append(text.encode())
    return out


def _zone_offset(seconds: int) -> str:
    """``+HH``, ``+HH:MM`` or ``+HH:MM:SS``."""
    magnitude = -seconds if seconds < 0 else seconds
    minutes, second = divmod(magnitude, 60)
    text = f"{'-' if seconds < 0 else '+'}{minutes // 60:02d}"
    if minutes % 60 or second:
        text += f":{minutes % 60:02d}"
    if second:
        text += f":{second:02d}"
    return text


def _timestamp_binary(arr: pa.Array) -> Cells:
    raw = rowvalues.fixed_values(arr, "q", 8)
    out: Cells = []
    for value, usecs in zip(raw, _micros(arr), strict=True):
        if value is None or usecs is None:
            out.append(None)
        elif value == INT64_MAX:
            out.append(struct.pack(">q", INT64_MAX))
        elif value <= -INT64_MAX:
            out.append(struct.pack(">q", INT64_MIN))
        else:
            # numpy wraps int64 products and differences; the low 64 bits are the same.
            out.append(struct.pack(">Q", (usecs - PG_EPOCH_USECS) & _MASK64))
    return out
