"""What PostgreSQL refuses and DuckDB accepts, refused as PostgreSQL refuses it, in a statement
about to run on DuckDB (the local engine and a DuckDB source):

* a string constant cast to a number or boolean type that does not spell one
  (``CAST('abc' AS numeric)``, ``CAST('1e400' AS float8)``), integer arithmetic on constants
  that overflows or divides by zero, ``make_date`` of constants out of range: PostgreSQL folds constants when planning, so it fails even
  when no row is read; raised here, when planning too;
* ``split_part`` at field 0 (22023): guarded to raise per row, as PostgreSQL evaluates it (a
  NULL argument still gives NULL); ``substring`` is rewritten in :mod:`.exactcalls`;
* an aggregate's ``ORDER BY`` a constant (no effect in PostgreSQL, a binder error in DuckDB):
  dropped.
"""

from __future__ import annotations

import datetime
import re
import sys
from decimal import Decimal

from sqlglot import exp

from veil.errcodes import (
    DatetimeFieldOverflow,
    DivisionByZero,
    InvalidParameterValue,
    InvalidTextRepresentation,
    NumericValueOutOfRange,
)


def checked(value: exp.Expr, failing: exp.Expr, sqlstate: str, message: str, *strict: exp.Expr) -> exp.Expr:
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
    PostgreSQL's error at run time (per row, as PostgreSQL evaluates them): ``split_part`` at
    field 0 (22023). Also drops the constant terms of
    an aggregate's ORDER BY (:func:`_constant_orderings`)."""
    _constant_orderings(tree)
    for node in list(tree.find_all(exp.SplitPart)):
        index = node.args.get("part_index")
        if index is None or (_nonnegative_literal(index) and index.this != "0"):
            continue
        strict = [node.this, node.args["delimiter"], index]
        failing = exp.EQ(this=index.copy(), expression=exp.Literal.number(0))
        node.set("part_index", checked(index, failing, "22023", "field position must not be zero", *strict))


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
    _check_constant_integers(tree)


_INTEGER_TYPES = (("integer", 2**31), ("bigint", 2**63))
_INTEGER_OPERATORS = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.Paren)
# where PostgreSQL may drop an operand before folding it (a CASE branch never taken)
CONDITIONAL = (exp.Case, exp.If, exp.Coalesce)


def _integer(node: exp.Expr) -> tuple[int, int] | None:
    """The value and type (index in :data:`_INTEGER_TYPES`) of an integer constant expression
    as PostgreSQL folds it, None when it is not one; raises PostgreSQL's error for an operation
    that overflows or divides by zero."""
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        value = int(node.this)
        kind = next((i for i, (_, bound) in enumerate(_INTEGER_TYPES) if value < bound), None)
        return None if kind is None else (value, kind)
    if isinstance(node, exp.Paren):
        return _integer(node.this)
    if isinstance(node, exp.Neg):
        inner = _integer(node.this)
        return None if inner is None else _in_range(-inner[0], inner[1])
    if not isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.IntDiv | exp.Mod):
        return None
    left, right = _integer(node.this), _integer(node.expression)
    if left is None or right is None:
        return None
    kind = max(left[1], right[1])
    a, b = left[0], right[0]
    if isinstance(node, exp.Div | exp.IntDiv | exp.Mod) and b == 0:
        raise DivisionByZero("division by zero")
    if isinstance(node, exp.Add):
        value = a + b
    elif isinstance(node, exp.Sub):
        value = a - b
    elif isinstance(node, exp.Mul):
        value = a * b
    elif isinstance(node, exp.Div | exp.IntDiv):
        value = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # truncated toward zero
    else:
        value = abs(a) % abs(b) * (1 if a >= 0 else -1)
    return _in_range(value, kind)


def _in_range(value: int, kind: int) -> tuple[int, int]:
    name, bound = _INTEGER_TYPES[kind]
    if not -bound <= value < bound:
        raise NumericValueOutOfRange(f"{name} out of range")
    return value, kind


def _check_constant_integers(tree: exp.Expr) -> None:
    """Integer arithmetic on constants (``1 + 2147483647``) overflowing or dividing by zero:
    PostgreSQL folds it when planning and fails whether or not a row is read."""
    for node in tree.find_all(exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg):
        parent = node.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        if isinstance(parent, _INTEGER_OPERATORS):
            continue  # checked with the expression around it
        if node.find_ancestor(*CONDITIONAL) is None:
            _integer(node)
    for call in tree.find_all(exp.Anonymous):
        if call.name.lower() == "make_date" and call.find_ancestor(*CONDITIONAL) is None:
            _check_make_date(call)
    for node in tree.find_all(exp.SplitPart):
        if node.find_ancestor(*CONDITIONAL) is None and _constant_text(node.this):
            _check_constant_call(node)


def _constant_text(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def _check_constant_call(node: exp.SplitPart) -> None:
    """``split_part`` of constants at field 0 (folded when planning). A ``substring`` of
    constants is checked where it is rewritten (:mod:`veil.pgcatalog.exactcalls`)."""
    index = node.args.get("part_index")
    position = _integer(index) if index is not None else None
    if position is not None and position[0] == 0 and _constant_text(node.args["delimiter"]):
        raise InvalidParameterValue("field position must not be zero")


def integer_constant(node: exp.Expr) -> int | None:
    """The value of an integer constant expression as PostgreSQL folds it (None when ``node``
    is not one); raises PostgreSQL's error for a step that overflows or divides by zero."""
    folded = _integer(node)
    return None if folded is None else folded[0]


def _check_make_date(call: exp.Anonymous) -> None:
    """``make_date`` of constants (an immutable function PostgreSQL folds when planning)."""
    values = [_integer(argument) for argument in call.expressions]
    if len(values) != 3 or any(v is None for v in values):
        return
    year, month, day = (v[0] for v in values if v is not None)
    if year <= 0:
        return  # a year BC (negative) or year zero: PostgreSQL's own rules
    try:
        datetime.date(year, month, day)
    except ValueError:
        raise DatetimeFieldOverflow(f"date field value out of range: {year}-{month:02d}-{day:02d}") from None


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
