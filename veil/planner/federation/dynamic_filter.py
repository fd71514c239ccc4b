"""Dynamic filtering (Trino's name) for local joins: read the small side first, then send the big
side only the rows that can still find a partner.

``SELECT ... FROM lineitem l JOIN part p ON p.p_partkey = l.l_partkey WHERE p.p_brand = 'Brand#23'``
over two sources reads all of ``lineitem``, though only the lineitems of a few hundred parts can
survive the join. When a fragment's rows are discarded by the local part unless an equality with
another fragment's column holds, that other fragment (the *source*) is read first and the first
one (the *target*) is sent as ``SELECT * FROM (<its SQL>) AS veil_dynamic WHERE k IN (<keys>)``.

Where the filter may go (planning, pure, :func:`plan_dynamic_filters`); each case removes only
target rows that could never contribute to the result:

* an equality ``a.x = b.y`` among the top-level conjuncts of the WHERE (or an inner ON) of a
  SELECT whose FROM items are combined by inner and cross joins only, ``a`` and ``b`` fragments
  listed by that SELECT: either side may be filtered by the other's values;
* ``a.x IN (SELECT b.y FROM b ...)`` among the top-level conjuncts of a WHERE: either side (a row
  of ``b`` whose ``y`` equals no ``x`` never answers the IN; NULL answers count as FALSE there);
* an equality ``a.x = b.y`` that every disjunct of such a conjunct ``... OR ...`` requires among
  its own conjuncts (TPC-H Q19 repeats ``p_partkey = l_partkey`` in each): the OR is TRUE only
  when one disjunct is, and with it the equality;
* a correlated equality ``b.y = a.x`` among the top-level conjuncts of the WHERE of a subquery
  over ``b`` (``a`` listed by an enclosing SELECT): ``b`` only, by ``a``'s values, since each
  evaluation of the subquery only sees rows of ``b`` matching one row of ``a``.

Never under NOT, never across an outer join, never for a fragment the local part names twice,
and only between columns that are plain, unmasked table columns on both sides (so the values
compared at the source are the raw values the local join compares; see :func:`fragment_keys`)
of the same type family. Keys become literals built by sqlglot for the target's dialect (a
DATE is a cast string); NULL keys are dropped (they never match an equality).

Which side is read first is a guess, as Veil keeps no statistics: a fragment with a point filter
(``=``, ``IN``, ``LIKE`` with a constant) beats one with only a range, which beats one without
filters, and a fragment filtered by a selective one counts as nearly as selective. Fragments of
equal rank *race* (a filter with ``race`` set, each way the edge allows): both start at once,
unfiltered, and when one's result arrives while the other is still running and has at most
``MAX_KEYS`` distinct keys, the other is interrupted and sent again with those keys (TPC-H Q19:
``part`` with three brands and ``lineitem`` with three quantity ranges look alike, but ``part``
answers in milliseconds while the scan of ``lineitem`` has barely started). A source with more
than ``MAX_KEYS`` distinct keys gives a ``BETWEEN min AND max`` range for numbers and dates (text
ranges depend on collations, so none) instead, except in a race, where a range is not worth
restarting a query for.

A filtered fragment's SQL differs from the planned one, so the latency cache keeps it under its
own key, and the audit record's ``pushed_sql`` holds the SQL actually sent.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from veil.catalog.model import Table
from veil.planner.federation.local_types import local_table
from veil.sql.conditions import conjunction

MAX_KEYS = 10_000
FILTERED_ALIAS = "veil_dynamic"


@dataclass(frozen=True)
class KeyColumn:
    """An output of a fragment that is an unmasked column of one of its tables."""

    output: str
    arrow_type: pa.DataType


@dataclass(frozen=True)
class DynamicFilter:
    """Send ``target`` only rows whose ``column`` is among ``source``'s ``source_column`` values."""

    target: str
    column: str
    source: str
    source_column: str
    race: bool = False  # target starts unfiltered; re-sent filtered if the source answers first

    def describe(self) -> str:
        if self.race:
            return (
                f'{self.target}."{self.column}" IN (distinct {self.source}."{self.source_column}") '
                f"if {self.source} answers first, with at most {MAX_KEYS} keys"
            )
        return (
            f'{self.target}."{self.column}" IN (distinct {self.source}."{self.source_column}"); '
            f"a range above {MAX_KEYS} keys"
        )


def _family(arrow_type: pa.DataType) -> str | None:
    if pa.types.is_integer(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_date(arrow_type):
        return "date"
    return None


# -- what a fragment offers -------------------------------------------------------------------
def _plain_column(value: exp.Expr) -> exp.Column | None:
    """The column ``value`` reads unchanged: itself, or under a row filter's ``CASE WHEN guard
    THEN column END``, or a cast that keeps a decimal's type. A mask is anything else."""
    while True:
        if isinstance(value, exp.Alias | exp.Paren | exp.Cast):
            value = value.this
        elif isinstance(value, exp.Case) and len(value.args.get("ifs") or []) == 1 and not value.args.get("default"):
            value = value.args["ifs"][0].args["true"]
        else:
            return value if isinstance(value, exp.Column) else None


def _unmasked(item: exp.Expr, table: Table, name: str) -> bool:
    """Whether FROM item ``item`` (the table, or its policy/renaming derived table) serves column
    ``name`` of ``table`` as the raw column."""
    if isinstance(item, exp.Table):
        return True
    if not isinstance(item, exp.Subquery) or not isinstance(item.this, exp.Select):
        return False
    column = table.column(name)
    for projection in item.this.expressions:
        if projection.alias_or_name == name:
            plain = _plain_column(projection)
            return plain is not None and column is not None and plain.name == column.raw_name
    return False


def fragment_keys(tree: exp.Expr, tables: Mapping[str, Table]) -> tuple[KeyColumn, ...]:
    """The outputs of fragment ``tree`` (a SELECT whose FROM items are aliased as in ``tables``)
    that a dynamic filter may compare: a projection ``alias.column`` of an unmasked column."""
    if not isinstance(tree, exp.Select):
        return ()
    from_ = tree.args.get("from_")
    items = ([from_.this] if from_ is not None else []) + [j.this for j in tree.args.get("joins") or []]
    by_alias = {item.alias_or_name: item for item in items}
    keys = []
    for projection in tree.expressions:
        column = projection.this if isinstance(projection, exp.Alias) else projection
        if not isinstance(column, exp.Column) or not column.table:
            continue
        table, item = tables.get(column.table), by_alias.get(column.table)
        source = table.column(column.name) if table is not None else None
        if table is None or source is None or item is None or _family(source.arrow_type) is None:
            continue
        if _unmasked(item, table, column.name):
            keys.append(KeyColumn(projection.alias_or_name, source.arrow_type))
    return tuple(keys)


_POINT = (exp.EQ, exp.In, exp.Like, exp.ILike)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)


def selectivity(tree: exp.Expr) -> int:
    """2 when the fragment's own WHERE compares a column with a constant (or a parameter) by
    ``=``, ``IN`` or ``LIKE``; 1 for a range only; else 0 (conditions of policy derived tables do not count)."""
    where = tree.args.get("where") if isinstance(tree, exp.Select) else None
    if where is None:
        return 0
    best = 0
    for node in where.find_all(*_POINT, *_RANGE):
        operands = [node.this, *(v for k, v in node.args.items() if k != "this" and isinstance(v, exp.Expr))]
        operands += list(node.args.get("expressions") or [])
        constant = any(isinstance(o, exp.Literal | exp.Cast | exp.Parameter | exp.Placeholder) for o in operands)
        if node.find(exp.Column) is None or not constant or node.args.get("query") is not None:
            continue
        if node.find_ancestor(exp.Select) is not tree:
            continue  # inside a subquery the fragment evaluates per row: it filters that subquery
        best = max(best, 2 if isinstance(node, _POINT) else 1)
    return best


# -- where a filter may go --------------------------------------------------------------------
@dataclass(frozen=True)
class FragmentInfo:
    """What planning knows of one fragment."""

    name: str
    outputs: frozenset[str] | None  # None: not known exactly
    keys: tuple[KeyColumn, ...]
    selectivity: int


@dataclass(frozen=True)
class _Edge:
    a: tuple[str, str]  # (fragment, output)
    b: tuple[str, str]
    both_ways: bool  # else only b may be filtered (by a's values)


def _items(select: exp.Select) -> list[exp.Expr]:
    from_ = select.args.get("from_")
    return ([from_.this] if from_ is not None else []) + [j.this for j in select.args.get("joins") or []]


def _inner_only(select: exp.Select) -> bool:
    return not select.args.get("laterals") and all(
        not j.side and j.kind in ("", "INNER", "CROSS") and not j.method and not j.args.get("using")
        for j in select.args.get("joins") or []
    )


def _operands(condition: exp.Expr | None, connector: type[exp.Connector]) -> Iterator[exp.Expr]:
    """The operands of ``condition``'s nested ``connector`` (AND or OR) nodes, parentheses removed."""
    if condition is None:
        return
    inner = condition.unnest()
    if isinstance(inner, connector):
        yield from _operands(inner.left, connector)
        yield from _operands(inner.right, connector)
    else:
        yield inner


def _conjuncts(condition: exp.Expr | None) -> Iterator[exp.Expr]:
    return _operands(condition, exp.And)


def _column_equality(condition: exp.Expr) -> frozenset[str] | None:
    """``a.x = b.y`` as the set of its two columns' SQL (either order), else None."""
    if isinstance(condition, exp.EQ) and isinstance(condition.this, exp.Column) \
            and isinstance(condition.expression, exp.Column):
        return frozenset((condition.this.sql(), condition.expression.sql()))
    return None


def _required_equalities(condition: exp.Or) -> Iterator[exp.Expr]:
    """The column equalities among the conjuncts of every disjunct of ``condition`` (the first
    disjunct's nodes): the OR is TRUE only if one of them holds. The disjuncts are in one
    SELECT, so the same column SQL names the same column in each."""
    first, *rest = list(_operands(condition, exp.Or))
    for candidate in _conjuncts(first):
        wanted = _column_equality(candidate)
        if wanted is not None and all(any(_column_equality(c) == wanted for c in _conjuncts(d)) for d in rest):
            yield candidate


def _filtering_conjuncts(select: exp.Select) -> Iterator[exp.Expr]:
    """Conditions a row of ``select``'s FROM product must satisfy to survive."""
    where = select.args.get("where")
    conditions = list(_conjuncts(where.this if where is not None else None))
    for join in select.args.get("joins") or []:
        conditions += _conjuncts(join.args.get("on"))
    for condition in conditions:
        yield condition
        if isinstance(condition, exp.Or):
            yield from _required_equalities(condition)


class _Resolver:
    """Which fragment output a column of the local part reads, or None when unsure."""

    def __init__(self, fragments: Mapping[str, FragmentInfo], once: set[str]) -> None:
        self.fragments = fragments
        self.once = once

    def item_fragment(self, item: exp.Expr) -> FragmentInfo | None:
        if isinstance(item, exp.Table) and not item.args.get("db") and item.name in self.once:
            return self.fragments.get(item.name)
        return None

    def resolve(self, column: exp.Column) -> tuple[exp.Select, str, str] | None:
        if isinstance(column.this, exp.Star) or column.args.get("db"):
            return None
        name, wanted = column.name, column.table or None
        select = column.find_ancestor(exp.Select)
        while select is not None:
            if select.args.get("laterals"):
                return None
            items = _items(select)
            if wanted is not None:
                named = [item for item in items if item.alias_or_name == wanted]
                if len(named) > 1:
                    return None
                if named:
                    info = self.item_fragment(named[0])
                    if info is None or info.outputs is None or name not in info.outputs:
                        return None
                    return select, info.name, name
            else:
                infos = [self.item_fragment(item) for item in items]
                if any(i is None or i.outputs is None for i in infos):
                    return None
                having = [i for i in infos if i is not None and i.outputs is not None and name in i.outputs]
                if len(having) > 1 or any(isinstance(e, exp.Alias) and e.alias == name for e in select.expressions):
                    return None
                if having:
                    return select, having[0].name, name
            select = select.parent.find_ancestor(exp.Select) if select.parent is not None else None
        return None


def _negated(node: exp.Expr, stop: exp.Expr) -> bool:
    while node is not stop and node.parent is not None:
        node = node.parent
        if isinstance(node, exp.Not):
            return True
    return False


def _edges(local: exp.Expr, resolver: _Resolver) -> list[_Edge]:
    edges: list[_Edge] = []
    for select in local.find_all(exp.Select):
        if not _inner_only(select):
            continue
        listed = {info.name for item in _items(select) if (info := resolver.item_fragment(item)) is not None}
        for conjunct in _filtering_conjuncts(select):
            if isinstance(conjunct, exp.EQ) and isinstance(conjunct.this, exp.Column) \
                    and isinstance(conjunct.expression, exp.Column):
                left, right = resolver.resolve(conjunct.this), resolver.resolve(conjunct.expression)
                if left is None or right is None or left[1] == right[1]:
                    continue
                mine = [side for side in (left, right) if side[0] is select and side[1] in listed]
                outer = [side for side in (left, right) if side[0] is not select]
                if len(mine) == 2:
                    edges.append(_Edge(left[1:], right[1:], both_ways=True))
                elif len(mine) == 1 and len(outer) == 1 and not _negated(select, local):
                    edges.append(_Edge(outer[0][1:], mine[0][1:], both_ways=False))
            elif isinstance(conjunct, exp.In) and isinstance(conjunct.this, exp.Column):
                edge = _semi_join(select, conjunct, listed, resolver)
                if edge is not None:
                    edges.append(edge)
    return edges


def _semi_join(select: exp.Select, condition: exp.In, listed: set[str], resolver: _Resolver) -> _Edge | None:
    """``x IN (SELECT y FROM b ...)`` as a WHERE conjunct (not an ON: the WHERE discards)."""
    where = select.args.get("where")
    query = condition.args.get("query")
    if where is None or condition.parent is None or query is None or not isinstance(query.this, exp.Select):
        return None
    inner = query.this
    if not any(c is condition for c in _conjuncts(where.this)) or not _inner_only(inner):
        return None
    if len(inner.expressions) != 1 or not isinstance(inner.expressions[0], exp.Column):
        return None
    outer, found = resolver.resolve(condition.this), resolver.resolve(inner.expressions[0])
    if outer is None or found is None or outer[0] is not select or outer[1] not in listed or found[0] is not inner:
        return None
    if outer[1] == found[1] or any(inner.args.get(k) for k in ("limit", "offset", "group", "having")):
        return None
    if any(node.find_ancestor(exp.Select) is inner for node in inner.find_all(exp.AggFunc, exp.Window)):
        return None
    return _Edge(outer[1:], found[1:], both_ways=True)


def _compatible(target: FragmentInfo, column: str, source: FragmentInfo, source_column: str) -> bool:
    mine = {k.output: k for k in target.keys}.get(column)
    theirs = {k.output: k for k in source.keys}.get(source_column)
    return mine is not None and theirs is not None and _family(mine.arrow_type) == _family(theirs.arrow_type)


def plan_dynamic_filters(local: exp.Expr, fragments: Sequence[FragmentInfo]) -> tuple[DynamicFilter, ...]:
    """The filters to add, each from a source fragment read before its target (no cycles)."""
    by_name = {f.name: f for f in fragments}
    counts: dict[str, int] = {}
    for node in local.find_all(exp.Table):
        if node.name in by_name and not node.args.get("db"):
            counts[node.name] = counts.get(node.name, 0) + 1
    once = {name for name, count in counts.items() if count == 1}
    edges = _edges(local, _Resolver(by_name, once))
    if not edges:
        return ()
    # Greedy, most selective first: a fragment is finished (its rank final) before it filters
    # another, so every filter points from an earlier fragment to a later one.
    rank = {f.name: float(f.selectivity) for f in fragments}
    done: set[str] = set()
    chosen: list[DynamicFilter] = []
    order = {f.name: position for position, f in enumerate(fragments)}
    while len(done) < len(fragments):
        current = max((n for n in by_name if n not in done), key=lambda n: (rank[n], -order[n]))
        done.add(current)
        for edge in edges:
            for (source, source_column), (target, column), allowed in (
                (edge.a, edge.b, True), (edge.b, edge.a, edge.both_ways)
            ):
                if not allowed or source != current or target in done:
                    continue
                if not _compatible(by_name[target], column, by_name[source], source_column):
                    continue
                if rank[current] <= by_name[target].selectivity:
                    if rank[current] > 0 and rank[current] == rank[target]:
                        chosen += _race(edge, chosen, by_name)
                    continue
                found = DynamicFilter(target, column, source, source_column)
                if found not in chosen:
                    chosen.append(found)
                    rank[target] = max(rank[target], rank[current] - 0.5)
    return tuple(chosen)


def _race(edge: _Edge, chosen: list[DynamicFilter], by_name: Mapping[str, FragmentInfo]) -> list[DynamicFilter]:
    """Race filters for two fragments that both filter their own rows and look equally
    selective: each way the edge allows and the keys are comparable, unless already planned."""
    ways = [(edge.a, edge.b)] + ([(edge.b, edge.a)] if edge.both_ways else [])
    found = []
    for (source, source_column), (target, column) in ways:
        race = DynamicFilter(target, column, source, source_column, race=True)
        if race not in chosen and _compatible(by_name[target], column, by_name[source], source_column):
            found.append(race)
    return found


# -- at run time ------------------------------------------------------------------------------
def _literal(value: object) -> exp.Expr:
    if isinstance(value, bool):
        raise TypeError("no boolean keys")
    if isinstance(value, int):
        return exp.Literal.number(str(value))
    if isinstance(value, Decimal):
        return exp.Literal.number(format(value, "f"))
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise TypeError(f"no literal for {type(value).__name__}")


def key_condition(
    column: exp.Expr,
    values: pa.ChunkedArray | pa.Array,
    target_type: pa.DataType,
    max_keys: int = MAX_KEYS,
    ranges: bool = True,
) -> exp.Expr | None:
    """``column IN (<distinct non-NULL values>)``, ``FALSE`` when there are none, a BETWEEN range
    of numbers or dates beyond ``max_keys`` (if ``ranges``), or None (no filter) when unsure."""
    family = _family(values.type)
    if family is None or family != _family(target_type):
        return None
    keys = pc.unique(values.drop_null())
    if len(keys) == 0:
        return exp.false()
    if family == "text" and pc.any(pc.match_substring(keys, "\x00")).as_py():
        return None
    if len(keys) <= max_keys:
        return exp.In(this=column, expressions=[_literal(v) for v in keys.to_pylist()])
    if family == "text" or not ranges:
        return None
    bounds = pc.min_max(keys)
    return exp.Between(this=column, low=_literal(bounds["min"].as_py()), high=_literal(bounds["max"].as_py()))


def _source_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """Column ``name`` of a fragment's result. A source may spell an output's name in another
    case than the SQL asked for (an engine whose identifiers ignore case); the local engine
    matches names without case, so the keys are found the same way."""
    if name in table.column_names:
        return table.column(name)
    matches = [i for i, found in enumerate(table.column_names) if found.casefold() == name.casefold()]
    if len(matches) != 1:
        raise KeyError(f"fragment result has no single column {name!r}: {table.column_names}")
    return table.column(matches[0])


def filtered_tree(
    tree: exp.Expr, filters: Sequence[DynamicFilter], sources: Mapping[str, pa.Table], target_types: Mapping[str, pa.DataType]
) -> exp.Expr | None:
    """``SELECT * FROM (<tree>) AS veil_dynamic WHERE <key conditions>`` for the target of
    ``filters`` (``sources``: the source fragments' results as read; ``target_types``: the
    target's key columns), or None when no filter applies."""
    conditions = []
    for found in filters:
        values = _source_column(local_table(sources[found.source]), found.source_column)
        column = exp.Column(this=exp.to_identifier(found.column, quoted=True),
                            table=exp.to_identifier(FILTERED_ALIAS, quoted=True))
        condition = key_condition(column, values, target_types[found.column], ranges=not found.race)
        if condition is not None:
            conditions.append(condition)
    if not conditions:
        return None
    derived = exp.Subquery(this=tree.copy(), alias=exp.TableAlias(this=exp.to_identifier(FILTERED_ALIAS, quoted=True)))
    select = exp.select(exp.Star()).from_(derived, copy=False)
    select.set("where", exp.Where(this=conjunction(*conditions)))
    return select
