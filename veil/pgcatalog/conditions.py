"""Conditions that are not booleans, refused as PostgreSQL's parser refuses them (42804) before
any engine runs the statement: DuckDB would read ``WHERE id`` as ``id <> 0`` and ``WHERE name``
as a cast of each value (22P02 on the first row, or a masked value in the message).

Only operands whose type is certain are checked (a column, a cast, a number): a condition of a
type the Typer cannot tell is left to the engine."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.errcodes import DatatypeMismatch
from veil.pgtypes import ColumnType, format_type

TypeOf = Callable[[exp.Expr], ColumnType | None]
_LEAVES = (exp.Column, exp.Cast, exp.Literal)


def _conditions(tree: exp.Expr) -> list[tuple[str, exp.Expr]]:
    found: list[tuple[str, exp.Expr]] = []
    for node in tree.walk():
        if isinstance(node, exp.Where | exp.Having):
            found.append((node.key.upper(), node.this))
        elif isinstance(node, exp.Join) and node.args.get("on") is not None:
            found.append(("JOIN/ON", node.args["on"]))
        elif isinstance(node, exp.Not):
            found.append(("NOT", node.this))
        elif isinstance(node, exp.And | exp.Or):
            found += [(node.key.upper(), node.this), (node.key.upper(), node.expression)]
        elif isinstance(node, exp.If) and isinstance(node.parent, exp.Case) and node.parent.this is None:
            # (``CASE x WHEN 1 ...`` compares x with 1: only a searched CASE's WHEN is a condition)
            found.append(("CASE/WHEN", node.this))
    return found


def check_conditions(tree: exp.Expr, type_of: TypeOf) -> None:
    for clause, operand in _conditions(tree):
        while isinstance(operand, exp.Paren):
            operand = operand.this
        if not isinstance(operand, _LEAVES) or (isinstance(operand, exp.Literal) and operand.is_string):
            continue
        found = type_of(operand)
        if found is None or found.type.name in ("bool", "unknown"):
            continue
        raise DatatypeMismatch(f"argument of {clause} must be type boolean, not type {format_type(found.oid)}")
