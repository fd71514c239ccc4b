"""Calls DuckDB computes differently from PostgreSQL, rewritten to PostgreSQL's result or
refused (0A000) before a statement runs on DuckDB (the local engine and a DuckDB source):

* ``sha384``/``sha512``: DuckDB has only SHA-256 (sqlglot writes every SHA-2 digest as
  ``sha256``): refused.
* ``round(float8)``/``round(float4)``: PostgreSQL's ``rint`` rounds half to even, DuckDB's
  ``round`` half away from zero: ``round_even(x, 0)``. ``round(numeric)`` stays as it is.
* ``octet_length``/``bit_length``: DuckDB measures octets only of a BLOB and bits only of a
  VARCHAR: text by ``strlen`` (UTF-8 octets), bytea by ``octet_length``, bits as 8 × octets.
* ``sqrt``, ``ln``, ``log``, ``log10``, ``exp`` and ``power`` (``^``) of numeric: PostgreSQL
  computes them in arbitrary precision, at a scale chosen per value; DuckDB only in DOUBLE
  (other digits, another type). A row that needs one fails: with PostgreSQL's error where the
  argument is outside the function's domain (``sqrt(-1.0)``: 2201F), else with 0A000 (the
  message says to cast the argument to float8); a NULL argument is NULL, and the column is
  described as numeric.
* ``timestamptz::time``: DuckDB has no such cast; through ``timestamp`` (the wall-clock time in
  the session's TimeZone, which DuckDB computes in) it is PostgreSQL's.
* ``date_trunc`` of a ``timestamptz`` to an hour or less keeps its UTC offset in PostgreSQL
  (``2020-11-01 01:30-04`` in New York truncates to ``01:00-04``), where DuckDB looks the
  truncated wall-clock time up again (``01:00-05``, the other one): the wall-clock remainder
  is subtracted instead. ``date_trunc(unit, x, zone)``, whose zone sqlglot drops for DuckDB,
  truncates the wall-clock time in ``zone``.
* A zone named by a string (``AT TIME ZONE``, ``timezone()``, ``date_trunc``'s third argument)
  is read as PostgreSQL reads it (:mod:`veil.timezones`): ``'UTC+3'`` is three hours *behind*
  UTC (ICU would read it ahead), ``'+05:30'`` five and a half behind.
* ``to_char``: PostgreSQL's template language (:mod:`.tochar`, :mod:`.tochar_numeric`), never
  sqlglot's ``strftime`` reading of it; what Veil cannot print as PostgreSQL does is refused
  (the zone patterns among it). A ``timestamptz`` prints as its wall-clock time in the session's
  TimeZone, which DuckDB computes in.
* ``date - date``: PostgreSQL's days are int4, DuckDB's BIGINT.
* ``substring``/``substr`` from a start below 1: PostgreSQL counts the characters before the
  string towards the length (``substring('abc' FROM -1 FOR 3)`` is ``a``), DuckDB counts a
  negative start from the end; a negative length is 22011 in PostgreSQL.
* a boolean in ``concat`` or ``concat_ws`` is ``t``/``f`` (its output form), DuckDB's
  ``true``/``false`` (``text || boolean`` casts: ``true`` in both).

EXTRACT/date_part and encode/decode are :mod:`.pgtemporal`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp, parse_one

from veil import timezones
from veil.errcodes import FeatureNotSupported, InvalidParameterValue, SubstringError
from veil.pgcatalog.domains import CONDITIONAL, checked, integer_constant
from veil.pgcatalog.parse import TEMPLATE_META
from veil.pgcatalog.tochar import datetime_to_char
from veil.pgcatalog.tochar_numeric import numeric_to_char
from veil.pgtypes import ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]

_FLOATS = frozenset({"float8", "float4"})
_TEXTS = frozenset({"text", "varchar", "unknown", "name"})
_NUMBERS = frozenset({"int2", "int4", "int8", "numeric"})
_TRANSCENDENTAL: dict[type[exp.Expr], str] = {
    exp.Sqrt: "sqrt", exp.Ln: "ln", exp.Log: "log", exp.Exp: "exp", exp.Pow: "power",
}
_SUBHOUR = frozenset({"HOUR", "MINUTE", "SECOND", "MILLISECOND", "MILLISECONDS", "MICROSECOND", "MICROSECONDS"})


def _type_name(type_of: TypeOf, node: exp.Expr) -> str | None:
    column_type = type_of(node)
    return column_type.type.name if column_type is not None else None


def _is_length(node: exp.Expr) -> bool:
    return isinstance(node, exp.BitLength) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "octet_length" and len(node.expressions) == 1
    )


def _length(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    argument = node.this if isinstance(node, exp.BitLength) else node.expressions[0]
    kind = _type_name(type_of, argument)
    if kind == "bytea":
        octets: exp.Expr = exp.Anonymous(this="octet_length", expressions=[argument])
    elif kind in _TEXTS:
        text = exp.Cast(this=argument, to=exp.DataType.build("VARCHAR"))
        octets = exp.Anonymous(this="strlen", expressions=[text])
    else:
        return None
    if isinstance(node, exp.BitLength):
        octets = exp.Mul(this=octets, expression=exp.Literal.number(8))
    return exp.Cast(this=octets, to=exp.DataType.build("INT"))


def _is_time_cast(node: exp.Expr) -> bool:
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.TIME)


def _is_zoned(node: exp.Expr) -> bool:
    return isinstance(node, exp.AtTimeZone) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2
    )


_DATETIMES = frozenset({"timestamp", "timestamptz", "date", "interval"})
_CHARTED_NUMBERS = frozenset({"numeric", "int2", "int4", "int8", "float4", "float8"})


def _to_char(node: exp.TimeToStr, type_of: TypeOf) -> exp.Expr:
    """``to_char(value, template)`` printed as PostgreSQL prints it, or refused (0A000)."""
    template = node.meta.get(TEMPLATE_META)
    if template is None:
        if isinstance(node.args.get("format"), exp.Null):
            return exp.Cast(this=exp.Null(), to=exp.DataType.build("VARCHAR"))
        raise FeatureNotSupported("to_char with a template that is not a constant is not supported")
    kind = _type_name(type_of, node.this)
    if kind in _DATETIMES:  # a timestamptz: its wall-clock time in the session's TimeZone, DuckDB's own
        return datetime_to_char(node.this, template, kind)
    if kind in _CHARTED_NUMBERS:
        return numeric_to_char(node.this, template, kind)
    raise FeatureNotSupported(f"to_char of {kind or 'this argument'} is not supported here")


def _positive(node: exp.Expr | None, allow_zero: bool = False) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit() and (allow_zero or int(node.this) > 0)


def _substring(node: exp.Substring) -> exp.Expr | None:
    """PostgreSQL's substring from any start, for any length."""
    start, length = node.args.get("start"), node.args.get("length")
    if start is None or (_positive(start) and (length is None or _positive(length, allow_zero=True))):
        return None
    wide = exp.Cast(this=start.copy(), to=exp.DataType.build("BIGINT"))  # start + length may overflow int2
    first = exp.Greatest(this=wide, expressions=[exp.Literal.number(1)])
    if length is None:
        return exp.Substring(this=node.this.copy(), start=first)
    end = exp.Add(this=wide.copy(), expression=length.copy())  # one past the last character
    count = exp.Greatest(this=exp.Sub(this=end, expression=first.copy()), expressions=[exp.Literal.number(0)])
    result = exp.Substring(this=node.this.copy(), start=first, length=count)
    if _positive(length, allow_zero=True):
        return result
    constant = integer_constant(length)
    folded = isinstance(node.this, exp.Literal) and node.this.is_string and node.find_ancestor(*CONDITIONAL) is None
    if folded and constant is not None and constant < 0:  # PostgreSQL folds it when planning
        raise SubstringError("negative substring length not allowed")
    negative = exp.LT(this=length.copy(), expression=exp.Literal.number(0))
    return checked(result, negative, "22011", "negative substring length not allowed", node.this, start, length)


def _output_form(node: exp.Expr, type_of: TypeOf) -> exp.Expr:
    """A boolean operand as PostgreSQL's output function writes it (``t``/``f``)."""
    if _type_name(type_of, node) != "bool":
        return node.copy()
    return exp.Case(ifs=[exp.If(this=node.copy(), true=exp.Literal.string("t")),
                         exp.If(this=exp.Not(this=node.copy()), true=exp.Literal.string("f"))])


def _concatenation(node: exp.Concat | exp.ConcatWs, type_of: TypeOf) -> exp.Expr | None:
    operands = list(node.expressions)
    if not any(_type_name(type_of, o) == "bool" for o in operands):
        return None
    rebuilt = node.copy()
    rebuilt.set("expressions", [_output_form(o, type_of) for o in operands])
    return rebuilt


def needs_exact_call(tree: exp.Expr) -> bool:
    """Whether ``tree`` has a call :func:`exact_call` may rewrite (it then needs its types)."""
    kinds = (exp.Round, exp.BitLength, exp.Anonymous, exp.Cast, exp.TimestampTrunc, exp.AtTimeZone, exp.TimeToStr)
    return any(
        _is_length(n) or _is_time_cast(n) or _is_zoned(n)
        or isinstance(n, (exp.Round, exp.TimestampTrunc, exp.TimeToStr, exp.Substring,
                          exp.Concat, exp.ConcatWs, *_TRANSCENDENTAL))
        for n in tree.find_all(*kinds, exp.Substring, exp.Concat, exp.ConcatWs, *_TRANSCENDENTAL)
    )


def _zone(zone: exp.Expr) -> exp.Expr:
    """A zone argument as DuckDB's ICU names what PostgreSQL reads in it (a copy); one that is
    not a string constant, or no zone Veil knows, as it is (DuckDB reports those)."""
    if not (isinstance(zone, exp.Literal) and zone.is_string):
        return zone.copy()
    try:
        return exp.Literal.string(timezones.zone(timezones.normalize(zone.this)).duckdb)
    except InvalidParameterValue:
        return zone.copy()


def _zoned(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    """AT TIME ZONE and timezone() as PostgreSQL computes them (see the module docstring)."""
    if isinstance(node, exp.AtTimeZone):
        zone = _zone(node.args["zone"])
        return None if zone == node.args["zone"] else exp.AtTimeZone(this=node.this, zone=zone)
    zone, value = _zone(node.expressions[0]), node.expressions[1]
    return None if zone == node.expressions[0] else exp.Anonymous(this=node.name, expressions=[zone, value])


def _truncated(node: exp.TimestampTrunc) -> exp.Expr | None:
    """A ``date_trunc`` of a ``timestamptz`` as PostgreSQL computes it (None: DuckDB's is)."""
    value, unit, zone = node.this, node.text("unit").upper(), node.args.get("zone")
    if zone is not None:  # the wall-clock time in ``zone``, truncated, read back in ``zone``
        local = exp.AtTimeZone(this=value, zone=_zone(zone))
        truncated = exp.TimestampTrunc(this=local, unit=exp.Var(this=unit))
        return exp.AtTimeZone(this=truncated, zone=_zone(zone))
    if unit not in _SUBHOUR:
        return None
    wall_clock = exp.Cast(this=value.copy(), to=exp.DataType.build("TIMESTAMP"))
    remainder = exp.Sub(this=wall_clock, expression=exp.TimestampTrunc(this=wall_clock.copy(), unit=exp.Var(this=unit)))
    return exp.Sub(this=value, expression=exp.Paren(this=remainder))


def exact_call(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    """The DuckDB form of ``node`` that computes PostgreSQL's result (``None``: ``node`` is
    right as it is). Raises 0A000 for a call DuckDB cannot compute at all."""
    if isinstance(node, exp.TimeToStr):
        return _to_char(node, type_of)
    if isinstance(node, exp.SHA2Digest | exp.SHA2):
        length = node.args.get("length")
        if length is not None and length.name not in ("", "256"):
            raise FeatureNotSupported(f"sha{length.name} is not supported")
        return None
    if isinstance(node, exp.Round) and node.args.get("decimals") is None:
        if _type_name(type_of, node.this) in _FLOATS:
            return exp.Anonymous(this="round_even", expressions=[node.this, exp.Literal.number(0)])
        return None
    if _is_length(node):
        return _length(node, type_of)
    if isinstance(node, tuple(_TRANSCENDENTAL)):
        return _refused_numeric(node, type_of)
    if isinstance(node, exp.TimestampTrunc) and _type_name(type_of, node.this) == "timestamptz":
        return _truncated(node)
    if _is_zoned(node):
        return _zoned(node, type_of)
    if _is_time_cast(node) and _type_name(type_of, node.this) == "timestamptz":
        assert isinstance(node, exp.Cast)
        wall_clock = exp.Cast(this=node.this, to=exp.DataType.build("TIMESTAMP"))
        return node.__class__(this=wall_clock, to=node.to)
    if isinstance(node, exp.Substring):
        return _substring(node)
    if isinstance(node, exp.Concat | exp.ConcatWs):
        return _concatenation(node, type_of)
    if isinstance(node, exp.Sub) and _type_name(type_of, node.this) == _type_name(type_of, node.expression) == "date":
        return exp.Cast(this=node.copy(), to=exp.DataType.build("INT"))  # days: int4, DuckDB's is BIGINT
    return None


_ZERO_LOG, _NEGATIVE_LOG = "cannot take logarithm of zero", "cannot take logarithm of a negative number"


def _domain(node: exp.Expr, arguments: list[exp.Expr]) -> list[tuple[str, str, str]]:
    """PostgreSQL's errors for arguments outside the function's domain, in the order it checks
    them: (DuckDB condition, SQLSTATE, message)."""
    sql = [a.sql(dialect="duckdb") for a in arguments]
    if isinstance(node, exp.Sqrt):
        return [(f"({sql[0]}) < 0", "2201F", "cannot take square root of a negative number")]
    if isinstance(node, exp.Pow):
        x, y = sql
        return [
            (f"({x}) = 0 AND ({y}) < 0", "2201F", "zero raised to a negative power is undefined"),
            (f"({x}) < 0 AND ({y}) <> trunc({y})", "2201F", "a negative number raised to a non-integer power yields a complex result"),
        ]
    if isinstance(node, exp.Ln | exp.Log):
        checks = [check for a in sql for check in ((f"({a}) = 0", "2201E", _ZERO_LOG), (f"({a}) < 0", "2201E", _NEGATIVE_LOG))]
        return checks + ([(f"({sql[0]}) = 1", "22012", "division by zero")] if len(sql) == 2 else [])
    return []


def _refused_numeric(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    """``node`` failing on each row that needs it when PostgreSQL would call its numeric
    overload (an argument is numeric, none is a float): see the module doc."""
    arguments = [node.this, *([node.expression] if isinstance(node.expression, exp.Expr) else [])]
    kinds = {_type_name(type_of, a) for a in arguments}
    if "numeric" not in kinds or not kinds <= _NUMBERS:
        return None
    name = _TRANSCENDENTAL[type(node)]
    branches = [f"WHEN {condition} THEN error('[{state}] {message}')" for condition, state, message in _domain(node, arguments)]
    present = " AND ".join(f"({a.sql(dialect='duckdb')}) IS NOT NULL" for a in arguments)
    refusal = (
        f"error('[0A000] {name}(numeric) cannot be computed as PostgreSQL does (in arbitrary precision) "
        "on this source: cast the argument to double precision')"
    )
    case = f"CASE {' '.join(branches)} WHEN {present} THEN {refusal} END"
    return exp.Cast(this=parse_one(case, read="duckdb"), to=exp.DataType.build("DECIMAL(38, 0)", dialect="duckdb"))


def refuse_inexact(tree: exp.Expr) -> None:
    """Raise 0A000 for a call in ``tree`` DuckDB cannot compute as PostgreSQL does, whatever the
    types of its arguments."""
    for node in tree.find_all(exp.SHA2Digest, exp.SHA2, exp.TimeToStr):
        exact_call(node, lambda _: None)


def exact_calls(tree: exp.Expr, type_of: TypeOf) -> None:
    """Every call in ``tree`` rewritten by :func:`exact_call`, in place: types are read from
    the tree as it was, inner calls rewritten before the calls around them."""
    nodes = list(tree.walk())
    known = {id(node): type_of(node) for node in nodes}
    for node in reversed(nodes):
        replacement = exact_call(node, lambda n: known.get(id(n)))
        if replacement is not None:
            known[id(replacement)] = known.get(id(node))
            node.replace(replacement)

