"""The display scale of a numeric value that comes from a derived table, a CTE or a scalar
subquery, for :mod:`.pgnumeric`: the scale of the select-list expression behind it.

A quotient (``/`` over numeric, ``avg``, ``variance``) inside a derived table is computed exactly
and kept as ``DECIMAL(38, INNER_SCALE)`` (:mod:`.pgnumeric` prints exact text only in the
outermost select list), so a column holding one has that scale: a quotient of it is again
PostgreSQL's numeric, never DuckDB's DOUBLE.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

#: The scale of a quotient used inside a statement (an operand, a derived table's column).
INNER_SCALE = 16

_QUOTIENTS = (exp.Div, exp.Avg, exp.Variance, exp.VariancePop)


class DerivedScales:
    """Scales of columns of derived tables/CTEs and of scalar subqueries."""

    def __init__(
        self, scale_of: Callable[[exp.Expr], int | None], projection_of: Callable[[exp.Column], exp.Expr | None] | None
    ) -> None:
        self.scale_of = scale_of
        self.projection_of = projection_of
        self._busy: set[int] = set()

    def of(self, node: exp.Expr) -> int | None:
        behind = self._behind(node)
        if behind is None or id(behind) in self._busy:
            return None
        self._busy.add(id(behind))
        try:
            scale = self.scale_of(behind)
        finally:
            self._busy.discard(id(behind))
        if scale is None and isinstance(_inner(behind), _QUOTIENTS):
            return INNER_SCALE
        return scale

    def _behind(self, node: exp.Expr) -> exp.Expr | None:
        if isinstance(node, exp.Column) and self.projection_of is not None:
            return self.projection_of(node)
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
            return node.this.expressions[0].unalias()
        return None


def _inner(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren | exp.Alias | exp.Filter | exp.Window):
        node = node.this
    return node
