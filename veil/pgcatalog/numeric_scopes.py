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
        self, scale_of: Callable[[exp.Expr], int | None], projections_of: Callable[[exp.Column], list[exp.Expr]] | None
    ) -> None:
        self.scale_of = scale_of
        self.projections_of = projections_of
        self._busy: set[int] = set()

    def of(self, node: exp.Expr) -> int | None:
        """The scale of ``node`` when the expressions behind it (one per branch of a set
        operation) all have it; None otherwise (each row keeps its own)."""
        behind = self._behind(node)
        if not behind or any(id(b) in self._busy for b in behind):
            return None
        scales: set[int | None] = set()
        for expression in behind:
            self._busy.add(id(expression))
            try:
                scale = self.scale_of(expression)
            finally:
                self._busy.discard(id(expression))
            if scale is None and isinstance(_inner(expression), _QUOTIENTS):
                scale = INNER_SCALE
            scales.add(scale)
        return scales.pop() if len(scales) == 1 else None

    def _behind(self, node: exp.Expr) -> list[exp.Expr]:
        if isinstance(node, exp.Column) and self.projections_of is not None:
            return self.projections_of(node)
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
            return [node.this.expressions[0].unalias()]
        return []


def _inner(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren | exp.Alias | exp.Filter | exp.Window):
        node = node.this
    return node
