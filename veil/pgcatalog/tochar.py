"""``to_char(timestamp | timestamptz | date | interval, template)`` as a DuckDB expression that
prints what PostgreSQL 15 prints.

sqlglot turns a PostgreSQL template into a ``strftime`` format, which is not PostgreSQL's
template language: letters that are not patterns stay letters (``'abc'`` is ``aad`` in
PostgreSQL: ``bc`` is the era), ``FM``/``TH``/``SP``, quoted text and backslashes are lost. The
parser keeps the template as written (:data:`veil.pgcatalog.parse.TEMPLATE_META`) and :func:`datetime_to_char`
reads it as PostgreSQL's ``parse_format`` does (the longest keyword at each position, ``FM``/``TM``
prefixes, ``TH``/``th``/``SP`` suffixes, ``"quoted text"`` with backslash escapes, ``\\"``),
then concatenates one DuckDB expression per piece. A template that is not a constant, or that
uses a pattern Veil does not print as PostgreSQL does (time zone patterns, a pattern PostgreSQL
rejects for an interval), is refused with 0A000: never a different string.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import sqlglot
from sqlglot import exp

from veil.errcodes import FeatureNotSupported

# PostgreSQL 15's DCH keywords (upper and lower case spellings; the mixed-case name patterns).
_KEYWORDS = (
    "A.D. A.M. AD AM B.C. BC CC DAY DDD DD DY Day Dy D FF1 FF2 FF3 FF4 FF5 FF6 FX HH24 HH12 HH "
    "IDDD ID IW IYYY IYY IY I J MI MM MONTH MON MS Month Mon OF P.M. PM Q RM SSSSS SSSS SS TZH "
    "TZM TZ US WW W Y,YYY YYYY YYY YY Y a.d. a.m. ad am b.c. bc cc day ddd dd dy d ff1 ff2 ff3 ff4 "
    "ff5 ff6 fx hh24 hh12 hh iddd id iw iyyy iyy iy i j mi mm month mon ms of p.m. pm q rm sssss "
    "ssss ss tzh tzm tz us ww w y,yyy yyyy yyy yy y"
).split()
_LONGEST_FIRST = sorted(_KEYWORDS, key=len, reverse=True)
_PREFIXES = ("FM", "fm", "TM", "tm")
_POSTFIXES = ("TH", "th", "SP")

X = "vl__x"  # the placeholder the argument replaces
ZONED = "vl__zoned"  # the placeholder a timestamptz argument replaces as it is (its UTC offset is read from it)
#: The DuckDB built-ins the printed expressions call (allowed in the compiled statement).
EMITTED = frozenset(
    {"printf", "monthname", "dayname", "julian", "isoyear", "isodow", "dayofweek", "dayofyear", "weekofyear",
     "quarter", "rpad", "hour", "minute", "second", "year", "month", "day", "date_part", "timezone", "abs",
     "upper", "lower", "left", "list_extract"}
)


@dataclass(frozen=True)
class _Piece:
    keyword: str | None  # None: literal text
    text: str = ""
    fill: bool = False  # FM: no padding
    translate: bool = False  # TM: names as the locale prints them (unpadded)
    ordinal: str = ""  # "TH" / "th": the ordinal suffix


def _parse(template: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    i = 0
    while i < len(template):
        prefix = next((p for p in _PREFIXES if template.startswith(p, i)), None)
        if prefix is not None:
            i += 2
        keyword = next((k for k in _LONGEST_FIRST if template.startswith(k, i)), None)
        if keyword is not None:
            i += len(keyword)
            postfix = next((p for p in _POSTFIXES if template.startswith(p, i)), "")
            i += len(postfix)
            pieces.append(_Piece(keyword, fill=prefix in ("FM", "fm"), translate=prefix in ("TM", "tm"),
                                 ordinal=postfix if postfix != "SP" else ""))
            continue
        if i >= len(template):
            break
        char = template[i]
        if char == '"':
            i += 1
            while i < len(template) and template[i] != '"':
                if template[i] == "\\" and i + 1 < len(template):
                    i += 1
                pieces.append(_Piece(None, template[i]))
                i += 1
            i += 1
            continue
        if char == "\\" and template.startswith('"', i + 1):
            i += 1
        pieces.append(_Piece(None, template[i]))
        i += 1
    return pieces


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _part(unit: str) -> str:
    # BIGINT: PostgreSQL's date_part is float8, and the arithmetic around it must stay integral
    # whatever rewrites PostgreSQL's arithmetic later (veil.pgcatalog.pgnumeric).
    return f"CAST(date_part('{unit}', {X}) AS BIGINT)"


# Numeric patterns of a timestamp: (SQL of the value, zero-padded width).
_YEAR = f"(CASE WHEN year({X}) > 0 THEN year({X}) ELSE 1 - year({X}) END)"
_ISOYEAR = f"isoyear({X})"
_USEC = f"({_part('microseconds')} % 1000000)"
_HOUR12 = f"(CASE WHEN hour({X}) % 12 = 0 THEN 12 ELSE hour({X}) % 12 END)"
_TIMESTAMP_NUMBERS: dict[str, tuple[str, int]] = {
    "HH": (_HOUR12, 2), "HH12": (_HOUR12, 2), "HH24": (f"hour({X})", 2), "MI": (f"minute({X})", 2),
    "SS": (f"second({X})", 2), "SSSS": (f"(hour({X}) * 3600 + minute({X}) * 60 + second({X}))", 0),
    "YYYY": (_YEAR, 4), "YYY": (f"({_YEAR} % 1000)", 3), "YY": (f"({_YEAR} % 100)", 2),
    "Y": (f"({_YEAR} % 10)", 1), "IYYY": (_ISOYEAR, 4), "IYY": (f"({_ISOYEAR} % 1000)", 3),
    "IY": (f"({_ISOYEAR} % 100)", 2), "I": (f"({_ISOYEAR} % 10)", 1),
    "CC": (f"(CASE WHEN year({X}) > 0 THEN (year({X}) - 1) // 100 + 1 ELSE year({X}) // 100 - 1 END)", 2),
    "Q": (f"quarter({X})", 0), "J": (f"CAST(julian(CAST({X} AS DATE)) AS BIGINT)", 0),
    "D": (f"(dayofweek({X}) + 1)", 0), "ID": (f"isodow({X})", 0), "DDD": (f"dayofyear({X})", 3),
    "IDDD": (f"((weekofyear({X}) - 1) * 7 + isodow({X}))", 3), "DD": (f"day({X})", 2),
    "MM": (f"month({X})", 2), "WW": (f"((dayofyear({X}) - 1) // 7 + 1)", 2),
    "W": (f"((day({X}) - 1) // 7 + 1)", 0), "IW": (f"weekofyear({X})", 2),
}
_TIMESTAMP_NUMBERS["SSSSS"] = _TIMESTAMP_NUMBERS["SSSS"]
_GROUPED_YEAR = {"Y,YYY": _YEAR}
# An interval's fields (interval2tm: hours are not folded into days, years are months // 12).
_IHOUR = f"({_part('hour')})"
_IYEAR = f"({_part('year')})"
_INTERVAL_NUMBERS: dict[str, tuple[str, int]] = {
    "HH": (f"(CASE WHEN {_IHOUR} % 12 = 0 THEN 12 ELSE {_IHOUR} % 12 END)", 2),
    "HH24": (_IHOUR, 2), "MI": (f"({_part('minute')})", 2), "SS": (f"({_part('second')})", 2),
    "SSSS": (f"({_IHOUR} * 3600 + {_part('minute')} * 60 + {_part('second')})", 0),
    "YYYY": (_IYEAR, 4), "YYY": (f"({_IYEAR} % 1000)", 3), "YY": (f"({_IYEAR} % 100)", 2),
    "Y": (f"({_IYEAR} % 10)", 1), "MM": (f"({_part('month')})", 2), "DD": (f"({_part('day')})", 2),
    "DDD": (f"(({_IYEAR} * 12 + {_part('month')}) * 30 + {_part('day')})", 3),
    "CC": (f"({_IYEAR} // 100)", 2), "W": (f"(({_part('day')} - 1) // 7 + 1)", 0),
    "WW": (f"((({_IYEAR} * 12 + {_part('month')}) * 30 + {_part('day')} - 1) // 7 + 1)", 2),
}
_INTERVAL_NUMBERS["HH12"] = _INTERVAL_NUMBERS["HH"]
_INTERVAL_NUMBERS["SSSSS"] = _INTERVAL_NUMBERS["SSSS"]
_GROUPED_INTERVAL_YEAR = {"Y,YYY": _IYEAR}
# Fields PostgreSQL 15 prints one digit wider when negative (only an interval's can be).
_SIGNED_WIDTH = frozenset({"HH", "HH12", "HH24", "MI", "SS", "YYYY", "YYY", "YY", "MM", "CC"})
_FRACTIONS = {"MS": (1000, 3), "US": (1, 6), **{f"FF{n}": (10 ** (6 - n), n) for n in range(1, 7)}}
_ROMAN = "['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII']"
_NAMES = {"MONTH": (f"monthname({X})", 9), "MON": (f"monthname({X})", 3),
          "DAY": (f"dayname({X})", 9), "DY": (f"dayname({X})", 3)}
_MERIDIEM = {"AM": ("AM", "PM"), "PM": ("AM", "PM"), "A.M.": ("A.M.", "P.M."), "P.M.": ("A.M.", "P.M.")}
_ERA = {"AD": ("AD", "BC"), "BC": ("AD", "BC"), "A.D.": ("A.D.", "B.C."), "B.C.": ("A.D.", "B.C.")}
_ZONES = frozenset({"TZ", "TZH", "TZM", "OF"})


def _number(value: str, width: int, piece: _Piece, signed: bool) -> str:
    value = f"CAST({value} AS BIGINT)"
    if piece.fill or width <= 1:
        text = f"CAST({value} AS VARCHAR)"
    elif signed:
        text = f"(CASE WHEN {value} >= 0 THEN printf('%0{width}d', {value}) ELSE printf('%0{width + 1}d', {value}) END)"
    else:
        text = f"printf('%0{width}d', {value})"
    if not piece.ordinal:
        return text
    ordinal = (f"(CASE WHEN abs({value}) % 100 BETWEEN 10 AND 19 THEN 'th' WHEN abs({value}) % 10 = 1 THEN 'st' "
               f"WHEN abs({value}) % 10 = 2 THEN 'nd' WHEN abs({value}) % 10 = 3 THEN 'rd' ELSE 'th' END)")
    return f"({text} || {'upper' if piece.ordinal == 'TH' else 'lower'}({ordinal}))"


def _cased(keyword: str, text: str) -> str:
    """A name in the keyword's case: ``MONTH`` upper, ``month`` lower, ``Month`` as it is."""
    if keyword.isupper():
        return f"upper({text})"
    if keyword.islower():
        return f"lower({text})"
    return text


def _refused(keyword: str, interval: bool) -> FeatureNotSupported:
    what = "an interval" if interval else "a date or timestamp"
    return FeatureNotSupported(f'to_char pattern "{keyword}" of {what} is not supported')


def _zone_field(piece: _Piece, zoned: bool) -> str:
    """TZH, TZM and OF: the UTC offset of a timestamptz in the session's TimeZone (DuckDB's own),
    as PostgreSQL prints it (``+05``, ``30``, ``+05:30``); a timestamp's is zero. TZ (the zone's
    abbreviation, which DuckDB does not know) is refused for a timestamptz, empty for a timestamp."""
    upper = (piece.keyword or "").upper()
    if upper == "TZ":
        if zoned:
            raise FeatureNotSupported("to_char pattern TZ (a time zone abbreviation) is not supported")
        return "''"
    offset = f"CAST(round(epoch(CAST({ZONED} AS TIMESTAMP)) - epoch({ZONED})) AS BIGINT)" if zoned else "0"
    sign = f"(CASE WHEN {offset} < 0 THEN '-' ELSE '+' END)"
    hours = f"(abs({offset}) // 3600)"
    minutes = f"(abs({offset}) % 3600 // 60)"
    padded = replace(piece, fill=False)  # FM does not shorten an offset
    if upper == "TZH":
        return f"({sign} || {_number(hours, 2, padded, signed=False)})"
    if upper == "TZM":
        return _number(minutes, 2, padded, signed=False)
    return f"({sign} || printf('%02d', {hours}) || (CASE WHEN {minutes} <> 0 THEN printf(':%02d', {minutes}) ELSE '' END))"


def _render(piece: _Piece, interval: bool, zoned: bool = False) -> str:
    keyword = piece.keyword
    assert keyword is not None
    upper = keyword.upper()
    if upper in _ZONES and not interval:
        return _zone_field(piece, zoned)
    if upper in ("FX",):
        return "''"
    numbers = _INTERVAL_NUMBERS if interval else _TIMESTAMP_NUMBERS
    if upper in numbers:
        value, width = numbers[upper]
        return _number(value, width, piece, interval and upper in _SIGNED_WIDTH)
    if upper == "Y,YYY":
        year = (_GROUPED_INTERVAL_YEAR if interval else _GROUPED_YEAR)[upper]
        if piece.ordinal:
            raise FeatureNotSupported(f'to_char pattern "{keyword}" with {piece.ordinal} is not supported')
        return f"printf('%d,%03d', {year} // 1000, {year} % 1000)"
    if upper in _FRACTIONS:
        divisor, width = _FRACTIONS[upper]
        micros = f"({_part('microseconds')} % 1000000)"
        return _number(f"({micros} // {divisor})", width, _Piece(keyword, ordinal=piece.ordinal), signed=False)
    if upper in _MERIDIEM:
        before, after = _MERIDIEM[upper]
        casing = str.lower if keyword.islower() else str.upper
        hour = f"({_IHOUR} % 24)" if interval else f"hour({X})"
        return f"(CASE WHEN {hour} >= 12 THEN {_quote(casing(after))} ELSE {_quote(casing(before))} END)"
    if interval and upper == "Q":  # nothing for an interval without months
        quarter = _number(f"(({_part('month')} - 1) // 3 + 1)", 0, piece, signed=False)
        return f"(CASE WHEN {_part('month')} = 0 THEN '' ELSE {quarter} END)"
    if interval:
        raise _refused(keyword, interval)
    if upper in _NAMES:
        source, width = _NAMES[upper]
        cased = _cased(keyword, source if width == 9 else f"left({source}, 3)")
        return cased if width == 3 or piece.fill or piece.translate else f"rpad({cased}, 9, ' ')"
    if upper == "RM":
        numeral = _cased(keyword, f"{_ROMAN}[month({X})]")
        return numeral if piece.fill else f"rpad({numeral}, 4, ' ')"
    if upper in _ERA:
        before, after = _ERA[upper]
        casing = str.lower if keyword.islower() else str.upper
        return f"(CASE WHEN year({X}) > 0 THEN {_quote(casing(before))} ELSE {_quote(casing(after))} END)"
    raise _refused(keyword, interval)


@functools.lru_cache(maxsize=256)
def _compiled(template: str, interval: bool, zoned: bool = False) -> exp.Expr:
    parts: list[str] = []
    literal = ""
    for piece in _parse(template):
        if piece.keyword is None:
            literal += piece.text
            continue
        if literal:
            parts.append(_quote(literal))
            literal = ""
        parts.append(_render(piece, interval, zoned))
    if literal or not parts:
        parts.append(_quote(literal))
    # A NULL argument gives NULL (to_char is strict), an empty result an empty string.
    body = " || ".join(parts)
    return sqlglot.parse_one(f"CASE WHEN {X} IS NULL THEN NULL ELSE {body} END", read="duckdb")


def datetime_to_char(argument: exp.Expr, template: str, kind: str) -> exp.Expr:
    """The DuckDB expression printing ``argument`` (a value of PostgreSQL type ``kind``:
    timestamp, timestamptz, date or interval, already as DuckDB holds it) with ``template``."""
    interval, zoned = kind == "interval", kind == "timestamptz"
    if kind == "date" and any(p.keyword is not None and p.keyword.upper() in _ZONES for p in _parse(template)):
        # PostgreSQL prints a date as the timestamptz of its midnight in the session's TimeZone
        raise FeatureNotSupported("to_char time zone patterns of a date are not supported")
    value = argument if interval else exp.Cast(this=argument, to=exp.DataType.build("TIMESTAMP"))
    tree = _compiled(template, interval, zoned).copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name == X:
            column.replace(value.copy())
        elif column.name == ZONED:
            column.replace(argument.copy())
    return tree
