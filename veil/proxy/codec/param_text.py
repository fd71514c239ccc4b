"""Text-format Bind parameters: the subset of PostgreSQL's ``*in`` functions clients rely on."""

from __future__ import annotations

import json
import math
import re
import struct
import uuid
from decimal import Decimal, InvalidOperation

from veil import errcodes
from veil.errors import InvalidTextRepresentation
from veil.pgtypes import BY_OID
from veil.proxy.codec.param_datetime import (
    parse_date,
    parse_interval,
    parse_time,
    parse_timestamp,
    parse_timetz,
)

_INT_RANGES = {
    21: ("smallint", -(2**15), 2**15 - 1),
    23: ("integer", -(2**31), 2**31 - 1),
    20: ("bigint", -(2**63), 2**63 - 1),
}
# oid, xid, cid; a reg* type's text form is a name ('pg_class', 'int4'), kept as the text it is
# (its input function runs where the catalog is: veil.pgcatalog.params.coerce_value).
_UNSIGNED_OIDS = frozenset({26, 28, 29})
_INTEGER = re.compile(r"\s*([+-]?\d+)\s*")
_DECIMAL = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*")
_FLOAT_WORDS = {
    "nan": math.nan,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
}
_NUMERIC_WORDS = {"nan": "NaN", "infinity": "Infinity", "+infinity": "Infinity"}
_NUMERIC_WORDS |= {"-infinity": "-Infinity", "inf": "Infinity", "+inf": "Infinity"}
_NUMERIC_WORDS |= {"-inf": "-Infinity"}
_BOOL_WORDS = (
    ("true", True),
    ("false", False),
    ("yes", True),
    ("no", False),
    ("on", True),
    ("off", False),
)
_TYPE_NAMES = {16: "boolean", 700: "real", 701: "double precision", 1700: "numeric"}
_TYPE_NAMES |= {17: "bytea", 2950: "uuid", 114: "json", 3802: "json"}


def invalid(type_name: str, text: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'invalid input syntax for type {type_name}: "{text}"')


def decode_text(data: bytes, type_oid: int, timezone: str) -> object:
    """One value in PostgreSQL's text format."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise errcodes.CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from None
    pg_type = BY_OID.get(type_oid)
    if pg_type is not None and pg_type.is_array:
        element = pg_type.element_oid
        return parse_array(text, lambda item: decode_text(item.encode(), element, timezone))
    parser = _PARSERS.get(type_oid)
    if parser is None:
        return text
    return parser(text, timezone)


def _bool(text: str, _zone: str) -> bool:
    """``boolin``: any prefix of true/false/yes/no, ``on``/``off`` (two letters at least), 1/0."""
    word = text.strip().lower()
    if word in ("1", "0"):
        return word == "1"
    if len(word) >= 2 or word[:1] in ("t", "f", "y", "n"):
        for full, value in _BOOL_WORDS:
            if word and full.startswith(word):
                return value
    raise invalid("boolean", text)


def _integer(type_oid: int):
    name, low, high = _INT_RANGES[type_oid]

    def parse(text: str, _zone: str) -> int:
        match = _INTEGER.fullmatch(text)
        if match is None:
            raise invalid(name, text)
        value = int(match.group(1))
        if not low <= value <= high:
            raise errcodes.NumericValueOutOfRange(f'value "{text}" is out of range for type {name}')
        return value

    return parse


def _unsigned(text: str, _zone: str) -> int:
    match = _INTEGER.fullmatch(text)
    if match is None:
        raise invalid("oid", text)
    value = int(match.group(1))
    if not -(2**31) <= value <= 2**32 - 1:
        raise errcodes.NumericValueOutOfRange(f'value "{text}" is out of range for type oid')
    return value % 2**32


def _float(type_oid: int):
    name = _TYPE_NAMES[type_oid]

    def parse(text: str, _zone: str) -> float:
        word = text.strip().lower()
        if word in _FLOAT_WORDS:
            return _FLOAT_WORDS[word]
        match = _DECIMAL.fullmatch(text)
        if match is None:
            raise invalid(name, text)
        value = float(match.group(1))
        if type_oid == 700 and math.isfinite(value):
            value = float(_to_float32(value, text))
        if math.isinf(value):
            raise errcodes.NumericValueOutOfRange(f'"{text}" is out of range for type {name}')
        return value

    return parse


def _to_float32(value: float, text: str) -> float:
    try:
        return struct.unpack("!f", struct.pack("!f", value))[0]
    except OverflowError:
        raise errcodes.NumericValueOutOfRange(f'"{text}" is out of range for type real') from None


def _numeric(text: str, _zone: str) -> Decimal:
    word = text.strip().lower()
    if word in _NUMERIC_WORDS:
        return Decimal(_NUMERIC_WORDS[word])
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise invalid("numeric", text)
    try:
        return Decimal(match.group(1))
    except InvalidOperation:
        raise invalid("numeric", text) from None


def _bytea(text: str, _zone: str) -> bytes:
    if text.startswith("\\x"):
        digits = re.sub(r"\s+", "", text[2:])
        try:
            return bytes.fromhex(digits)
        except ValueError:
            raise invalid("bytea", text) from None
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        byte = raw[i]
        if byte != 0x5C:
            out.append(byte)
            i += 1
        elif raw[i + 1 : i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(rb"[0-3][0-7][0-7]", raw[i + 1 : i + 4]):
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            raise invalid("bytea", text)
    return bytes(out)


def _char(text: str, _zone: str) -> str:
    return text[:1]


def _uuid(text: str, _zone: str) -> uuid.UUID:
    compact = text.strip()
    if compact.startswith("{") and compact.endswith("}"):
        compact = compact[1:-1]
    if not re.fullmatch(r"[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}", compact):
        raise invalid("uuid", text)
    return uuid.UUID(compact.replace("-", ""))


def _json(text: str, _zone: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        raise invalid("json", text) from None
    return text


_PARSERS = {
    16: _bool,
    17: _bytea,
    18: _char,
    20: _integer(20),
    21: _integer(21),
    23: _integer(23),
    700: _float(700),
    701: _float(701),
    1700: _numeric,
    2950: _uuid,
    114: _json,
    3802: _json,
    1082: lambda text, _zone: parse_date(text),
    1083: lambda text, _zone: parse_time(text),
    1266: lambda text, _zone: parse_timetz(text),
    1114: lambda text, zone: parse_timestamp(text, None),
    1184: lambda text, zone: parse_timestamp(text, zone),
    1186: lambda text, _zone: parse_interval(text),
}
_PARSERS |= {oid: _unsigned for oid in _UNSIGNED_OIDS}


def parse_array(text: str, element) -> list:
    """``array_in``: ``{a,"b c",NULL,{1,2}}`` with quotes, backslash escapes and nesting."""
    source = text.strip()
    if source.startswith("["):
        equals = source.find("=")
        if equals < 0:
            raise invalid("array", text)
        source = source[equals + 1 :].strip()
    if not source.startswith("{"):
        raise InvalidTextRepresentation(f'malformed array literal: "{text}"')
    value, end = _parse_level(source, 0, element, text)
    if source[end:].strip():
        raise InvalidTextRepresentation(f'malformed array literal: "{text}"')
    return value


def _parse_level(source: str, pos: int, element, original: str) -> tuple[list, int]:
    """Parse one ``{...}`` starting at ``source[pos] == '{'``; returns (items, next position)."""
    items: list = []
    pos += 1
    expecting_item = True
    while True:
        while pos < len(source) and source[pos].isspace():
            pos += 1
        if pos >= len(source):
            raise InvalidTextRepresentation(f'malformed array literal: "{original}"')
        char = source[pos]
        if char == "}" and (not items or not expecting_item):
            return items, pos + 1
        if char == "," and not expecting_item:
            expecting_item = True
            pos += 1
            continue
        if not expecting_item:
            raise InvalidTextRepresentation(f'malformed array literal: "{original}"')
        if char == "{":
            nested, pos = _parse_level(source, pos, element, original)
            items.append(nested)
        elif char == '"':
            value, pos = _quoted(source, pos + 1, original)
            items.append(element(value))
        else:
            value, pos = _unquoted(source, pos, original)
            items.append(None if value.upper() == "NULL" else element(value))
        expecting_item = False


def _quoted(source: str, pos: int, original: str) -> tuple[str, int]:
    out = []
    while pos < len(source):
        char = source[pos]
        if char == "\\" and pos + 1 < len(source):
            out.append(source[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise InvalidTextRepresentation(f'malformed array literal: "{original}"')


def _unquoted(source: str, pos: int, original: str) -> tuple[str, int]:
    out = []
    while pos < len(source) and source[pos] not in ",}":
        char = source[pos]
        if char in '{"':
            raise InvalidTextRepresentation(f'malformed array literal: "{original}"')
        if char == "\\" and pos + 1 < len(source):
            out.append(source[pos + 1])
            pos += 2
            continue
        out.append(char)
        pos += 1
    value = "".join(out).strip()
    if not value:
        raise InvalidTextRepresentation(f'malformed array literal: "{original}"')
    return value, pos
