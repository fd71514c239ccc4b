"""PostgreSQL's text forms of money, bit strings, ranges, multiranges and anonymous records.

DuckDB has none of these types. The local engine carries their values as PostgreSQL's own text
form in a VARCHAR (computed at compile time from constants, see :mod:`.localtypes`); the wire
encoders send that text in text format and build the binary form from it
(:mod:`veil.proxy.codec.textbinary`). This module parses and prints those text forms.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from veil import errcodes, timezones

#: Range type → its element type (pg_range.rngsubtype), and multirange → range.
RANGE_ELEMENTS: dict[str, str] = {
    "int4range": "int4",
    "int8range": "int8",
    "numrange": "numeric",
    "daterange": "date",
    "tsrange": "timestamp",
    "tstzrange": "timestamptz",
}
MULTIRANGES: dict[str, str] = {
    "int4multirange": "int4range",
    "int8multirange": "int8range",
    "nummultirange": "numrange",
    "datemultirange": "daterange",
    "tsmultirange": "tsrange",
    "tstzmultirange": "tstzrange",
}
_DISCRETE = {"int4": 1, "int8": 1, "date": 1}
_BOUNDS = {"int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}


@dataclass(frozen=True)
class Range:
    """A range value: bounds as element text (None: infinite), or empty."""

    lower: str | None
    upper: str | None
    lower_inc: bool
    upper_inc: bool
    empty: bool = False


EMPTY = Range(None, None, False, False, empty=True)


def _bound_text(text: str) -> str | None:
    """A bound as written: unquoted (backslash escapes, doubled quotes) or None if absent."""
    if text == "":
        return None
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            if quoted and text[i + 1 : i + 2] == '"':
                out.append('"')
                i += 2
                continue
            quoted = not quoted
        else:
            out.append(char)
        i += 1
    return "".join(out)


def parse_range(text: str) -> Range:
    """PostgreSQL's range text form (``[1,5)``, ``(,3]``, ``empty``), bounds not yet checked."""
    stripped = text.strip()
    if stripped.lower() == "empty":
        return EMPTY
    if len(stripped) < 3 or stripped[0] not in "[(" or stripped[-1] not in "])":
        raise errcodes.InvalidTextRepresentation(f'malformed range literal: "{text}"')
    body = stripped[1:-1]
    depth_quote = False
    comma = -1
    for index, char in enumerate(body):
        if char == '"':
            depth_quote = not depth_quote
        elif char == "," and not depth_quote:
            comma = index
            break
    if comma < 0:
        raise errcodes.InvalidTextRepresentation(f'malformed range literal: "{text}"')
    lower, upper = _bound_text(body[:comma]), _bound_text(body[comma + 1 :])
    return Range(lower, upper, stripped[0] == "[" and lower is not None, stripped[-1] == "]" and upper is not None)


def _quoted_bound(text: str) -> str:
    if text == "" or re.search(r'[\s"\\(),\[\]]', text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def format_range(value: Range) -> str:
    if value.empty:
        return "empty"
    lower = "" if value.lower is None else _quoted_bound(value.lower)
    upper = "" if value.upper is None else _quoted_bound(value.upper)
    return ("[" if value.lower_inc else "(") + lower + "," + upper + ("]" if value.upper_inc else ")")


# --- element values ---------------------------------------------------------------------------

Element = int | Decimal | date | datetime


def parse_element(text: str, element: str, timezone: str) -> Element:
    """An element's value from its text (PostgreSQL's input syntax for the common forms)."""
    cleaned = text.strip()
    try:
        if element in ("int4", "int8"):
            value = int(cleaned)
            low, high = _BOUNDS[element]
            if not low <= value <= high:
                raise errcodes.NumericValueOutOfRange(f'value "{text}" is out of range for type {_SQL[element]}')
            return value
        if element == "numeric":
            number = Decimal(cleaned)
            if not number.is_finite():
                raise InvalidOperation
            return number
        if element == "date":
            return date.fromisoformat(cleaned)
        moment = datetime.fromisoformat(cleaned.replace(" ", "T", 1) if "T" not in cleaned else cleaned)
    except (ValueError, InvalidOperation):
        raise errcodes.InvalidDatetimeFormat(f'invalid input syntax for type {_SQL[element]}: "{text}"') from None
    if element == "timestamp":
        return moment.replace(tzinfo=None)
    zone = timezones.zone(timezone).tzinfo
    if moment.tzinfo is None:
        moment = timezones.wall_clock_instant(moment, zone)
    return moment.astimezone(zone)


_SQL = {
    "int4": "integer",
    "int8": "bigint",
    "numeric": "numeric",
    "date": "date",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
}


def format_element(value: Element, element: str) -> str:
    if element == "numeric":
        return format(value, "f")
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        if element == "timestamptz":
            offset = value.utcoffset() or timedelta(0)
            seconds = int(offset.total_seconds())
            sign = "-" if seconds < 0 else "+"
            hours, rest = divmod(abs(seconds), 3600)
            text += f"{sign}{hours:02d}" + (f":{rest // 60:02d}" if rest else "")
        return text
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _next(value: Element) -> Element:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value + timedelta(days=1)
    assert isinstance(value, int)
    return value + 1


def canonical_range(value: Range, range_type: str, timezone: str) -> Range:
    """``range_in`` then the type's canonical function: bounds checked, discrete ranges as ``[)``."""
    if value.empty:
        return EMPTY
    element = RANGE_ELEMENTS[range_type]
    lower = None if value.lower is None else parse_element(value.lower, element, timezone)
    upper = None if value.upper is None else parse_element(value.upper, element, timezone)
    lower_inc, upper_inc = value.lower_inc, value.upper_inc
    if lower is not None and upper is not None and lower > upper:  # type: ignore[operator]
        raise errcodes.DataException("range lower bound must be less than or equal to range upper bound")
    if element in _DISCRETE:
        if lower is not None and not lower_inc:
            lower, lower_inc = _next(lower), True
        if upper is not None and upper_inc:
            upper, upper_inc = _next(upper), False
        if lower is not None and upper is not None and lower >= upper:  # type: ignore[operator]
            return EMPTY
    elif lower is not None and upper is not None and lower == upper and not (lower_inc and upper_inc):
        return EMPTY
    return Range(
        None if lower is None else format_element(lower, element),
        None if upper is None else format_element(upper, element),
        lower_inc,
        upper_inc,
    )


def range_text(text: str, range_type: str, timezone: str) -> str:
    """``text::range_type`` as PostgreSQL prints it."""
    return format_range(canonical_range(parse_range(text), range_type, timezone))


def parse_multirange(text: str) -> list[str]:
    """The ranges of a multirange's text form, as written."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        raise errcodes.InvalidTextRepresentation(f'malformed multirange literal: "{text}"')
    body = stripped[1:-1].strip()
    if not body:
        return []
    parts = re.findall(r'\s*(empty|[\[(](?:[^"\])]|"(?:[^"\\]|\\.)*")*[\])])\s*(?:,|$)', body, flags=re.IGNORECASE)
    if not parts:
        raise errcodes.InvalidTextRepresentation(f'malformed multirange literal: "{text}"')
    return list(parts)


def multirange_text(text: str, multirange_type: str, timezone: str) -> str:
    """``text::multirange_type`` as PostgreSQL prints it: ranges sorted, overlapping and adjacent
    ones merged, empty ones dropped."""
    range_type = MULTIRANGES[multirange_type]
    element = RANGE_ELEMENTS[range_type]
    ranges = [canonical_range(parse_range(part), range_type, timezone) for part in parse_multirange(text)]
    values = [r for r in ranges if not r.empty]

    def key(bound: str | None, infinite: float) -> tuple[float, Element | int]:
        return (infinite, 0) if bound is None else (0, parse_element(bound, element, timezone))

    values.sort(key=lambda r: (key(r.lower, float("-inf")), not r.lower_inc))
    merged: list[Range] = []
    for current in values:
        if merged:
            last = merged[-1]
            end, start = key(last.upper, float("inf")), key(current.lower, float("-inf"))
            touching = start < end or (start == end and (last.upper_inc or current.lower_inc))
            if touching:
                if key(current.upper, float("inf")) > end or (
                    key(current.upper, float("inf")) == end and current.upper_inc
                ):
                    merged[-1] = Range(last.lower, current.upper, last.lower_inc, current.upper_inc)
                continue
        merged.append(current)
    return "{" + ",".join(format_range(r) for r in merged) + "}"


# --- money, bit strings, records --------------------------------------------------------------


def money_text(text: str) -> str:
    """``cash_out`` (C/en_US monetary format) of a value given as a number or money text."""
    cleaned = text.strip()
    negative = cleaned.startswith("-") or (cleaned.startswith("(") and cleaned.endswith(")"))
    digits = re.sub(r"[$,()\s+-]", "", cleaned)
    try:
        value = Decimal(digits).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise errcodes.InvalidTextRepresentation(f'invalid input syntax for type money: "{text}"') from None
    if abs(value) >= Decimal(2**63) / 100:
        raise errcodes.NumericValueOutOfRange(f'value "{text}" is out of range for type money')
    whole, _, cents = f"{value:f}".partition(".")
    return ("-" if negative and value != 0 else "") + "$" + f"{int(whole):,}" + "." + cents


def bit_text(text: str, length: int | None, varying: bool) -> str:
    """``bit(n)``/``varbit(n)`` of a bit string: an explicit cast pads bit(n) with zeros on the
    right and cuts either to n bits."""
    bits = text.strip()
    bad = re.search(r"[^01]", bits)
    if bad is not None:
        raise errcodes.InvalidTextRepresentation(f'"{bad.group()}" is not a valid binary digit')
    if length is None:
        return bits
    if varying:
        return bits[:length]
    return bits[:length].ljust(length, "0")


def integer_bits(value: int, length: int) -> str:
    """``int::bit(n)``: the n low-order bits (two's complement)."""
    return format(value & ((1 << length) - 1), f"0{length}b")


def record_field(text: str | None) -> str:
    """One field of ``record_out``: empty for NULL, quoted when it could be misread."""
    if text is None:
        return ""
    if text == "" or re.search(r'[\s"\\(),]', text):
        return '"' + text.replace("\\", "\\\\").replace('"', '""') + '"'
    return text


# --- jsonb ------------------------------------------------------------------------------------


def _jsonb_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object as jsonb stores it: the last of duplicate keys wins, keys shortest first, then
    bytewise."""
    merged = dict(pairs)
    return {key: merged[key] for key in sorted(merged, key=lambda k: (len(k.encode()), k.encode()))}


def _jsonb_out(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + _jsonb_out(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_out(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def jsonb_text(text: str) -> str:
    """``text::jsonb`` as ``jsonb_out`` prints it (keys sorted, ``", "`` and ``": "``, numbers
    as numeric prints them)."""
    try:
        value = json.loads(text, object_pairs_hook=_jsonb_object, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        raise errcodes.InvalidTextRepresentation("invalid input syntax for type json") from None
    if "\\u0000" in text:
        raise errcodes.UntranslatableCharacter("unsupported Unicode escape sequence")
    return _jsonb_out(value)
