"""Eager aggregation: a source pre-aggregates its table before Veil joins and aggregates.

``SELECT c.country, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id
GROUP BY c.country`` over two sources would pull every order. Instead the orders fragment groups
by the columns the rest of the statement needs (``customer_id``) and returns partial aggregates
(``sum(amount)``, ``count(*)``); the local part combines them (``sum`` of sums, ``sum`` of
counts). Each local row then stands for ``count(*)`` source rows, which is exact for SUM, COUNT,
MIN and MAX over the pre-aggregated table's own columns, and for MIN and MAX over any column.

Taken only when that is provably exact: one table per SELECT, inner joins only, every
aggregate a plain SUM/COUNT/MIN/MAX (no DISTINCT, FILTER, ORDER BY) of one column of that table
(or ``count(*)``, or MIN/MAX of another table's column), no window functions, grouping sets or
nested queries reading the table. Partial sums are cast to exact decimals, so PostgreSQL's
unconstrained ``numeric`` results never reach the local engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from veil.catalog.model import Table
from veil.planner.federation.scope import alias_identifier, qualifier, select_of
from veil.planner.pushdown import identifier_name, quoted
from veil.sql.conditions import conjunction

if TYPE_CHECKING:
    from veil.planner.federation.fragments import FragmentBuilder, Scope

ROWS = "veil_rows"
#: Meta key of a local-part node that combines partial aggregates: the statement's node it stands for.
REPLACES = "veil.replaces"
_PARTIAL = (exp.Sum, exp.Count, exp.Min, exp.Max)


@dataclass
class PreAggregation:
    """What the fragment computes and how the local part combines it."""

    keys: list[str]
    partials: list[tuple[str, exp.Expr]] = field(default_factory=list)  # (output name, aggregate)
    combine: list[tuple[exp.Expr, exp.Expr]] = field(default_factory=list)  # (aggregate in statement, local)


def _own_columns(select: exp.Select) -> list[exp.Column]:
    return [c for c in select.find_all(exp.Column) if c.find_ancestor(exp.Select) is select]


def _own_aggregates(select: exp.Select) -> list[exp.AggFunc]:
    return [a for a in select.find_all(exp.AggFunc) if a.find_ancestor(exp.Select) is select]


def _partial_type(function: exp.Expr, arrow_type: pa.DataType) -> exp.DataType | None:
    """The exact type a partial aggregate is cast to at the source (None: keep the source's)."""
    if isinstance(function, exp.Sum):
        if pa.types.is_decimal(arrow_type):
            return exp.DataType.build(f"DECIMAL(38, {arrow_type.scale})")
        if pa.types.is_integer(arrow_type):
            return exp.DataType.build("DECIMAL(38, 0)" if arrow_type.bit_width == 64 else "BIGINT")
        return None
    if isinstance(function, exp.Min | exp.Max) and pa.types.is_decimal(arrow_type):
        return exp.DataType.build(f"DECIMAL({arrow_type.precision}, {arrow_type.scale})")
    return None


def plan_preaggregation(builder: FragmentBuilder, node: exp.Table, table: Table) -> PreAggregation | None:
    found = select_of(node)
    if found is None:
        return None
    select = found[0]
    scope = builder.scope(select)
    if id(select) in builder.preaggregated or not scope.known or not scope.inner_only:
        return None
    group = select.args.get("group")
    if group is not None and any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
        return None
    aggregates = _own_aggregates(select)
    if not aggregates or select.find(exp.Window) is not None or select.args.get("distinct"):
        return None
    alias = identifier_name(alias_identifier(node, table))
    mine = {c.name for c in table.columns}
    for column in select.find_all(exp.Column):
        nested = column.find_ancestor(exp.Select) is not select
        wanted = qualifier(column)
        reads_mine = wanted == alias or (wanted is None and identifier_name(column.this) in mine)
        if reads_mine and (nested or scope.owner(column) is not node):
            return None  # correlated from a nested query, or not provably this table's
    plan = PreAggregation(keys=[])
    inside: set[int] = set()
    for aggregate in aggregates:
        if not _combinable(aggregate, node, table, scope, plan):
            return None
        inside |= {id(c) for c in aggregate.find_all(exp.Column)}
    if not plan.partials:
        return None  # nothing of this table is aggregated: pre-aggregating it gains little
    keys = {identifier_name(c.this) for c in _own_columns(select) if id(c) not in inside and scope.owner(c) is node}
    plan.keys = [c.name for c in table.columns if c.name in keys]
    builder.preaggregated.add(id(select))
    return plan


def _count_of(partial_counts: exp.Expr) -> exp.Expr:
    """COUNT over pre-aggregated rows: the sum of partial counts, 0 (not NULL) over no rows."""
    return exp.Coalesce(this=exp.cast(exp.Sum(this=partial_counts), "BIGINT"), expressions=[exp.Literal.number(0)])


def _combinable(aggregate: exp.AggFunc, node: exp.Table, table: Table, scope: Scope, plan: PreAggregation) -> bool:
    """Record how one aggregate of the statement is split; False when it cannot be."""
    if not isinstance(aggregate, _PARTIAL) or isinstance(aggregate.parent, exp.Filter | exp.WithinGroup):
        return False
    argument = aggregate.this
    local_table = alias_identifier(node, table)
    if isinstance(aggregate, exp.Count) and isinstance(argument, exp.Star):
        plan.combine.append((aggregate, _count_of(exp.Column(this=quoted(ROWS), table=local_table.copy()))))
        return True
    if not isinstance(argument, exp.Column) or isinstance(argument.this, exp.Star):
        return False  # DISTINCT, expressions, ORDER BY inside the aggregate
    if scope.owner(argument) is not node:
        return isinstance(aggregate, exp.Min | exp.Max) and scope.owner(argument) is not None
    column = table.column(identifier_name(argument.this))
    if column is None:
        return False
    numeric = pa.types.is_decimal(column.arrow_type) or pa.types.is_integer(column.arrow_type)
    if isinstance(aggregate, exp.Sum) and not (numeric or pa.types.is_floating(column.arrow_type)):
        return False
    name = f"veil_agg_{len(plan.partials)}"
    partial: exp.Expr = type(aggregate)(this=exp.Column(this=quoted(column.name), table=local_table.copy()))
    cast = _partial_type(aggregate, column.arrow_type)
    plan.partials.append((name, exp.cast(partial, cast) if cast is not None else partial))
    combined: exp.Expr = exp.Column(this=quoted(name), table=local_table.copy())
    if isinstance(aggregate, exp.Count):
        plan.combine.append((aggregate, _count_of(combined)))
    else:
        plan.combine.append((aggregate, type(aggregate)(this=combined)))
    return True


def preaggregated_fragment(
    builder: FragmentBuilder, node: exp.Table, table: Table, conditions: list[exp.Expr], plan: PreAggregation
) -> exp.Select:
    """The fragment's SELECT; also rewrites the statement's aggregates to combine its partials."""
    alias = alias_identifier(node, table)
    keys = [exp.Column(this=quoted(k), table=alias.copy()) for k in plan.keys]
    projections = [*keys, *(exp.alias_(e, quoted(n)) for n, e in plan.partials)]
    projections.append(exp.alias_(exp.Count(this=exp.Star()), quoted(ROWS)))
    select = exp.Select(expressions=projections).from_(builder.protected_alias(node, table), copy=False)
    if conditions:
        select.set("where", exp.Where(this=conjunction(*(c.copy() for c in conditions))))
    if keys:
        select = select.group_by(*(k.copy() for k in keys), copy=False)
    else:
        select = select.having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0)), copy=False)
    for original, combined in plan.combine:
        original.replace(combined)
        combined.meta[REPLACES] = original  # typed as the aggregate it combines (pgnumeric)
        if isinstance(combined, exp.Sum | exp.Min | exp.Max):
            combined.this.meta[REPLACES] = original.this
    return select
