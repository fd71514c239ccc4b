"""What PostgreSQL refuses and DuckDB accepts, refused as PostgreSQL refuses it, in a statement
about to run on DuckDB (the local engine and a DuckDB source):

* a string constant cast to a number or boolean type that does not spell one
  (``CAST('abc' AS numeric)``, ``CAST('1e400' AS float8)``): PostgreSQL folds constants when
  planning, so it fails even when no row is read; raised here, when planning too;
* ``substring`` with a negative length (22011) and ``split_part`` at field 0 (22023): guarded
  to raise per row, as PostgreSQL evaluates them (a NULL argument still gives NULL);
* an aggregate's ``ORDER BY`` a constant (no effect in PostgreSQL, a binder error in DuckDB):
  dropped.
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal

from sqlglot import exp

from veil.errcodes import InvalidTextRepresentation, NumericValueOutOfRange


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
            failing: exp.Expr = exp.LT(this=length.copy(), expression=exp.Literal.number(0))
            node.set("length", _checked(length, failing, "22011", "negative substring length not allowed", *strict))
        else:
            index = node.args.get("part_index")
            if index is None or (_nonnegative_literal(index) and index.this != "0"):
                continue
            strict = [node.this, node.args["delimiter"], index]
            failing = exp.EQ(this=index.copy(), expression=exp.Literal.number(0))
            node.set("part_index", _checked(index, failing, "22023", "field position must not be zero", *strict))


_INTEGER_RANGES = {
    exp.DType.SMALLINT: ("smallint", 2**15),
    exp.DType.INT: ("integer", 2**31),
    exp.DType.BIGINT: ("bigint", 2**63),
}
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_SPECIAL = re.compile(r"\s*[+-]?(?:nan|inf|infinity)\s*", re.IGNORECASE)
# (largest finite, smallest subnormal) of each float type: PostgreSQL refuses the text beyond
_FLOAT_LIMITS = {
    exp.DType.DOUBLE: (sys.float_info.max, 5e-324),
    exp.DType.FLOAT: (3.4028234663852886e38, 1.401298464324817e-45),
}
_TRUE = ("true", "yes", "on", "1")
_BOOLEANS = (*_TRUE, "false", "no", "off", "0")
_NUMBERS = {
    exp.DType.DECIMAL: "numeric",
    exp.DType.BIGDECIMAL: "numeric",
    exp.DType.DOUBLE: "double precision",
    exp.DType.FLOAT: "real",
}


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
        if kind != exp.DType.DECIMAL and kind != exp.DType.BIGDECIMAL and _NUMBER.fullmatch(text) is not None:
            limit = _FLOAT_LIMITS[kind]
            value = abs(float(text))
            if value > limit[0] or (value != 0.0 and value < limit[1]) or (value == 0.0 and Decimal(text.strip()) != 0):
                return NumericValueOutOfRange(f'"{text}" is out of range for type {_NUMBERS[kind]}')
        return None
    if kind == exp.DType.BOOLEAN:
        word = text.strip().lower()
        if not word or not any(b.startswith(word) for b in _BOOLEANS) or word in ("o",):
            return InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')
    return None


def check_constant_casts(tree: exp.Expr) -> None:
    """Raise PostgreSQL's error for a string constant cast to a number or boolean type it does
    not spell (``CAST('abc' AS numeric)``): PostgreSQL raises it when planning, whether or not a
    row is read; DuckDB only for a row it reads. A boolean constant PostgreSQL spells and DuckDB
    does not (``'off'``, ``'ye'``) becomes TRUE or FALSE."""
    for cast in list(tree.find_all(exp.Cast)):
        if isinstance(cast.this, exp.Literal) and cast.this.is_string and isinstance(cast.to, exp.DataType):
            error = _constant_error(cast.this.this, cast.to)
            if error is not None:
                raise error
            if cast.to.this == exp.DType.BOOLEAN:
                word = cast.this.this.strip().lower()
                cast.replace(exp.true() if any(t.startswith(word) for t in _TRUE) else exp.false())


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
