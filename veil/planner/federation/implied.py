"""Conditions implied by an OR, so that a source filters rows a local join would drop anyway.

``(p_partkey = l_partkey AND p_brand = 'Brand#12' AND l_quantity <= 11) OR (p_partkey = l_partkey
AND p_brand = 'Brand#23' AND l_quantity <= 20)`` reads two tables, so it must stay in the local
part (TPC-H Q19). But whenever it is TRUE one of its disjuncts is TRUE, and with it that
disjunct's conditions on ``lineitem`` alone: ``(l_quantity <= 11) OR (l_quantity <= 20)`` holds
for every row that can satisfy the whole condition, so ``lineitem``'s fragment may apply it. The
original condition stays local, unchanged; the implied one only removes rows that could never
have passed it. That is why it is only derived where a condition must be TRUE for a row to
survive (WHERE, or the ON of an inner join, on a table no outer join NULL-extends), and only
when every disjunct contributes: a disjunct with nothing on the table implies nothing about it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.sql.conditions import conjunction


def split_or(condition: exp.Expr) -> list[exp.Expr]:
    inner = condition.unnest()
    if isinstance(inner, exp.Or):
        return split_or(inner.left) + split_or(inner.right)
    return [condition]


def _split_and(condition: exp.Expr) -> list[exp.Expr]:
    inner = condition.unnest()
    if isinstance(inner, exp.And):
        return _split_and(inner.left) + _split_and(inner.right)
    return [condition]


def implied_condition(condition: exp.Expr, movable: Callable[[exp.Expr], bool]) -> exp.Expr | None:
    """A condition that ``movable`` accepts and that is TRUE whenever ``condition`` is TRUE, or
    None. ``movable`` says whether a condition reads only the fragment's tables (and nothing
    else that forbids moving it). The result is a new tree; ``condition`` is not changed."""
    disjuncts = split_or(condition)
    if len(disjuncts) < 2:
        return None
    implied: list[exp.Expr] = []
    for disjunct in disjuncts:
        pieces: list[exp.Expr] = []
        for conjunct in _split_and(disjunct):
            if movable(conjunct):
                pieces.append(conjunct.copy())
                continue
            nested = implied_condition(conjunct, movable)
            if nested is not None:
                pieces.append(nested)
        if not pieces:
            return None
        implied.append(conjunction(*pieces) if len(pieces) > 1 else pieces[0])
    return exp.paren(exp.or_(*implied, copy=False), copy=False)
