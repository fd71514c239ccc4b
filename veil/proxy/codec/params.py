"""Bind parameters: PostgreSQL text or binary values to Python objects.

``decode_parameter`` mirrors the server's ``*in`` (text) and ``*recv`` (binary) functions for the
core types. Parameters are few per statement, so plain per-value Python is fine here.

Value mapping: bool, int, float, ``decimal.Decimal`` (numeric), str (text-like types, json,
unknown and OID 0), bytes (bytea), ``datetime.date``/``time``/``datetime`` (aware in UTC for
timestamptz), ``datetime.timedelta`` for intervals without months (else :class:`Interval`),
``uuid.UUID`` and lists for arrays. ``infinity`` dates and timestamps become the ``max``/``min``
of their Python type. Malformed text raises ``InvalidTextRepresentation`` (22P02; 22003 for out
of range values); malformed binary raises ``ProtocolViolation`` (08P01).
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from decimal import Decimal

from veil import errcodes
from veil.errors import ProtocolViolation
from veil.pgtypes import BY_OID, REG_OIDS, quoted_element
from veil.proxy.codec.param_text import decode_text
from veil.proxy.codec.param_values import (
    Interval,
    date_from_days,
    interval_value,
    timestamp_from_micros,
)
from veil.proxy.codec.textbinary import text_from_binary

__all__ = ["Interval", "decode_parameter"]

_INT_FORMATS = {21: "!h", 23: "!i", 20: "!q"}
_UNSIGNED_OIDS = REG_OIDS | {26, 28, 29}
_TEXT_OIDS = frozenset({0, 19, 25, 114, 142, 705, 1042, 1043, 1790})
NUMERIC_NAN = 0xC000
NUMERIC_PINF = 0xD000
NUMERIC_NINF = 0xF000


def decode_parameter(
    value: bytes | None, type_oid: int, format_code: int, *, timezone: str = "UTC"
) -> object:
    """Decode one Bind parameter; None for SQL NULL.

    ``timezone`` is the session zone, used for timestamptz text without an explicit offset.
    """
    if value is None:
        return None
    if format_code == 0:
        return decode_text(bytes(value), type_oid, timezone)
    if format_code != 1:
        raise ProtocolViolation(f"unsupported format code: {format_code}")
    return decode_binary(bytes(value), type_oid)


def _bad(type_oid: int) -> ProtocolViolation:
    name = BY_OID[type_oid].name if type_oid in BY_OID else str(type_oid)
    return ProtocolViolation(f"incorrect binary data format for type {name}")


def _unpack(fmt: str, data: bytes, type_oid: int) -> tuple:
    if len(data) != struct.calcsize(fmt):
        raise _bad(type_oid)
    return struct.unpack(fmt, data)


def decode_binary(data: bytes, type_oid: int) -> object:
    """One value in PostgreSQL's binary (``*send``) format."""
    pg_type = BY_OID.get(type_oid)
    if pg_type is not None and pg_type.is_array:
        return _array(data, type_oid)
    if pg_type is not None and pg_type.is_enum:  # enum_recv: the label's bytes
        return _utf8(data)
    if pg_type is not None and pg_type.kind == "c":
        return _record_text(data, type_oid)
    if type_oid in _TEXT_OIDS:
        return _utf8(data)
    if type_oid == 3802:
        if not data or data[0] != 1:
            raise _bad(type_oid)
        return _utf8(data[1:])
    if type_oid == 16:
        if len(data) != 1:
            raise _bad(type_oid)
        return data != b"\x00"
    if type_oid == 17:
        return data
    if type_oid == 18:
        return _utf8(data)
    if type_oid in _INT_FORMATS:
        return _unpack(_INT_FORMATS[type_oid], data, type_oid)[0]
    if type_oid in _UNSIGNED_OIDS:
        return _unpack("!I", data, type_oid)[0]
    if type_oid == 700:
        return _unpack("!f", data, type_oid)[0]
    if type_oid == 701:
        return _unpack("!d", data, type_oid)[0]
    if type_oid == 1700:
        return _numeric(data)
    if type_oid == 1082:
        return date_from_days(_unpack("!i", data, type_oid)[0])
    if type_oid == 1083:
        return _time(_unpack("!q", data, type_oid)[0])
    if type_oid == 1266:
        usecs, zone_west = _unpack("!qi", data, type_oid)
        zone = dt.timezone(dt.timedelta(seconds=-zone_west))
        return _time(usecs).replace(tzinfo=zone)
    if type_oid in (1114, 1184):
        return timestamp_from_micros(_unpack("!q", data, type_oid)[0], type_oid == 1184)
    if type_oid == 1186:
        usecs, days, months = _unpack("!qii", data, type_oid)
        return interval_value(months, days, usecs)
    if type_oid == 2950:
        if len(data) != 16:
            raise _bad(type_oid)
        return uuid.UUID(bytes=data)
    text = text_from_binary(data, type_oid)
    return data if text is None else text


def _record_text(data: bytes, type_oid: int) -> str:
    """``record_recv`` of a source's composite type, as the record's text form (which the
    statement casts to the type): each field decoded by its own type, quoted."""
    if len(data) < 4:
        raise _bad(type_oid)
    (count,) = struct.unpack("!i", data[:4])
    position, fields = 4, []
    for _ in range(count):
        if position + 8 > len(data):
            raise _bad(type_oid)
        field_oid, length = struct.unpack("!Ii", data[position : position + 8])
        position += 8
        if length == -1:
            fields.append("")
            continue
        if length < 0 or position + length > len(data):
            raise _bad(type_oid)
        fields.append(quoted_element(decode_binary(data[position : position + length], field_oid)))
        position += length
    if position != len(data):
        raise _bad(type_oid)
    return "(" + ",".join(fields) + ")"


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise errcodes.CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from None


def _time(usecs: int) -> dt.time:
    if not 0 <= usecs <= 86_400_000_000:
        raise errcodes.DatetimeFieldOverflow("time out of range")
    if usecs == 86_400_000_000:
        return dt.time.max
    seconds, micro = divmod(usecs, 1_000_000)
    return dt.time(seconds // 3600, (seconds // 60) % 60, seconds % 60, micro)


def _numeric(data: bytes) -> Decimal:
    """``numeric_recv``: int16 ndigits, weight, sign, dscale, then base-10000 digits."""
    if len(data) < 8:
        raise _bad(1700)
    ndigits, weight, sign, dscale = struct.unpack("!hhHh", data[:8])
    if ndigits < 0 or len(data) != 8 + 2 * ndigits:
        raise _bad(1700)
    if sign == NUMERIC_NAN:
        return Decimal("NaN")
    if sign == NUMERIC_PINF:
        return Decimal("Infinity")
    if sign == NUMERIC_NINF:
        return Decimal("-Infinity")
    if sign not in (0, 0x4000) or dscale < 0:
        raise _bad(1700)
    digits = struct.unpack(f"!{ndigits}h", data[8:])
    if any(d < 0 or d > 9999 for d in digits):
        raise _bad(1700)
    text = "".join(f"{d:04d}" for d in digits) or "0"
    shift = 4 * (weight - ndigits + 1) + dscale
    text = text + "0" * shift if shift >= 0 else text[:shift] or "0"
    return Decimal(f"{'-' if sign else ''}{text}E-{dscale}")


def _array(data: bytes, type_oid: int) -> list:
    """``array_recv``: ndim, has-null flag, element OID, dims with lower bounds, elements."""
    if len(data) < 12:
        raise _bad(type_oid)
    ndim, _flags, element_oid = struct.unpack("!iii", data[:12])
    if ndim < 0 or ndim > 6 or len(data) < 12 + 8 * ndim:
        raise _bad(type_oid)
    dims = [struct.unpack("!ii", data[12 + 8 * i : 20 + 8 * i])[0] for i in range(ndim)]
    if ndim == 0:
        return []
    expected_element = BY_OID[type_oid].element_oid
    if element_oid != expected_element and element_oid not in (0, expected_element):
        raise ProtocolViolation("wrong element type in binary array data")
    position = 12 + 8 * ndim
    flat: list[object] = []
    total = 1
    for size in dims:
        if size < 0:
            raise _bad(type_oid)
        total *= size
    for _ in range(total):
        if position + 4 > len(data):
            raise _bad(type_oid)
        (length,) = struct.unpack("!i", data[position : position + 4])
        position += 4
        if length == -1:
            flat.append(None)
            continue
        if length < 0 or position + length > len(data):
            raise _bad(type_oid)
        flat.append(decode_binary(data[position : position + length], expected_element))
        position += length
    if position != len(data):
        raise _bad(type_oid)
    return _nest(flat, dims)


def _nest(flat: list, dims: list[int]) -> list:
    for size in reversed(dims[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat
