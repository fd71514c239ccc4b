"""Whole subqueries that one source can answer alone.

A derived table, CTE body, IN/EXISTS or scalar subquery whose tables all share one connection key
and which reads nothing from outside itself (uncorrelated) runs on that source as written, with
its joins, aggregates, DISTINCT, LIMIT and set operations, and each of its tables replaced by its
policy-protected derived table exactly as in single-source pushdown. Only subqueries that do
work worth pushing are taken (several tables, aggregation, DISTINCT, LIMIT, windows or set
operations): a plain filter over one table is better served by a per-table fragment, which also
prunes the columns the outer query does not use.
"""

from __future__ import annotations

from sqlglot import exp

from veil.planner.federation.fragments import FragmentBuilder
from veil.planner.federation.scope import alias_identifier
from veil.planner.pushdown import identifier_name, quoted, replace_table
from veil.sql.colnames import name_select_outputs

_WORK = (exp.AggFunc, exp.Window, exp.Group, exp.Limit, exp.Distinct, exp.SetOperation)


def _attached(node: exp.Expr, root: exp.Expr) -> bool:
    while node.parent is not None:
        node = node.parent
    return node is root


def _output_select(body: exp.Expr) -> exp.Select | None:
    """The SELECT whose projections name the subquery's columns (the leftmost of a set operation)."""
    while isinstance(body, exp.SetOperation):
        body = body.this
    return body if isinstance(body, exp.Select) else None


class _Candidate:
    def __init__(self, holder: exp.Expr, body: exp.Expr) -> None:
        self.holder = holder  # the Subquery, CTE or Exists node
        self.body = body

    @property
    def names_matter(self) -> bool:
        holder = self.holder
        if isinstance(holder, exp.CTE):
            alias = holder.args.get("alias")
            return not (isinstance(alias, exp.TableAlias) and alias.args.get("columns"))
        return isinstance(holder.parent, exp.From | exp.Join) and not (
            isinstance(holder.args.get("alias"), exp.TableAlias) and holder.args["alias"].args.get("columns")
        )


def _candidates(tree: exp.Expr) -> list[_Candidate]:
    found = []
    for holder in tree.find_all(exp.Subquery, exp.CTE, exp.Exists):
        body = holder.this
        if isinstance(holder.parent, exp.Lateral) or not isinstance(body, exp.Select | exp.SetOperation):
            continue
        found.append(_Candidate(holder, body))
    return found


def _self_contained(body: exp.Expr, builder: FragmentBuilder) -> bool:
    """Every column reads a table of the subquery itself (nothing correlated from outside)."""
    tables = [(node, builder.refs[id(node)].table) for node in body.find_all(exp.Table)]
    aliases = {identifier_name(alias_identifier(node, table)) for node, table in tables}
    aliases |= {identifier_name(s.args["alias"].this) for s in body.find_all(exp.Subquery) if s.args.get("alias")}
    names = {c.name for _, table in tables for c in table.columns}
    names |= {identifier_name(a.args["alias"]) for a in body.find_all(exp.Alias) if a.args.get("alias")}
    for column in body.find_all(exp.Column):
        table = column.args.get("table")
        if table is not None:
            if identifier_name(table) not in aliases:
                return False
        elif not isinstance(column.this, exp.Star) and identifier_name(column.this) not in names:
            return False
    return True


def _pushable(candidate: _Candidate, builder: FragmentBuilder) -> bool:
    body = candidate.body
    nodes = list(body.find_all(exp.Table))
    if not nodes or any(id(node) not in builder.refs for node in nodes):
        return False  # no tables, or a CTE reference, table function or fragment
    keys = {builder.sources[builder.refs[id(n)].table.connection].connection_key for n in nodes}
    if len(keys) != 1:
        return False
    if len(nodes) < 2 and body.find(*_WORK) is None:
        return False
    if candidate.names_matter and _output_select(body) is None:
        return False
    return _self_contained(body, builder)


def push_whole_subqueries(builder: FragmentBuilder) -> None:
    """Replace every outermost pushable subquery by a fragment."""
    for candidate in _candidates(builder.tree):
        if not _attached(candidate.holder, builder.tree) or not _pushable(candidate, builder):
            continue
        nodes = list(candidate.body.find_all(exp.Table))
        tables = tuple(builder.refs[id(n)].table for n in nodes)
        pushed = candidate.body.copy()
        output = _output_select(pushed)
        if candidate.names_matter and output is not None:
            name_select_outputs(output)  # an outer query reads them by their PostgreSQL names
        for copy, node in zip(pushed.find_all(exp.Table), nodes, strict=True):
            table = builder.refs[id(node)].table
            replace_table(copy, builder.protected_source(table), table.name)
        name = builder.add_part(pushed, tables)
        for node in nodes:
            builder.consume(node)
        _replace(candidate, name)


def _replace(candidate: _Candidate, name: str) -> None:
    holder = candidate.holder
    part = exp.Table(this=quoted(name))
    if isinstance(holder, exp.Subquery) and isinstance(holder.parent, exp.From | exp.Join):
        alias = holder.args.get("alias") or exp.TableAlias(this=quoted(name))
        part.set("alias", alias)
        holder.replace(part)
        return
    holder.set("this", exp.select(exp.Star()).from_(part))
