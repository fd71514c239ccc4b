"""Text dates, times, timestamps and intervals, as drivers send them in Bind parameters.

Accepted: ISO 8601 dates (``2024-01-31``, ``20240131``), US ``01/31/2024`` (DateStyle MDY);
``BC`` dates parse but are out of Python's range (22008); times ``HH:MM[:SS[.frac]]``; zone
offsets ``Z``, ``+HH``, ``+HH:MM``, ``+HHMM``, ``+HH:MM:SS`` and IANA names; ``infinity``,
``-infinity`` and ``epoch``. Intervals in PostgreSQL's verbose style (``@ 1 year 2 mons -3 days
04:05:06 ago``, fractional units spilling down as PostgreSQL does), SQL standard ``Y-M`` and
``D H:M:S``, and ISO 8601 durations (``P1Y2M3DT4H5M6.5S``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from veil import errcodes, timezones
from veil.errors import InvalidTextRepresentation
from veil.proxy.codec.param_values import Interval, interval_value, out_of_range

_DATE = r"(?P<date>\d{4,}-\d{1,2}-\d{1,2}|\d{8}|\d{1,2}/\d{1,2}/\d{4,})"
_TIME = r"(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?)"
_ZONE = r"(?P<zone>[zZ]|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?|(?!BC\b)[A-Za-z][A-Za-z0-9_/+-]*)"
_TIMESTAMP = re.compile(
    rf"\s*{_DATE}(?:(?:\s+|[Tt]){_TIME})?\s*{_ZONE}?(?P<bc>\s+BC)?\s*", re.IGNORECASE
)
_DATE_ONLY = re.compile(rf"\s*{_DATE}(?P<bc>\s+BC)?\s*", re.IGNORECASE)
_TIME_ONLY = re.compile(rf"\s*{_TIME}\s*{_ZONE}?\s*")
_OFFSET = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?")

USECS_PER_SEC = 1_000_000
USECS_PER_DAY = 86_400 * USECS_PER_SEC
DAYS_PER_MONTH = 30

# Unit words of the verbose interval style -> (field, multiplier).
_UNITS: dict[str, tuple[str, int]] = {}
for _names, _field, _factor in (
    (("microsecond", "microseconds", "us", "usec", "usecs", "useconds"), "us", 1),
    (("millisecond", "milliseconds", "ms", "msec", "msecs", "mseconds"), "us", 1_000),
    (("second", "seconds", "s", "sec", "secs"), "us", USECS_PER_SEC),
    (("minute", "minutes", "m", "min", "mins"), "us", 60 * USECS_PER_SEC),
    (("hour", "hours", "h", "hr", "hrs"), "us", 3_600 * USECS_PER_SEC),
    (("day", "days", "d"), "days", 1),
    (("week", "weeks", "w"), "days", 7),
    (("month", "months", "mon", "mons"), "months", 1),
    (("year", "years", "y", "yr", "yrs"), "months", 12),
    (("decade", "decades", "dec", "decs"), "months", 120),
    (("century", "centuries", "c", "cent"), "months", 1_200),
    (("millennium", "millennia", "mil", "mils"), "months", 12_000),
):
    for _name in _names:
        _UNITS[_name] = (_field, _factor)

_TOKEN = re.compile(
    r"\s*(?:(?P<clock>[+-]?\d+:\d+(?::\d+(?:\.\d*)?)?)"
    r"|(?P<ym>[+-]?\d+-\d+)"
    r"|(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"|(?P<word>[a-z]+)"
    r"|(?P<comma>,))",
)
_ISO_DURATION = re.compile(
    r"p(?:(?P<y>[+-]?[\d.]+)y)?(?:(?P<mo>[+-]?[\d.]+)m)?(?:(?P<w>[+-]?[\d.]+)w)?"
    r"(?:(?P<d>[+-]?[\d.]+)d)?(?:t(?:(?P<h>[+-]?[\d.]+)h)?(?:(?P<mi>[+-]?[\d.]+)m)?"
    r"(?:(?P<s>[+-]?[\d.]+)s)?)?"
)


def _invalid(type_name: str, text: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'invalid input syntax for type {type_name}: "{text}"')


def _date_fields(text: str, original: str, type_name: str, bc: bool) -> dt.date:
    if "/" in text:
        month, day, year = (int(part) for part in text.split("/"))
    elif "-" in text:
        year, month, day = (int(part) for part in text.split("-"))
    else:
        year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    if bc:
        raise out_of_range(type_name)
    try:
        return dt.date(year, month, day)
    except ValueError:
        if 1 <= month <= 12 and 1 <= day <= 31 and year > 0:
            raise out_of_range(type_name) from None
        raise errcodes.DatetimeFieldOverflow(f'date/time field value out of range: "{original}"') from None


def _special(text: str) -> str | None:
    """``infinity``, ``-infinity`` or ``epoch`` (normalised), else None."""
    word = text.strip().lower()
    if word == "+infinity":
        return "infinity"
    return word if word in ("infinity", "-infinity", "epoch") else None


_SPECIAL_DATES = {
    "infinity": dt.date.max,
    "-infinity": dt.date.min,
    "epoch": dt.date(1970, 1, 1),
}
_SPECIAL_TIMESTAMPS = {
    "infinity": dt.datetime.max,
    "-infinity": dt.datetime.min,
    "epoch": dt.datetime(1970, 1, 1),
}


def parse_date(text: str) -> dt.date:
    special = _special(text)
    if special is not None:
        return _SPECIAL_DATES[special]
    match = _DATE_ONLY.fullmatch(text) or _TIMESTAMP.fullmatch(text)
    if match is None:
        raise _invalid("date", text)
    return _date_fields(match.group("date"), text, "date", bool(match.group("bc")))


def _clock(text: str, original: str) -> tuple[dt.time, int]:
    """(time of day, carry days): fractions round to microseconds, ``24:00:00`` allowed."""
    parts = text.split(":")
    hours, minutes = int(parts[0]), int(parts[1])
    seconds = Decimal(parts[2]) if len(parts) > 2 else Decimal(0)
    usecs = int(
        (seconds * USECS_PER_SEC).to_integral_value(rounding=ROUND_HALF_EVEN)
    ) + USECS_PER_SEC * (60 * minutes + 3600 * hours)
    if minutes > 59 or seconds >= 60 or usecs > USECS_PER_DAY:
        raise errcodes.DatetimeFieldOverflow(f'date/time field value out of range: "{original}"')
    if usecs == USECS_PER_DAY:
        return dt.time(0), 1
    whole, micro = divmod(usecs, USECS_PER_SEC)
    return dt.time(whole // 3600, (whole // 60) % 60, whole % 60, micro), 0


def _zone(text: str, original: str) -> dt.tzinfo:
    if text.lower() == "z":
        return dt.UTC
    match = _OFFSET.fullmatch(text)
    if match is not None:
        sign, hours, minutes, seconds = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0))
        return dt.timezone(-delta if sign == "-" else delta)
    return zone_info(text, original)


def zone_info(name: str, original: str | None = None) -> dt.tzinfo:
    if name.upper() in ("UTC", "GMT", "Z", "ETC/UTC", "UNIVERSAL", "ZULU"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        shown = original if original is not None else name
        raise InvalidTextRepresentation(f'time zone "{name}" not recognized in "{shown}"') from None


def parse_time(text: str) -> dt.time:
    match = _TIME_ONLY.fullmatch(text)
    if match is None:
        raise _invalid("time without time zone", text)
    value, carry = _clock(match.group("time"), text)
    return dt.time.max if carry else value


def parse_timetz(text: str) -> dt.time:
    match = _TIME_ONLY.fullmatch(text)
    if match is None or match.group("zone") is None:
        raise _invalid("time with time zone", text)
    value, carry = _clock(match.group("time"), text)
    zone = _zone(match.group("zone"), text)
    if not isinstance(zone, dt.timezone):
        raise _invalid("time with time zone", text)
    return (dt.time.max if carry else value).replace(tzinfo=zone)


def parse_timestamp(text: str, session_zone: str | None) -> dt.datetime:
    """``timestamp`` (``session_zone`` None: zones are ignored) or ``timestamptz`` (UTC)."""
    type_name = "timestamp with time zone" if session_zone else "timestamp without time zone"
    special = _special(text)
    if special is not None:
        value = _SPECIAL_TIMESTAMPS[special]
        return value if session_zone is None else value.replace(tzinfo=dt.UTC)
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise _invalid(type_name, text)
    day = _date_fields(match.group("date"), text, "timestamp", bool(match.group("bc")))
    clock, carry = (dt.time(0), 0)
    if match.group("time"):
        clock, carry = _clock(match.group("time"), text)
    try:
        value = dt.datetime.combine(day, clock) + dt.timedelta(days=carry)
    except OverflowError:
        raise out_of_range("timestamp") from None
    if session_zone is None:
        return value
    zone_text = match.group("zone")
    zone = _zone(zone_text, text) if zone_text else timezones.zone(session_zone).tzinfo
    try:
        return timezones.wall_clock_instant(value, zone).astimezone(dt.UTC)
    except OverflowError:
        raise out_of_range("timestamp") from None


def parse_interval(text: str) -> dt.timedelta | Interval:
    """An interval in any of PostgreSQL's input styles; see the module docstring."""
    source = text.strip().lower()
    if source.startswith("p"):
        months, days, usecs = _iso_duration(source, text)
    else:
        months, days, usecs = _verbose(source, text)
    if abs(months) >= 2**31 or abs(days) >= 2**31 or abs(usecs) >= 2**63:
        raise errcodes.IntervalFieldOverflow("interval out of range")
    return interval_value(months, days, usecs)


class _Fields:
    """Accumulates interval fields, spilling fractions downwards like ``DecodeInterval``."""

    def __init__(self) -> None:
        self.months = 0
        self.days = 0
        self.usecs = Decimal(0)

    def add(self, amount: Decimal, field: str, factor: int) -> None:
        if field == "us":
            self.usecs += amount * factor
            return
        if field == "days":
            whole = int(amount * factor)
            self.days += whole
            self.usecs += (amount * factor - whole) * USECS_PER_DAY
            return
        total = amount * factor
        whole = int(total)
        self.months += whole
        fraction_days = (total - whole) * DAYS_PER_MONTH
        self.add(fraction_days, "days", 1)

    def result(self, negate: bool) -> tuple[int, int, int]:
        usecs = int(self.usecs.to_integral_value(rounding=ROUND_HALF_EVEN))
        sign = -1 if negate else 1
        return sign * self.months, sign * self.days, sign * usecs


def _clock_usecs(token: str) -> Decimal:
    sign = -1 if token.startswith("-") else 1
    parts = token.lstrip("+-").split(":")
    hours, minutes = int(parts[0]), int(parts[1])
    seconds = Decimal(parts[2]) if len(parts) > 2 else Decimal(0)
    return sign * ((hours * 3600 + minutes * 60) * USECS_PER_SEC + seconds * USECS_PER_SEC)


def _verbose(source: str, original: str) -> tuple[int, int, int]:
    source = source.lstrip("@").strip()
    negate = False
    if source.endswith("ago"):
        negate = True
        source = source[: -len("ago")].strip()
    tokens = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            if source[pos:].strip() == "":
                break
            raise _invalid("interval", original)
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    if not tokens:
        raise _invalid("interval", original)
    fields = _Fields()
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "comma":
            index += 1
        elif kind == "clock":
            fields.add(_clock_usecs(value), "us", 1)
            index += 1
        elif kind == "ym":
            sign = -1 if value.startswith("-") else 1
            years, months = value.lstrip("+-").split("-")
            fields.add(Decimal(sign * (int(years) * 12 + int(months))), "months", 1)
            index += 1
        elif kind == "number":
            following = tokens[index + 1] if index + 1 < len(tokens) else (None, None)
            if following[0] == "word" and following[1] in _UNITS:
                field, factor = _UNITS[following[1]]
                fields.add(Decimal(value), field, factor)
                index += 2
            elif following[0] == "clock":
                fields.add(Decimal(value), "days", 1)
                index += 1
            elif following[0] is None:
                fields.add(Decimal(value), "us", USECS_PER_SEC)
                index += 1
            else:
                raise _invalid("interval", original)
        else:
            raise _invalid("interval", original)
    return fields.result(negate)


def _iso_duration(source: str, original: str) -> tuple[int, int, int]:
    match = _ISO_DURATION.fullmatch(source)
    if match is None or source in ("p", "pt") or source.endswith("t"):
        raise _invalid("interval", original)
    fields = _Fields()
    units = {
        "y": ("months", 12),
        "mo": ("months", 1),
        "w": ("days", 7),
        "d": ("days", 1),
        "h": ("us", 3_600 * USECS_PER_SEC),
        "mi": ("us", 60 * USECS_PER_SEC),
        "s": ("us", USECS_PER_SEC),
    }
    for group, (field, factor) in units.items():
        amount = match.group(group)
        if amount is not None:
            try:
                fields.add(Decimal(amount), field, factor)
            except ArithmeticError:
                raise _invalid("interval", original) from None
    return fields.result(False)
