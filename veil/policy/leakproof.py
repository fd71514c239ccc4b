"""Which statements may skip the per-column row-filter guards.

A source planner may evaluate a user's WHERE/JOIN predicate on rows the row filter removes (it
pushes predicates into the scan). That is harmless when the predicate cannot fail or otherwise
reveal anything per row — PostgreSQL calls such operators *leakproof* and lets them past its
``security_barrier`` views for the same reason. Comparisons of one column with constants or
parameters, IN lists, BETWEEN, IS NULL, LIKE with a constant pattern and AND/OR/NOT of those are
leakproof here; anything else (casts or arithmetic on column values, function calls, column-to-
column comparisons that may cast, subqueries) keeps the guards. Skipping the guards keeps the
source able to use indexes and zone maps for a point query.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

_CONSTANTS = (exp.Literal, exp.Parameter, exp.Placeholder, exp.Null, exp.Boolean)
_COMPARISONS = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Like, exp.ILike,
)


def _is_constant(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren):
        return _is_constant(node.this)
    if isinstance(node, exp.Neg):
        return _is_constant(node.this)
    if isinstance(node, exp.Cast):
        return _is_constant(node.this)  # a failing cast of a constant fails for every row alike
    return isinstance(node, _CONSTANTS)


def _is_column(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) or (isinstance(node, exp.Paren) and _is_column(node.this))


def _leakproof(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren):
        return _leakproof(node.this)
    if isinstance(node, (exp.And, exp.Or)):
        return _leakproof(node.this) and _leakproof(node.expression)
    if isinstance(node, exp.Not):
        return _leakproof(node.this)
    if isinstance(node, _COMPARISONS):
        left, right = node.this, node.expression
        return (_is_column(left) and _is_constant(right)) or (_is_constant(left) and _is_column(right)) or (
            _is_constant(left) and _is_constant(right)
        )
    if isinstance(node, exp.Is):
        return _is_column(node.this) or _is_constant(node.this)
    if isinstance(node, exp.In):
        return (
            _is_column(node.this)
            and not node.args.get("query")
            and not node.args.get("unnest")
            and all(_is_constant(e) for e in node.expressions)
        )
    if isinstance(node, exp.Between):
        return _is_column(node.this) and _is_constant(node.args["low"]) and _is_constant(node.args["high"])
    return _is_constant(node)


def _conditions(statement: exp.Expr) -> Iterator[exp.Expr]:
    for where in statement.find_all(exp.Where):
        yield where.this
    for join in statement.find_all(exp.Join):
        condition = join.args.get("on")
        if condition is not None:
            yield condition


def predicates_are_leakproof(statement: exp.Expr) -> bool:
    """True when every WHERE and JOIN ON condition in the statement is leakproof."""
    return all(_leakproof(condition) for condition in _conditions(statement))
