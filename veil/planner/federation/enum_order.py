"""Enum ordering the local engine cannot reproduce.

A PostgreSQL enum reaches the local engine as its label text, so DuckDB sorts and compares it
alphabetically, where PostgreSQL uses the order of the enum's labels (``pg_enum.enumsortorder``).
Equality, IN, DISTINCT and GROUP BY agree on text; ordering does not. Before the statement is cut
into fragments, every ordering use of an enum-typed expression (an ORDER BY key, ``<``, ``<=``,
``>``, ``>=``, BETWEEN, min/max, greatest/least) is marked; one still in the local part once the
fragments are cut (not pushed whole to its source, where PostgreSQL orders it itself) refuses
the statement with 0A000 rather than answer in the wrong order.
"""

from __future__ import annotations

from sqlglot import exp

from veil.errors import FeatureNotSupported
from veil.pgcatalog.infer import TableTyper, Typer
from veil.pgtypes import ColumnType
from veil.planner.federation.preaggregate import REPLACES
from veil.planner.pushdown import Analysis, column_type_resolver

ENUM_ORDERING = "veil_enum_ordering"  # meta key: the enum-typed expression's SQL, for the message

_COMPARISONS = (exp.LT, exp.LTE, exp.GT, exp.GTE)
_EXTREMES = (exp.Min, exp.Max, exp.Greatest, exp.Least)


def _is_enum(column_type: ColumnType | None) -> bool:
    return column_type is not None and column_type.type.is_enum


def _has_enum_columns(analysis: Analysis) -> bool:
    return any(_is_enum(column.pg_type) for ref in analysis.user_tables for column in ref.table.columns)


def _ordered_key(node: exp.Ordered) -> exp.Expr:
    """The expression an ORDER BY item sorts by (a position names a select-list item)."""
    key = node.this
    select = node.parent.parent if isinstance(node.parent, exp.Order) else None
    if isinstance(key, exp.Literal) and key.is_int and isinstance(select, exp.Select):
        position = int(key.name)
        if 1 <= position <= len(select.expressions):
            return select.expressions[position - 1].unalias()
    return key


def _operands(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Ordered):
        return [_ordered_key(node)]
    if isinstance(node, _COMPARISONS):
        return [node.left, node.right]
    if isinstance(node, exp.Between):
        return [node.this, node.args["low"], node.args["high"]]
    if isinstance(node, (exp.Greatest, exp.Least)):
        return [node.this, *node.expressions]
    return [node.this] if isinstance(node, (exp.Min, exp.Max)) else []


def mark_enum_ordering(tree: exp.Expr, analysis: Analysis) -> None:
    """Mark each node of ``tree`` (the statement before the cut) that orders an enum."""
    if not _has_enum_columns(analysis):
        return
    typer: Typer = TableTyper(column_type_resolver(analysis.user_tables))
    for node in list(tree.find_all(exp.Ordered, *_COMPARISONS, exp.Between, *_EXTREMES)):
        for operand in _operands(node):
            if isinstance(operand, exp.Expr) and _is_enum(typer.type_of(operand)):
                node.meta[ENUM_ORDERING] = operand.sql("postgres")
                break


def refuse_enum_ordering(local: exp.Expr) -> None:
    """Refuse (0A000) when the local part still orders an enum marked by :func:`mark_enum_ordering`."""
    for node in local.walk():
        if not node.meta:
            continue
        original = node.meta.get(REPLACES)  # min/max combining a fragment's partial min/max
        marked = original.meta if isinstance(original, exp.Expr) and original.meta else node.meta
        if ENUM_ORDERING in marked:
            raise FeatureNotSupported(
                f"ordering of enum column {marked[ENUM_ORDERING]} across sources is not supported",
                hint="compare or sort it in a subquery that reads only its PostgreSQL source, or by an explicit sort key",
            )
