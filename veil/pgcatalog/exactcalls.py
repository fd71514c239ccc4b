"""Calls DuckDB computes differently from PostgreSQL, rewritten to PostgreSQL's result or
refused (0A000) before a statement runs on DuckDB (the local engine and a DuckDB source):

* ``sha384``/``sha512``: DuckDB has only SHA-256 (sqlglot writes every SHA-2 digest as
  ``sha256``): refused.
* ``round(float8)``/``round(float4)``: PostgreSQL's ``rint`` rounds half to even, DuckDB's
  ``round`` half away from zero: ``round_even(x, 0)``. ``round(numeric)`` stays as it is.
* ``octet_length``/``bit_length``: DuckDB measures octets only of a BLOB and bits only of a
  VARCHAR: text by ``strlen`` (UTF-8 octets), bytea by ``octet_length``, bits as 8 × octets.
* ``EXTRACT(field FROM x)`` (sqlglot reads ``date_part('field', x)`` as EXTRACT too): DuckDB's
  second is whole and its results are integers; PostgreSQL's second and millisecond carry the
  fraction and EXTRACT is numeric (``15.500000``: scale 6 for second and epoch, 3 for
  millisecond, else 0), computed from DuckDB's microseconds and epoch.
* ``date - date``: PostgreSQL's days are int4, DuckDB's BIGINT.
* ``substring``/``substr`` from a start below 1: PostgreSQL counts the characters before the
  string towards the length (``substring('abc' FROM -1 FOR 3)`` is ``a``), DuckDB counts a
  negative start from the end; a negative length is 22011 in PostgreSQL.
* a boolean in ``concat`` or ``concat_ws`` is ``t``/``f`` (its output form), DuckDB's
  ``true``/``false`` (``text || boolean`` casts: ``true`` in both).
* ``encode(bytea, format)``/``decode(text, format)``: sqlglot reads them as a character-set
  conversion and writes DuckDB's one-argument ``encode``/``decode`` (text to BLOB and back),
  so ``encode(b, 'hex')`` failed with 42883 and ``decode(s, 'hex')`` returned its input text.
  The hex format is ``lower(hex(b))``/``unhex(s)``, base64 ``to_base64``/``from_base64``
  (without PostgreSQL's line breaks every 76 characters); any other format is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.errcodes import FeatureNotSupported
from veil.pgtypes import ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]

_FLOATS = frozenset({"float8", "float4"})
_TEXTS = frozenset({"text", "varchar", "unknown", "name"})


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


# fields whose value has a fraction, by DuckDB's microseconds part: (divisor, EXTRACT's scale)
_FRACTIONAL = {"second": (1_000_000, 6), "seconds": (1_000_000, 6), "millisecond": (1_000, 3),
               "milliseconds": (1_000, 3)}
_WHOLE = frozenset({"year", "month", "day", "hour", "minute", "microsecond", "microseconds", "dow", "doy",
                    "quarter", "week", "isodow", "isoyear", "decade", "century", "millennium"})


def _extract(node: exp.Extract, type_of: TypeOf) -> exp.Expr | None:
    """PostgreSQL's EXTRACT of a field (numeric) in DuckDB; None for a field left to DuckDB."""
    field, argument = node.this.name.lower(), node.expression
    kind = _type_name(type_of, argument)

    def part(name: str) -> exp.Expr:
        return exp.Anonymous(this="date_part", expressions=[exp.Literal.string(name), argument.copy()])

    if field in _FRACTIONAL:
        divisor, scale = _FRACTIONAL[field]
        value: exp.Expr = exp.Div(this=exp.Cast(this=part("microseconds"), to=exp.DataType.build("DOUBLE")),
                                  expression=exp.Literal.number(divisor))
    elif field == "epoch":
        value, scale = exp.Cast(this=part("epoch"), to=exp.DataType.build("DOUBLE")), 0 if kind == "date" else 6
    elif field in _WHOLE:
        value, scale = part(field), 0
    else:
        return None
    return exp.Cast(this=value, to=exp.DataType.build(f"DECIMAL(38, {scale})", dialect="duckdb"))


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
    negative = exp.LT(this=length.copy(), expression=exp.Literal.number(0))
    error = exp.Anonymous(this="error", expressions=[exp.Literal.string("[22011] negative substring length not allowed")])
    return exp.Case(ifs=[exp.If(this=negative, true=exp.Cast(this=error, to=exp.DataType.build("VARCHAR")))],
                    default=result)


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
    return any(
        _is_length(n) or isinstance(n, exp.Round | exp.Extract | exp.Substring | exp.Concat | exp.ConcatWs)
        for n in tree.find_all(exp.Round, exp.BitLength, exp.Anonymous, exp.Extract, exp.Substring, exp.Concat,
                               exp.ConcatWs)
    )


def exact_call(node: exp.Expr, type_of: TypeOf) -> exp.Expr | None:
    """The DuckDB form of ``node`` that computes PostgreSQL's result (``None``: ``node`` is
    right as it is). Raises 0A000 for a call DuckDB cannot compute."""
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
    if isinstance(node, exp.Extract):
        return _extract(node, type_of)
    if isinstance(node, exp.Substring):
        return _substring(node)
    if isinstance(node, exp.Concat | exp.ConcatWs):
        return _concatenation(node, type_of)
    if isinstance(node, exp.Sub) and _type_name(type_of, node.this) == _type_name(type_of, node.expression) == "date":
        return exp.Cast(this=node.copy(), to=exp.DataType.build("INT"))  # days: int4, DuckDB's is BIGINT
    return None


_ENCODINGS: dict[tuple[type[exp.Expr], str], type[exp.Func]] = {
    (exp.Encode, "hex"): exp.LowerHex,
    (exp.Encode, "base64"): exp.ToBase64,
    (exp.Decode, "hex"): exp.Unhex,
    (exp.Decode, "base64"): exp.FromBase64,
}


def _binary_encoding(node: exp.Encode | exp.Decode) -> exp.Expr:
    """PostgreSQL's ``encode(bytea, format)``/``decode(text, format)`` in DuckDB."""
    form = node.args.get("charset")
    name = form.name.lower() if isinstance(form, exp.Literal) and form.is_string else None
    function = _ENCODINGS.get((type(node), name or ""))
    if function is None:
        call = "encode" if isinstance(node, exp.Encode) else "decode"
        raise FeatureNotSupported(f"{call} with the {name or 'given'} format is not supported on this source")
    if function is not exp.Unhex:
        return function(this=node.this)
    # DuckDB's unhex reads any text; PostgreSQL accepts only pairs of hex digits (and spaces)
    digits = exp.func("regexp_replace", node.this.copy(), exp.Literal.string(r"\s"), exp.Literal.string(""),
                      exp.Literal.string("g"), dialect="duckdb")
    valid = exp.func("regexp_full_match", node.this.copy(), exp.Literal.string(r"(\s*[0-9A-Fa-f]{2})*\s*"),
                     dialect="duckdb")
    invalid = exp.Anonymous(this="error", expressions=[exp.Literal.string("[22023] invalid hexadecimal data")])
    missing = exp.Is(this=node.this.copy(), expression=exp.Null())
    blob = exp.DataType.build("BLOB")
    return exp.Case(
        ifs=[exp.If(this=missing, true=exp.Cast(this=exp.Null(), to=blob)), exp.If(this=valid, true=exp.Unhex(this=digits))],
        default=exp.Cast(this=invalid, to=blob.copy()),
    )


def refuse_inexact(tree: exp.Expr) -> None:
    """Raise 0A000 for a call in ``tree`` DuckDB cannot compute as PostgreSQL does, whatever the
    types of its arguments; rewrite in place the calls whose DuckDB form does not depend on them
    (``encode``/``decode`` of bytea)."""
    for node in tree.find_all(exp.SHA2Digest, exp.SHA2):
        exact_call(node, lambda _: None)
    for coding in reversed(list(tree.find_all(exp.Encode, exp.Decode))):  # inner calls first: outer ones copy them
        assert isinstance(coding, exp.Encode | exp.Decode)
        coding.replace(_binary_encoding(coding))


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
