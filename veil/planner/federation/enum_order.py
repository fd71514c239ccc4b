"""Enum (and composite) ordering the local engine cannot reproduce.

A PostgreSQL enum reaches the local engine as its label text (a composite, or an array of either,
in its text form), so DuckDB sorts and compares it alphabetically, where PostgreSQL uses the order
of the enum's labels (``pg_enum.enumsortorder``; a composite compares field by field). Equality,
IN, DISTINCT and GROUP BY agree on text; ordering does not. Before the statement is cut into
fragments, every ordering use of an expression of such a type (an ORDER BY key, ``<``, ``<=``,
``>``, ``>=``, BETWEEN, min/max, greatest/least) is marked; one still in the local part once the
fragments are cut (not pushed whole to its source, where PostgreSQL orders it itself) refuses
the statement with 0A000 rather than answer in the wrong order.
"""

from __future__ import annotations

from sqlglot import exp

from veil.errors import FeatureNotSupported
from veil.pgcatalog.infer import TableTyper, Typer
from veil.pgfields import user_type
from veil.pgtypes import ColumnType
from veil.planner.federation.preaggregate import REPLACES
from veil.planner.pushdown import Analysis, column_type_resolver

ENUM_ORDERING = "veil_enum_ordering"  # meta key: what the marked node orders, for the message

_COMPARISONS = (exp.LT, exp.LTE, exp.GT, exp.GTE)
_EXTREMES = (exp.Min, exp.Max, exp.Greatest, exp.Least)


def _user_kind(column_type: ColumnType | None) -> str | None:
    """``enum`` or ``composite`` for a source's enum or composite type or an array of one (each
    held as text locally, where it sorts alphabetically, not as PostgreSQL orders it)."""
    defined = user_type(column_type.type) if column_type is not None else None
    if defined is None:
        return None
    return "enum" if defined.is_enum else "composite"


def _has_user_typed_columns(analysis: Analysis) -> bool:
    return any(_user_kind(column.pg_type) for ref in analysis.user_tables for column in ref.table.columns)


def _ordered_key(node: exp.Ordered) -> exp.Expr:
    """The expression an ORDER BY item sorts by: a position, or an output name of a set
    operation, names a select-list item (of its first SELECT, for a set operation)."""
    key = node.this
    query = node.parent.parent if isinstance(node.parent, exp.Order) else None
    combined = isinstance(query, exp.SetOperation)
    while isinstance(query, exp.SetOperation):
        query = query.left
    if not isinstance(query, exp.Select):
        return key
    if isinstance(key, exp.Literal) and key.is_int:
        position = int(key.name)
        if 1 <= position <= len(query.expressions):
            return query.expressions[position - 1].unalias()
    elif combined and isinstance(key, exp.Column) and not key.table:
        named = [e for e in query.expressions if e.alias_or_name == key.name]
        return named[0].unalias() if named else key
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
    if not _has_user_typed_columns(analysis):
        return
    typer: Typer = TableTyper(column_type_resolver(analysis.user_tables))
    for node in list(tree.find_all(exp.Ordered, *_COMPARISONS, exp.Between, *_EXTREMES)):
        for operand in _operands(node):
            kind = _user_kind(typer.type_of(operand)) if isinstance(operand, exp.Expr) else None
            if kind is not None:
                node.meta[ENUM_ORDERING] = f"{kind} column {operand.sql('postgres')}"
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
                f"ordering of {marked[ENUM_ORDERING]} across sources is not supported",
                hint="order it in a subquery that reads only its PostgreSQL source, or cast it to text for alphabetical order",
            )
