"""Calls DuckDB computes differently from PostgreSQL, rewritten to PostgreSQL's result or
refused (0A000) before a statement runs on DuckDB (the local engine and a DuckDB source):

* ``sha384``/``sha512``: DuckDB has only SHA-256 (sqlglot writes every SHA-2 digest as
  ``sha256``): refused.
* ``round(float8)``/``round(float4)``: PostgreSQL's ``rint`` rounds half to even, DuckDB's
  ``round`` half away from zero: ``round_even(x, 0)``. ``round(numeric)`` stays as it is.
* ``octet_length``/``bit_length``: DuckDB measures octets only of a BLOB and bits only of a
  VARCHAR: text by ``strlen`` (UTF-8 octets), bytea by ``octet_length``, bits as 8 × octets.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from veil.errcodes import FeatureNotSupported, InvalidTextRepresentation, NumericValueOutOfRange
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


def needs_exact_call(tree: exp.Expr) -> bool:
    """Whether ``tree`` has a call :func:`exact_call` may rewrite (it then needs its types)."""
    return any(
        _is_length(n) or isinstance(n, exp.Round) for n in tree.find_all(exp.Round, exp.BitLength, exp.Anonymous)
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
    return None


def refuse_inexact(tree: exp.Expr) -> None:
    """Raise 0A000 for a call in ``tree`` DuckDB cannot compute as PostgreSQL does, whatever the
    types of its arguments."""
    for node in tree.find_all(exp.SHA2Digest, exp.SHA2):
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


def _checked(value: exp.Expr, failing: exp.Expr, sqlstate: str, message: str, *strict: exp.Expr) -> exp.Expr:
    """``value``, raising PostgreSQL's error where ``failing`` holds and no argument of the
    (strict) call is NULL: DuckDB answers there (an empty string) where PostgreSQL refuses."""
    present = [exp.Not(this=exp.Is(this=argument.copy(), expression=exp.Null())) for argument in strict]
    condition = exp.and_(failing, *present)
    error = exp.Anonymous(this="error", expressions=[exp.Literal.string(f"[{sqlstate}] {message}")])
    return exp.Case(ifs=[exp.If(this=condition, true=error)], default=value.copy())


def _nonnegative_literal(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit()


def guard_domains(tree: exp.Expr) -> None:
    """Calls whose arguments PostgreSQL refuses and DuckDB accepts, guarded in place to raise
    PostgreSQL's error at run time (per row, as PostgreSQL evaluates them): ``substring`` with a
    negative length (22011), ``split_part`` at field 0 (22023). Also drops the constant terms of
    an aggregate's ORDER BY (:func:`_constant_orderings`)."""
    _constant_orderings(tree)
    for node in list(tree.find_all(exp.Substring, exp.SplitPart)):
        if isinstance(node, exp.Substring):
            length = node.args.get("length")
            if length is None or _nonnegative_literal(length):
                continue
            start = node.args.get("start")
            strict = [node.this, *([start] if start is not None else []), length]
            failing = exp.LT(this=length.copy(), expression=exp.Literal.number(0))
            node.set("length", _checked(length, failing, "22011", "negative substring length not allowed", *strict))
        else:
            index = node.args.get("part_index")
            if index is None or (_nonnegative_literal(index) and index.this != "0"):
                continue
            strict = [node.this, node.args["delimiter"], index]
            failing = exp.EQ(this=index.copy(), expression=exp.Literal.number(0))
            node.set("part_index", _checked(index, failing, "22023", "field position must not be zero", *strict))


_INTEGER_RANGES = {
    exp.DType.SMALLINT: ("smallint", 2**15), exp.DType.INT: ("integer", 2**31), exp.DType.BIGINT: ("bigint", 2**63),
}
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_SPECIAL = re.compile(r"\s*[+-]?(?:nan|inf|infinity)\s*", re.IGNORECASE)
_BOOLEANS = ("true", "false", "yes", "no", "on", "off", "1", "0")
_NUMBERS = {exp.DType.DECIMAL: "numeric", exp.DType.BIGDECIMAL: "numeric", exp.DType.DOUBLE: "double precision",
            exp.DType.FLOAT: "real"}


def _constant_error(text: str, target: exp.DataType) -> Exception | None:
    """PostgreSQL's error casting the constant ``text`` to ``target`` (it folds constants when
    planning, so a statement that reads no row fails too), for the number and boolean types."""
    kind = target.this
    if kind in _INTEGER_RANGES:
        name, bound = _INTEGER_RANGES[kind]
        if re.fullmatch(r"\s*[+-]?\d+\s*", text) is None:
            return InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
        if not -bound <= int(text) < bound:
            return NumericValueOutOfRange(f'value "{text}" is out of range for type {name}')
        return None
    if kind in _NUMBERS:
        if _NUMBER.fullmatch(text) is None and _SPECIAL.fullmatch(text) is None:
            return InvalidTextRepresentation(f'invalid input syntax for type {_NUMBERS[kind]}: "{text}"')
        return None
    if kind == exp.DType.BOOLEAN:
        word = text.strip().lower()
        if not word or not any(b.startswith(word) for b in _BOOLEANS) or word in ("o",):
            return InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')
    return None


def check_constant_casts(tree: exp.Expr) -> None:
    """Raise PostgreSQL's error for a string constant cast to a number or boolean type it does
    not spell (``CAST('abc' AS numeric)``): PostgreSQL raises it when planning, whether or not a
    row is read; DuckDB only for a row it reads."""
    for cast in tree.find_all(exp.Cast):
        if isinstance(cast.this, exp.Literal) and cast.this.is_string and isinstance(cast.to, exp.DataType):
            error = _constant_error(cast.this.this, cast.to)
            if error is not None:
                raise error


def _constant_orderings(tree: exp.Expr) -> None:
    """``string_agg(x, ',' ORDER BY 'a')``: PostgreSQL sorts by the constant (no effect), DuckDB
    refuses a non-integer literal there. The constant terms are dropped, and an ORDER BY left
    with none."""
    for order in list(tree.find_all(exp.Order)):
        if not isinstance(order.parent, exp.Func) or order.this is None:
            continue
        terms = [t for t in order.expressions if not isinstance(t.this, exp.Literal | exp.Null)]
        if len(terms) == len(order.expressions):
            continue
        if terms:
            order.set("expressions", terms)
        else:
            order.replace(order.this)
