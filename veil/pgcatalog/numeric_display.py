"""PostgreSQL's display scale (``dscale``) of a numeric output column, where DuckDB's fixed
``DECIMAL(p, s)`` prints another.

PostgreSQL keeps a scale with each numeric value: ``12.50 * 2`` prints ``25.00``, ``round(x, 6)``
six decimals, and ``CASE WHEN c THEN 12.50 ELSE -3.1416 END`` two or four, row by row. DuckDB's
DECIMAL has one scale per column (the widest of the branches). :class:`OutputScales` finds
PostgreSQL's scale of an output expression in the rewritten tree (:mod:`.pgnumeric`): fixed for
every row (the output is cast to ``DECIMAL(38, s)``), or a DuckDB expression computing it per row
(the output is printed as text by :func:`display_text`, vectorised: the DECIMAL's text cut to the
row's scale). A standard deviation or variance kept inside an expression carries the scale of the
exact text it was computed as (:func:`text_scale`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlglot import exp, parse_one

#: DuckDB's DECIMAL: the largest scale it holds.
MAX_SCALE = 38


@dataclass(frozen=True)
class Scale:
    """A numeric value's display scale: ``maximum`` for every row when ``expression`` is None,
    else the value of the DuckDB expression ``expression`` (never above ``maximum``)."""

    maximum: int
    expression: exp.Expr | None = None

    @property
    def fixed(self) -> int | None:
        return self.maximum if self.expression is None else None

    def sql(self) -> exp.Expr:
        return self.expression.copy() if self.expression is not None else exp.Literal.number(self.maximum)


T = TypeVar("T")


class ByNode(Generic[T]):
    """Values by tree node, by identity: a node replaced in the tree and freed may lend its
    ``id`` to a new one, which must not find the old node's value."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[exp.Expr, T]] = {}

    def __setitem__(self, node: exp.Expr, value: T) -> None:
        self._entries[id(node)] = (node, value)

    def get(self, node: exp.Expr) -> T | None:
        entry = self._entries.get(id(node))
        return entry[1] if entry is not None and entry[0] is node else None


_TEXT = "__veil_text"
_VALUE, _DIGITS, _MAXIMUM = "__veil_value", "__veil_digits", "__veil_maximum"


@functools.lru_cache(maxsize=16)
def _template(sql: str) -> exp.Expr:
    return parse_one(sql, read="duckdb")


def _filled(sql: str, parts: dict[str, exp.Expr]) -> exp.Expr:
    """DuckDB expression ``sql`` with ``parts`` for its placeholder columns."""
    tree = _template(sql).copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name in parts:
            column.replace(parts[column.name].copy())
    return tree


def text_scale(text: exp.Expr) -> exp.Expr:
    """DuckDB SQL for the scale of PostgreSQL's text ``text`` of a numeric (its decimals)."""
    sql = f"CASE WHEN strpos({_TEXT}, '.') = 0 THEN 0 ELSE length({_TEXT}) - strpos({_TEXT}, '.') END"
    return _filled(sql, {_TEXT: text})


def held_text(text: exp.Expr, scale: int) -> exp.Expr:
    """``text`` (PostgreSQL's text of a numeric) as ``DECIMAL(38, scale)``; a value with more
    decimals than that is refused (0A000) rather than rounded into other digits."""
    sql = (
        f"CASE WHEN {text_scale(exp.column(_TEXT)).sql('duckdb')} > {scale} THEN error('[0A000] a numeric "
        f"value with more than {scale} decimals cannot be computed with inside an expression on DuckDB') "
        f"ELSE CAST({_TEXT} AS DECIMAL(38, {scale})) END"
    )
    return _filled(sql, {_TEXT: text})


def display_text(value: exp.Expr, scale: Scale) -> exp.Expr:
    """DuckDB SQL printing the numeric ``value`` with ``scale``'s decimals on each row: its text
    as ``DECIMAL(38, maximum)``, less the decimals beyond the row's scale (and the point)."""
    if scale.fixed is not None:
        return _filled(f"CAST(CAST({_VALUE} AS DECIMAL(38, {scale.fixed})) AS VARCHAR)", {_VALUE: value})
    sql = (
        f"substr(CAST(CAST({_VALUE} AS DECIMAL(38, {scale.maximum})) AS VARCHAR), 1, "
        f"length(CAST(CAST({_VALUE} AS DECIMAL(38, {scale.maximum})) AS VARCHAR)) - ({scale.maximum} - {_DIGITS})"
        f" - CASE WHEN {_DIGITS} = 0 AND {scale.maximum} > 0 THEN 1 ELSE 0 END)"
    )
    return _filled(sql, {_VALUE: value, _DIGITS: scale.sql()})


def array_text(elements: list[tuple[exp.Expr, Scale]]) -> exp.Expr:
    """DuckDB SQL printing a one-dimensional numeric array as PostgreSQL does, each element at
    its own scale (``{1.5,2.50,NULL}``)."""
    parts: list[exp.Expr] = [exp.Literal.string("{")]
    for index, (element, scale) in enumerate(elements):
        if index:
            parts.append(exp.Literal.string(","))
        shown = exp.Coalesce(this=display_text(element.copy(), scale), expressions=[exp.Literal.string("NULL")])
        parts.append(shown)
    parts.append(exp.Literal.string("}"))
    return exp.Concat(expressions=parts)


def _declared(to: exp.DataType) -> Scale | None:
    """The scale of ``CAST(text AS DECIMAL(p, s))``."""
    if to.this not in (exp.DType.DECIMAL, exp.DType.BIGDECIMAL) or len(to.expressions) != 2:
        return None
    scale = to.expressions[1].this
    digits = scale.this if isinstance(scale, exp.Literal) else None
    return Scale(int(digits)) if digits is not None and str(digits).isdigit() else None


def _greatest(left: Scale, right: Scale) -> Scale:
    if left.fixed is not None and right.fixed is not None:
        return Scale(max(left.maximum, right.maximum))
    return Scale(max(left.maximum, right.maximum), exp.Greatest(this=left.sql(), expressions=[right.sql()]))


def _sum(left: Scale, right: Scale) -> Scale:
    if left.fixed is not None and right.fixed is not None:
        return Scale(left.maximum + right.maximum)
    return Scale(left.maximum + right.maximum, exp.Add(this=left.sql(), expression=right.sql()))


class OutputScales:
    """PostgreSQL's scale of an expression of the rewritten tree: ``static`` gives the scale
    (when the same on every row) of the nodes of the tree as it was, ``carried`` the scale of
    the nodes that replaced a standard deviation or variance."""

    def __init__(self, static: Callable[[exp.Expr], int | None], carried: ByNode[Scale]) -> None:
        self.static = static
        self.carried = carried

    def of(self, node: exp.Expr) -> Scale | None:
        fixed = self.static(node)
        if fixed is not None:
            return Scale(fixed)
        carried = self.carried.get(node)
        if carried is not None:
            return carried
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
            return _declared(node.to)  # a numeric array element read from its text
        if isinstance(node, exp.Paren | exp.Neg | exp.Abs | exp.Nullif):
            return self.of(node.this)
        if isinstance(node, exp.Add | exp.Sub | exp.Mul):
            left, right = self.of(node.this), self.of(node.expression)
            if left is None or right is None:
                return None
            return _sum(left, right) if isinstance(node, exp.Mul) else _greatest(left, right)
        if isinstance(node, exp.Case):
            return self._case(node)
        if isinstance(node, exp.Coalesce):
            return self._coalesce([node.this, *node.expressions])
        if isinstance(node, exp.Greatest | exp.Least):
            return self._chosen(node, [node.this, *node.expressions])
        return None

    def _chosen(self, node: exp.Expr, arguments: list[exp.Expr]) -> Scale | None:
        """``greatest``/``least``: the value of the first argument equal to the result (PostgreSQL
        keeps the first of equal values), with that argument's scale."""
        conditions: list[exp.Expr] = [exp.EQ(this=a.copy(), expression=node.copy()) for a in arguments[:-1]]
        return self._branches(conditions, arguments)

    def _branches(self, conditions: list[exp.Expr], values: Sequence[exp.Expr | None]) -> Scale | None:
        """The scale of the value of the first true condition (the last value: ELSE)."""
        scales: list[Scale] = []
        for value in values:
            scale = Scale(0) if value is None or isinstance(value, exp.Null) else self.of(value)
            if scale is None:
                return None
            scales.append(scale)
        maximum = max(s.maximum for s in scales)
        if all(s.fixed == scales[0].fixed for s in scales) and scales[0].fixed is not None:
            return Scale(maximum)
        ifs = [exp.If(this=c.copy(), true=s.sql()) for c, s in zip(conditions, scales, strict=False)]
        return Scale(maximum, exp.Case(ifs=ifs, default=scales[-1].sql()))

    def _case(self, node: exp.Case) -> Scale | None:
        subject = node.this
        conditions: list[exp.Expr] = []
        values: list[exp.Expr | None] = []
        for branch in node.args.get("ifs") or []:
            condition = branch.this
            if subject is not None:
                condition = exp.EQ(this=subject.copy(), expression=condition.copy())
            conditions.append(condition)
            values.append(branch.args.get("true"))
        values.append(node.args.get("default"))
        return self._branches(conditions, values)

    def _coalesce(self, arguments: list[exp.Expr]) -> Scale | None:
        conditions: list[exp.Expr] = [exp.Not(this=exp.Is(this=a.copy(), expression=exp.Null())) for a in arguments]
        return self._branches(conditions[:-1], list(arguments))
