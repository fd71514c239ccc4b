"""Conjunctions of any boolean expressions.

sqlglot's ``exp.and_`` (and ``Select.where``, built on it) accepts only ``Condition`` nodes and
raises ``TypeError`` for a scalar subquery used as a predicate (``WHERE (SELECT b FROM t)``),
which a planner rebuilding a WHERE clause out of its conjuncts meets like any other conjunct.
"""

from __future__ import annotations

from sqlglot import exp


def conjunction(*conditions: exp.Expr) -> exp.Expr:
    """``conditions`` joined by AND (an OR inside parenthesised), taken as they are (not copied).
    One condition is itself; at least one is required."""
    if not conditions:
        raise ValueError("a conjunction needs a condition")
    parts = [
        exp.Paren(this=c) if isinstance(c, exp.Connector) and not isinstance(c, exp.And) else c for c in conditions
    ]
    combined = parts[0]
    for part in parts[1:]:
        combined = exp.And(this=combined, expression=part)
    return combined
