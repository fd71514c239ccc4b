"""Binary wire forms computed from PostgreSQL's text form, for columns a PostgreSQL source sends
as text (:mod:`veil.catalog.sources.postgres.shape`): unconstrained numeric, oid, inet/cidr, macaddr,
money, bit strings, timetz, geometric types (:mod:`.geometry`).

These parse each value in Python: they serve types Arrow has no exact representation for, whose
text form is all Veil holds. A type whose binary form Veil cannot build from its text (ranges,
tsvector, arrays of such types ...) is refused in binary format with SQLSTATE
0A000 rather than sent in a form the client would misread; text format serves every type.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Callable

import pyarrow as pa

from veil.errors import FeatureNotSupported
from veil.pgfields import user_type
from veil.pgtypes import BY_OID, RECORD_OID, PgType
from veil.proxy.codec.geometry import GEOMETRY
from veil.proxy.codec.ranges import multirange_sender, range_sender

Converter = Callable[[str], bytes]

_NUMERIC_HEAD = struct.Struct(">hhHh")
# (sign word, dscale) of the special values, as numeric_send writes them.
_SPECIAL_NUMERIC = {"NaN": (0xC000, 0), "Infinity": (0xD000, 32), "-Infinity": (0xF000, 32)}


def numeric_send(text: str) -> bytes:
    """``numeric_send`` of a numeric's text form (``-12.3400``, ``NaN``, ``Infinity``)."""
    special = _SPECIAL_NUMERIC.get(text)
    if special is not None:
        return _NUMERIC_HEAD.pack(0, 0, *special)
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("+-").partition(".")
    dscale = len(fraction)
    whole = whole.lstrip("0")
    whole = "0" * (-len(whole) % 4) + whole
    fraction = fraction + "0" * (-len(fraction) % 4)
    groups = [int(whole[i : i + 4]) for i in range(0, len(whole), 4)]
    weight = len(groups) - 1
    groups += [int(fraction[i : i + 4]) for i in range(0, len(fraction), 4)]
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        return _NUMERIC_HEAD.pack(0, 0, 0, dscale)
    sign = 0x4000 if negative else 0
    return _NUMERIC_HEAD.pack(len(groups), weight, sign, dscale) + struct.pack(f">{len(groups)}h", *groups)


def _inet_send(text: str, cidr: bool) -> bytes:
    network = ipaddress.ip_interface(text)
    address = network.ip
    family = 2 if address.version == 4 else 3
    packed = address.packed
    return bytes((family, network.network.prefixlen, int(cidr), len(packed))) + packed


def _mac_send(text: str) -> bytes:
    return bytes.fromhex(re.sub(r"[^0-9A-Fa-f]", "", text))


def _bit_send(text: str) -> bytes:
    length = len(text)
    padded = text + "0" * (-length % 8)
    body = int(padded, 2).to_bytes(len(padded) // 8, "big") if padded else b""
    return struct.pack(">i", length) + body


_MONEY_CHARS = re.compile(r"[^0-9.]")


def _money_send(text: str) -> bytes:
    """``cash_send`` for the C / en_US monetary format (``-$1,234.56``: two fractional digits)."""
    negative = text.startswith(("-", "("))
    whole, _, cents = _MONEY_CHARS.sub("", text).partition(".")
    value = int(whole or "0") * 100 + int((cents + "00")[:2])
    return struct.pack(">q", -value if negative else value)


_TIMETZ = re.compile(r"(\d+):(\d+):(\d+)(?:\.(\d+))?([+-])(\d+)(?::(\d+))?(?::(\d+))?$")


def _timetz_send(text: str) -> bytes:
    match = _TIMETZ.match(text)
    if match is None:
        raise FeatureNotSupported(f"cannot send the timetz value {text!r} in binary format")
    hours, minutes, seconds, fraction, sign, zh, zm, zs = match.groups()
    usecs = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000
    usecs += int((fraction or "").ljust(6, "0")[:6] or "0")
    offset = int(zh) * 3600 + int(zm or 0) * 60 + int(zs or 0)
    # PostgreSQL stores the zone as seconds west of Greenwich.
    zone = -offset if sign == "+" else offset
    return struct.pack(">qi", usecs, zone)


def _char_send(text: str) -> bytes:
    """``charsend`` of a "char": one byte, printed empty for \\0 and as octal above 127."""
    if not text:
        return b"\x00"
    if text.startswith("\\") and len(text) == 4:
        return bytes((int(text[1:], 8),))
    return text.encode()


def _uint(width: str) -> Converter:
    packer = struct.Struct(width)
    return lambda text: packer.pack(int(text))


#: Type OID -> the converter from its text form to its binary form.
CONVERTERS: dict[int, Converter] = {
    1700: numeric_send,
    26: _uint(">I"),  # oid
    28: _uint(">I"),  # xid
    29: _uint(">I"),  # cid
    5069: _uint(">Q"),  # xid8
    869: lambda text: _inet_send(text, False),
    650: lambda text: _inet_send(text, True),
    829: _mac_send,
    774: _mac_send,
    1560: _bit_send,
    1562: _bit_send,
    790: _money_send,
    1266: _timetz_send,
    18: _char_send,
    **GEOMETRY,
}

#: Types whose binary form is their text bytes.
SAME_AS_TEXT = frozenset({19, 25, 114, 142, 705, 1042, 1043})


_FLOAT_SPECIAL = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


def _float(width: str) -> Converter:
    packer = struct.Struct(width)
    return lambda text: packer.pack(float(_FLOAT_SPECIAL.get(text, text)))


def _int(width: str) -> Converter:
    packer = struct.Struct(width)
    return lambda text: packer.pack(int(text))


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 of a proleptic Gregorian date (any astronomical year)."""
    year -= month <= 2
    era = year // 400  # floor division: right for negative years too
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_PG_EPOCH_DAYS = 10957  # 2000-01-01 from 1970-01-01
_DATETIME = re.compile(
    r"(\d+)-(\d+)-(\d+)(?: (\d+):(\d+):(\d+)(?:\.(\d+))?)?(?:([+-])(\d+)(?::(\d+))?(?::(\d+))?)?( BC)?$"
)
_INFINITE = {"infinity": (1 << 63) - 1, "-infinity": -(1 << 63)}


def _datetime_parts(text: str) -> tuple[int, int]:
    """(days from 2000-01-01, microseconds into the day, zone offset applied) of an ISO date or
    timestamp as PostgreSQL prints it with DateStyle ISO."""
    match = _DATETIME.match(text)
    if match is None:
        raise ValueError(text)
    year, month, day, hh, mm, ss, fraction, sign, zh, zm, zs, bc = match.groups()
    astronomical = 1 - int(year) if bc else int(year)
    days = _days_from_civil(astronomical, int(month), int(day)) - _PG_EPOCH_DAYS
    usecs = ((int(hh or 0) * 60 + int(mm or 0)) * 60 + int(ss or 0)) * 1_000_000
    usecs += int((fraction or "").ljust(6, "0")[:6] or "0")
    if sign:
        offset = (int(zh) * 3600 + int(zm or 0) * 60 + int(zs or 0)) * 1_000_000
        usecs -= offset if sign == "+" else -offset
    return days, usecs


def _date_send(text: str) -> bytes:
    if text in _INFINITE:
        return struct.pack(">i", 0x7FFFFFFF if text == "infinity" else -0x80000000)
    return struct.pack(">i", _datetime_parts(text)[0])


def _timestamp_send(text: str) -> bytes:
    if text in _INFINITE:
        return struct.pack(">q", _INFINITE[text])
    days, usecs = _datetime_parts(text)
    return struct.pack(">q", days * 86_400_000_000 + usecs)


def _time_send(text: str) -> bytes:
    hours, minutes, seconds = text.split(":")
    whole, _, fraction = seconds.partition(".")
    usecs = ((int(hours) * 60 + int(minutes)) * 60 + int(whole)) * 1_000_000 + int(fraction.ljust(6, "0")[:6] or "0")
    return struct.pack(">q", usecs)


#: Element types of arrays whose binary form Veil builds from the array's text form.
ELEMENT_CONVERTERS: dict[int, Converter] = {
    **CONVERTERS,
    16: lambda text: b"\x01" if text == "t" else b"\x00",
    21: _int(">h"),
    23: _int(">i"),
    20: _int(">q"),
    700: _float(">f"),
    701: _float(">d"),
    2950: lambda text: bytes.fromhex(text.replace("-", "")),
    17: lambda text: bytes.fromhex(text[2:]),
    3802: lambda text: b"\x01" + text.encode(),
    1082: _date_send,
    1114: _timestamp_send,
    1184: _timestamp_send,
    1083: _time_send,
    **{oid: str.encode for oid in SAME_AS_TEXT},
}


#: Range and multirange type OIDs -> their converters, by element type (pg_range).
_RANGES = {3904: 23, 3926: 20, 3906: 1700, 3912: 1082, 3908: 1114, 3910: 1184}
_MULTIRANGES = {4451: 3904, 4536: 3926, 4532: 3906, 4535: 3912, 4533: 3908, 4534: 3910}
RANGE_CONVERTERS: dict[int, Converter] = {
    **{oid: range_sender(ELEMENT_CONVERTERS[element]) for oid, element in _RANGES.items()},
    **{oid: multirange_sender(ELEMENT_CONVERTERS[_RANGES[of]]) for oid, of in _MULTIRANGES.items()},
}


def parse_array(text: str) -> tuple[list[int], list[int], list[str | None]]:
    """PostgreSQL's array text form: (dimension sizes, lower bounds, elements in row-major
    order, None for NULL). Quoted elements may hold any character, backslash-escaped."""
    lower: list[int] = []
    if text.startswith("["):
        bounds, _, text = text.partition("=")
        for dimension in bounds[1:-1].split("]["):
            lower.append(int(dimension.split(":")[0]))
    sizes: list[int] = []
    counts: list[int] = []
    elements: list[str | None] = []
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "{":
            depth += 1
            if len(counts) < depth:
                counts.append(0)
            counts[depth - 1] = 0
            i += 1
        elif char == "}":
            if len(sizes) < depth:
                sizes += [0] * (depth - len(sizes))
            sizes[depth - 1] = counts[depth - 1]
            depth -= 1
            if depth:
                counts[depth - 1] += 1
            i += 1
        elif char == ",":
            i += 1
        elif char == '"':
            i += 1
            value = []
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                value.append(text[i])
                i += 1
            elements.append("".join(value))
            counts[depth - 1] += 1
            i += 1
        else:
            end = i
            while text[end] not in ",}":
                end += 1
            word = text[i:end].strip()
            elements.append(None if word == "NULL" else word)
            counts[depth - 1] += 1
            i = end
    if not elements:
        return [], [], []
    return sizes, lower or [1] * len(sizes), elements


def array_send(text: str, element_oid: int, converter: Converter | None = None) -> bytes:
    """``array_send`` of an array's text form."""
    converter = converter or ELEMENT_CONVERTERS[element_oid]
    sizes, lower, elements = parse_array(text)
    has_null = any(e is None for e in elements)
    parts = [struct.pack(">iii", len(sizes), int(has_null), element_oid)]
    parts += [struct.pack(">ii", size, bound) for size, bound in zip(sizes, lower, strict=True)]
    for element in elements:
        if element is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            value = converter(element)
            parts.append(struct.pack(">i", len(value)) + value)
    return b"".join(parts)


def _converter(oid: int, declared: PgType | None = None) -> Converter | None:
    converter = CONVERTERS.get(oid) or RANGE_CONVERTERS.get(oid)
    if converter is not None:
        return converter
    pg_type = declared if declared is not None and declared.oid == oid else BY_OID.get(oid)
    if pg_type is None:
        return None
    if pg_type.kind == "c" or (pg_type.oid == RECORD_OID and pg_type.fields):
        return _record_converter(pg_type)
    if not pg_type.is_array:
        return None
    element = pg_type.element_oid
    if element in ELEMENT_CONVERTERS:
        return lambda text: array_send(text, element)
    defined = user_type(pg_type)
    if defined is not None and defined.is_enum:  # an array of a source's enum: each label's bytes
        return lambda text: array_send(text, element, str.encode)
    record = _record_converter(defined) if defined is not None else None
    if record is not None:
        return lambda text: array_send(text, element, record)
    return None


def parse_record(text: str) -> list[str | None]:
    """PostgreSQL's text form of a composite value: its fields, None for NULL (an empty
    unquoted field); quoted fields may hold any character, doubled or backslash-escaped."""
    fields: list[str | None] = []
    current: list[str] = []
    quoted = in_quotes = False
    body = text[1:-1]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 1
            current.append(body[i])
        elif in_quotes and c == '"' and body[i + 1 : i + 2] == '"':
            i += 1
            current.append('"')
        elif c == '"':
            in_quotes, quoted = not in_quotes, True
        elif c == "," and not in_quotes:
            fields.append("".join(current) if current or quoted else None)
            current, quoted = [], False
        else:
            current.append(c)
        i += 1
    fields.append("".join(current) if current or quoted else None)
    return fields


def _record_converter(composite: PgType) -> Converter | None:
    """``record_send`` of a source's composite type from its text form: the field count, then
    each field's type OID and binary value. ``None`` when a field's type has no converter."""
    oids = [oid for _, oid, _ in composite.fields]
    if not all(oid in ELEMENT_CONVERTERS for oid in oids):
        return None
    converters = [ELEMENT_CONVERTERS[oid] for oid in oids]

    def record_send(text: str) -> bytes:
        values = parse_record(text)
        if len(values) != len(oids):
            raise ValueError(text)
        parts = [struct.pack(">i", len(oids))]
        for oid, convert, value in zip(oids, converters, values, strict=True):
            data = None if value is None else convert(value)
            parts.append(struct.pack(">Ii", oid, -1) if data is None else struct.pack(">Ii", oid, len(data)) + data)
        return b"".join(parts)

    return record_send


def binary_from_text(arr: pa.Array, oid: int, declared: PgType | None = None) -> pa.Array:
    """The binary form of a string column holding PostgreSQL's text form of type ``oid``
    (``declared``: the column's type, when it carries more than its OID: a record's fields).
    Only a value needs a converter: NULLs (and the empty element list of NULL arrays) are sent
    as NULLs, as PostgreSQL sends them without calling the type's send function."""
    converter = _converter(oid, declared)
    if converter is None and arr.null_count == len(arr):
        return pa.nulls(len(arr), pa.binary())
    if converter is None:
        pg_type = BY_OID.get(oid)
        name = pg_type.name if pg_type is not None else str(oid)
        raise FeatureNotSupported(
            f"binary format is not supported for columns of type {name} read from a PostgreSQL source",
            hint="request this column in text format",
        )
    try:
        return pa.array([None if v is None else converter(v) for v in arr.to_pylist()], pa.binary())
    except (ValueError, KeyError, IndexError, struct.error):
        pg_type = BY_OID.get(oid)
        name = pg_type.name if pg_type is not None else str(oid)
        raise FeatureNotSupported(
            f"a value of type {name} cannot be sent in binary format", hint="request this column in text format"
        ) from None


def _inet_text(data: bytes, cidr: bool) -> str:
    family, bits, _, size = data[:4]
    address = ipaddress.ip_address(data[4 : 4 + size])
    full = 32 if family == 2 else 128
    if cidr or bits != full:
        return f"{address}/{bits}"
    return str(address)


#: Type OID -> text form of a binary parameter value, for types Veil binds to a source as text.
TEXT_FROM_BINARY: dict[int, Callable[[bytes], str]] = {
    869: lambda data: _inet_text(data, False),
    650: lambda data: _inet_text(data, True),
    829: lambda data: ":".join(f"{b:02x}" for b in data),
    774: lambda data: ":".join(f"{b:02x}" for b in data),
}


def text_from_binary(data: bytes, oid: int) -> str | None:
    """The text form of a binary parameter of ``oid``, or None when Veil has no decoder for it."""
    decoder = TEXT_FROM_BINARY.get(oid)
    if decoder is None:
        return None
    try:
        return decoder(data)
    except (ValueError, IndexError):
        raise FeatureNotSupported(f"invalid binary value for type {BY_OID[oid].name}") from None
