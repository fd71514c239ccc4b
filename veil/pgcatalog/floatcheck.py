"""Float arithmetic that overflows raises in PostgreSQL (22003 "value out of range: overflow",
"underflow" for a product or quotient that rounds to zero); DuckDB answers ``inf``, ``nan`` or 0.

Each maximal tree of float ``+ - * /`` (typed as PostgreSQL types them) is wrapped to raise
PostgreSQL's error where its result is not finite while every leaf (a column, a call, ...) is:
only an overflowing step makes ``inf`` (or ``nan``, from ``inf - inf``) out of finite values,
division by zero raising on its own. A tree of products and quotients whose result is 0 while
no leaf is 0 underflowed. The leaves are repeated in the check, not the tree: a tree nested in a
call that is a leaf is checked on its own. Left unchecked: a tree in a grouped or DISTINCT
query outside an aggregate's argument (the check would read its leaves ungrouped), in ORDER BY,
or with a subquery among its leaves (it would run twice).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.pgtypes import ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]

_OPERATORS = (exp.Add, exp.Sub, exp.Mul, exp.Div)
_FLOATS = frozenset({"float4", "float8"})


def _up(node: exp.Expr) -> exp.Expr | None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return parent


def _leaves(root: exp.Expr, floats: set[int]) -> tuple[list[exp.Expr], bool]:
    """The leaves under ``root`` (through parentheses and float operators) and whether every
    operator on the way is a product or quotient."""
    leaves: list[exp.Expr] = []
    multiplicative = True
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif id(node) in floats:
            multiplicative = multiplicative and isinstance(node, exp.Mul | exp.Div)
            stack += [node.this, node.expression]
        else:
            leaves.append(node)
    return leaves, multiplicative


def _checkable(root: exp.Expr, leaves: list[exp.Expr]) -> bool:
    if any(leaf.find(exp.Query) is not None for leaf in leaves):
        return False
    node: exp.Expr | None = root
    while node is not None and not isinstance(node, exp.Select):
        if isinstance(node, exp.AggFunc):
            return True
        if isinstance(node, exp.Order | exp.Group):
            return False
        node = node.parent
    return node is None or not (node.args.get("group") or node.args.get("distinct"))


def _finite(leaf: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="isfinite", expressions=[exp.Cast(this=leaf.copy(), to=exp.DataType.build("DOUBLE"))])


def _raise(kind: str) -> exp.Expr:
    return exp.Anonymous(this="error", expressions=[exp.Literal.string(f"[22003] value out of range: {kind}")])


def _checked(root: exp.Expr, leaves: list[exp.Expr], multiplicative: bool) -> exp.Expr:
    variable = [leaf for leaf in leaves if not (isinstance(leaf, exp.Literal) and not leaf.is_string)]
    finite = [_finite(leaf) for leaf in variable]
    result = root.copy()
    overflow = exp.and_(exp.Not(this=exp.Anonymous(this="isfinite", expressions=[result.copy()])), *finite)
    ifs = [exp.If(this=overflow, true=_raise("overflow"))]
    if multiplicative:
        nonzero = [exp.NEQ(this=leaf.copy(), expression=exp.Literal.number(0)) for leaf in variable]
        zero = exp.EQ(this=result.copy(), expression=exp.Literal.number(0))
        ifs.append(exp.If(this=exp.and_(zero, *nonzero, *(f.copy() for f in finite)), true=_raise("underflow")))
    return exp.Case(ifs=ifs, default=result)


def float_overflow_checks(tree: exp.Expr, type_of: TypeOf) -> None:
    """Every checkable float arithmetic tree in ``tree`` wrapped in place (see the module doc);
    ``type_of`` gives PostgreSQL's type of a node of ``tree`` as it is on entry."""
    floats: set[int] = set()
    for node in tree.find_all(*_OPERATORS):
        column_type = type_of(node)
        if column_type is not None and column_type.type.name in _FLOATS:
            floats.add(id(node))
    if not floats:
        return
    roots = [node for node in tree.find_all(*_OPERATORS) if id(node) in floats and id(_up(node)) not in floats]
    for root in roots:
        leaves, multiplicative = _leaves(root, floats)
        if _checkable(root, leaves):
            root.replace(_checked(root, leaves, multiplicative))
