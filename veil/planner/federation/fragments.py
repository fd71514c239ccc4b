"""The AST mechanics of federation: which columns and conditions belong to which table, and the
fragments (queries sent to one source) cut out of a statement.

Attribution is conservative. A column belongs to a table when its qualifier names the table in
the same SELECT, or when it is unqualified and exactly one table of that SELECT has it (and every
FROM item's columns are known). Whatever cannot be proven stays in the local part, where it is
evaluated exactly as written, so a wrong guess can only cost speed, never change a result.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sqlglot import exp

from veil.catalog.model import Table
from veil.planner.federation.dynamic_filter import KeyColumn, fragment_keys, selectivity
from veil.planner.federation.implied import implied_condition
from veil.planner.federation.preaggregate import plan_preaggregation, preaggregated_fragment
from veil.planner.federation.scope import alias_identifier, qualifier, select_of
from veil.planner.pushdown import (
    Protector,
    TableReference,
    identifier_name,
    quoted,
    replace_table,
    served_source,
    source_sql,
)
from veil.policy.masks import bind_hash_key, uses_hash_key
from veil.sql.conditions import conjunction

PART_PREFIX = "__veil_part_"
ROW_MARKER = "veil_row"  # the one column of a fragment the statement needs no column of
# A condition containing any of these stays local: it reads other rows or other tables.
_NOT_MOVABLE = (exp.Subquery, exp.Select, exp.Exists, exp.Table, exp.AggFunc, exp.Window, exp.Star)


class Placement(Protocol):
    """What planning needs to know about a source (every catalog source satisfies it)."""

    dialect: str

    @property
    def connection_key(self) -> Hashable: ...


@dataclass(frozen=True)
class Fragment:
    """One query sent to one source; its result is registered locally as table ``name``."""

    name: str
    connection: str
    sql: str
    tables: tuple[Table, ...]
    params: tuple[int, ...]  # statement parameter positions (0-based) bound to the fragment's $1..$n
    keys: tuple[KeyColumn, ...] = ()  # outputs a dynamic filter may compare (veil.planner.federation.dynamic_filter)
    selectivity: int = 0
    tree: exp.Expr | None = field(default=None, compare=False, repr=False)  # ``sql`` as a tree
    key_param: int | None = None  # the $n sent the hash key (after the fragment's parameters)


def render(tree: exp.Expr, dialect: str) -> tuple[str, tuple[int, ...]]:
    """SQL for ``tree`` with its ``$n`` placeholders renumbered densely from ``$1``, and the
    statement parameter positions (0-based) the new numbers stand for. Mutates ``tree``."""
    order: list[int] = []
    for parameter in list(tree.find_all(exp.Parameter)):
        if not parameter.this.name.isdigit():
            continue
        position = int(parameter.this.name) - 1
        if position not in order:
            order.append(position)
        parameter.set("this", exp.Literal.number(order.index(position) + 1))
    bind_hash_key(tree, len(order) + 1)
    return source_sql(tree, dialect), tuple(order)


def split_and(condition: exp.Expr | None) -> list[exp.Expr]:
    if condition is None:
        return []
    inner = condition.unnest()
    if isinstance(inner, exp.And):
        return split_and(inner.left) + split_and(inner.right)
    return [condition]


@dataclass
class Scope:
    """The FROM items of one SELECT."""

    select: exp.Select
    joins: list[exp.Join]
    items: list[exp.Expr]
    tables: dict[int, tuple[exp.Table, Table]]  # user tables among the items, by node id
    known: bool  # every item's columns are known, so unqualified columns can be attributed

    @classmethod
    def of(cls, select: exp.Select, refs: Mapping[int, TableReference], parts: Mapping[str, frozenset[str]]) -> Scope:
        joins = list(select.args.get("joins") or [])
        from_ = select.args.get("from_")
        items = ([from_.this] if from_ is not None else []) + [join.this for join in joins]
        tables = {id(item): (item, refs[id(item)].table) for item in items if id(item) in refs}
        known = not select.args.get("laterals") and all(
            isinstance(item, exp.Table)
            and not item.args.get("joins")
            and (id(item) in tables or (item.name in parts and item.name.startswith(PART_PREFIX)))
            for item in items
        )
        return cls(select, joins, items, tables, known)

    @property
    def inner_only(self) -> bool:
        """Every join is an inner or cross join: FROM items may be regrouped freely."""
        return all(
            not join.side and join.kind in ("", "INNER", "CROSS") and not join.method and not join.args.get("using")
            for join in self.joins
        )

    def owner(self, column: exp.Column) -> exp.Table | None:
        """The user table of this SELECT a column provably belongs to."""
        if isinstance(column.this, exp.Star) or column.args.get("db") is not None:
            return None
        name = identifier_name(column.this)
        wanted = qualifier(column)
        if wanted is not None:
            named = [(n, t) for n, t in self.tables.values() if identifier_name(alias_identifier(n, t)) == wanted]
            if len(named) == 1 and named[0][1].column(name) is not None:
                return named[0][0]
            return None
        if not self.known:
            return None
        having = [n for n, t in self.tables.values() if t.column(name) is not None]
        return having[0] if len(having) == 1 else None

    def owners(self, condition: exp.Expr) -> set[int] | None:
        """Ids of the tables a condition reads, or None when it may read anything else."""
        if condition.find(*_NOT_MOVABLE) is not None:
            return None
        found: set[int] = set()
        for column in condition.find_all(exp.Column):
            owner = self.owner(column)
            if owner is None:
                return None
            found.add(id(owner))
        return found or None

    def nullable(self, node: exp.Expr) -> bool:
        """Whether an outer join may NULL-extend this item's rows."""
        position = next(i for i, item in enumerate(self.items) if item is node)
        later = self.joins[position:]
        own = self.joins[position - 1] if position > 0 else None
        return (own is not None and own.side in ("LEFT", "FULL")) or any(j.side in ("RIGHT", "FULL") for j in later)


def _star_in(select: exp.Select | None) -> bool:
    """Whether ``select`` projects ``*`` as rows someone reads: the ``*`` of ``EXISTS (SELECT *
    ...)`` reads no column (EXISTS only asks whether a row is there)."""
    return (
        select is not None
        and not isinstance(select.parent, exp.Exists)
        and any(isinstance(e, exp.Star) for e in select.expressions)
    )


def _exists_star(column: exp.Column, select: exp.Select | None) -> bool:
    """``t.*`` projected by the SELECT of an EXISTS: it reads no column either."""
    return (
        select is not None
        and isinstance(select.parent, exp.Exists)
        and column.parent is select
        and column.arg_key == "expressions"
    )


def needed_columns(tree: exp.Expr, node: exp.Table, table: Table) -> list[str]:
    """The columns of ``table`` the rest of the statement may read through ``node`` (a superset:
    any column of that name the statement mentions unqualified or qualified by its alias)."""
    everything = [c.name for c in table.columns]
    alias_arg = node.args.get("alias")
    if isinstance(alias_arg, exp.TableAlias) and alias_arg.args.get("columns"):
        return everything  # AS t(a, b, ...) renames columns by position
    select = node.find_ancestor(exp.Select)
    joins = list(select.args.get("joins") or []) if select is not None else []
    if _star_in(select) or any(join.method for join in joins):
        return everything
    alias = identifier_name(alias_identifier(node, table))
    names = {identifier_name(ident) for join in joins for ident in join.args.get("using") or []}
    # A table's columns are visible only inside the SELECT that lists it (nested queries included).
    for column in (select or tree).find_all(exp.Column):
        wanted = qualifier(column)
        if isinstance(column.this, exp.Star):
            if wanted == alias and not _exists_star(column, select):
                return everything
            continue
        name = identifier_name(column.this)
        if wanted is None and name == alias and table.column(name) is None:
            return everything  # a whole-row reference such as to_json(t)
        if wanted in (None, alias):
            names.add(name)
    return [c for c in everything if c in names]


def _take(holder: exp.Expr, arg: str, keep_if: object, scope: Scope, wanted: set[int]) -> list[exp.Expr]:
    """Remove the conjuncts of ``holder.args[arg]`` that read exactly ``wanted`` and return them."""
    conjuncts = split_and(holder.args.get(arg))
    taken = [c for c in conjuncts if scope.owners(c) == wanted]
    if taken:
        rest = [c for c in conjuncts if all(c is not t for t in taken)]
        holder.set(arg, conjunction(*rest) if rest else keep_if)
    return [c.copy() for c in taken]


def _implied(condition: exp.Expr | None, scope: Scope, wanted: set[int]) -> list[exp.Expr]:
    """What the ORs among the conjuncts of ``condition`` imply about the tables ``wanted``
    (:mod:`veil.planner.federation.implied`); the conjuncts themselves stay where they are."""
    def movable(part: exp.Expr) -> bool:
        read = scope.owners(part)
        return read is not None and read <= wanted

    found = (implied_condition(c, movable) for c in split_and(condition))
    return [c for c in found if c is not None]


@dataclass
class FragmentBuilder:
    """Cuts fragments out of ``tree`` (the statement, being rewritten into the local part)."""

    tree: exp.Expr
    refs: dict[int, TableReference]
    sources: Mapping[str, Placement]
    protect: Protector | None
    parts: list[Fragment] = field(default_factory=list)
    part_columns: dict[str, frozenset[str]] = field(default_factory=dict)
    preaggregated: set[int] = field(default_factory=set)  # SELECTs (by id) with a pre-aggregated table
    _retired: list[exp.Expr] = field(default_factory=list)  # keeps ids of consumed nodes unique

    def scope(self, select: exp.Select) -> Scope:
        return Scope.of(select, self.refs, self.part_columns)

    def user_tables(self) -> Iterator[tuple[exp.Table, Table]]:
        for node in list(self.tree.find_all(exp.Table)):
            if id(node) in self.refs:
                yield node, self.refs[id(node)].table

    def protected_source(self, table: Table) -> exp.Expr:
        """The table as its source names it, or the policy-protected derived table over it."""
        return served_source(table, self.sources[table.connection].dialect, self.protect)

    def protected_alias(self, node: exp.Table, table: Table) -> exp.Expr:
        derived = self.protected_source(table)
        derived.set("alias", exp.TableAlias(this=alias_identifier(node, table)))
        return derived

    def add_part(
        self,
        tree: exp.Expr,
        tables: tuple[Table, ...],
        columns: list[str] | None = None,
        aliases: Mapping[str, Table] | None = None,
    ) -> str:
        """Register a fragment; ``columns`` are its output names when they are known exactly,
        ``aliases`` the tables its FROM items are aliased as (for its dynamic filter keys)."""
        connection = tables[0].connection
        uses_key = uses_hash_key(tree)
        sql, params = render(tree, self.sources[connection].dialect)
        name = f"{PART_PREFIX}{len(self.parts)}"
        keys = fragment_keys(tree, aliases) if aliases else ()
        key_param = len(params) + 1 if uses_key else None
        self.parts.append(Fragment(name, connection, sql, tables, params, keys, selectivity(tree), tree, key_param))
        if columns is not None:
            self.part_columns[name] = frozenset(columns)
        return name

    def consume(self, node: exp.Expr) -> None:
        self.refs.pop(id(node), None)
        self._retired.append(node)

    # -- one table ------------------------------------------------------------------------------
    def take_conditions(self, node: exp.Table, table: Table) -> list[exp.Expr]:
        """Remove from the statement the conditions that may run inside this table's fragment."""
        found = select_of(node)
        if found is None:
            return []
        select, own_join = found
        scope = self.scope(select)
        wanted = {id(node)}
        taken: list[exp.Expr] = []
        if not scope.nullable(node):
            where = select.args.get("where")
            if where is not None:
                taken += _take(where, "this", None, scope, wanted)
                taken += _implied(where.this, scope, wanted)
                if where.this is None:
                    select.set("where", None)
            for join in scope.joins:
                if not join.side and join.kind in ("", "INNER") and join.args.get("on") is not None:
                    taken += _take(join, "on", exp.true(), scope, wanted)
                    taken += _implied(join.args["on"], scope, wanted)
        if own_join is not None and own_join.side == "LEFT" and own_join.args.get("on") is not None:
            taken += _take(own_join, "on", exp.true(), scope, wanted)
        return taken

    def push_table(self, node: exp.Table, table: Table, conditions: list[exp.Expr]) -> None:
        """Replace one table reference by a fragment over its protected derived table."""
        plan = plan_preaggregation(self, node, table)
        if plan is not None:
            aliases = {identifier_name(alias_identifier(node, table)): table}
            name = self.add_part(preaggregated_fragment(self, node, table, conditions, plan), (table,), aliases=aliases)
            self.consume(node)
            replace_table(node, exp.Table(this=quoted(name)), table.name)
            return
        columns = needed_columns(self.tree, node, table)
        alias = alias_identifier(node, table)
        projections: list[exp.Expr] = [exp.Column(this=quoted(c), table=alias.copy()) for c in columns]
        select = exp.Select(expressions=projections or [exp.alias_(exp.true(), ROW_MARKER)])
        select = select.from_(self.protected_alias(node, table), copy=False)
        if conditions:
            select.set("where", exp.Where(this=conjunction(*(c.copy() for c in conditions))))
        name = self.add_part(select, (table,), columns or [ROW_MARKER], {identifier_name(alias): table})
        self.consume(node)
        replace_table(node, exp.Table(this=quoted(name)), table.name)

    # -- tables of one source joined together ------------------------------------------------
    def push_inner_join_groups(self, select: exp.Select) -> None:
        """In a SELECT whose FROM items are user tables combined by inner joins only, tables that
        share a connection key become one fragment holding their joins and filters."""
        scope = self.scope(select)
        if not scope.known or not scope.inner_only or len(scope.tables) != len(scope.items):
            return
        if _star_in(select) or any(isinstance(c.this, exp.Star) for c in select.find_all(exp.Column)):
            return
        by_key: dict[Hashable, list[int]] = {}
        for key, (_, table) in scope.tables.items():
            by_key.setdefault(self.sources[table.connection].connection_key, []).append(key)
        groups = _joined_groups([members for members in by_key.values() if len(members) > 1], scope)
        if not groups:
            return
        owners = _column_owners(scope)
        if owners is None:
            return
        _GroupRewrite(self, scope, groups, owners).apply()


def _joined_groups(candidates: list[list[int]], scope: Scope) -> list[list[int]]:
    """The tables of each candidate (one connection key) that conditions connect: a fragment
    never holds a cross product the statement only resolves through a table of another source
    (TPC-H Q9 joins part and partsupp only through lineitem; grouped, they multiplied)."""
    conjuncts = split_and(where.this) if (where := scope.select.args.get("where")) is not None else []
    for join in scope.joins:
        conjuncts += split_and(join.args.get("on"))
    links = [read for read in map(scope.owners, conjuncts) if read is not None and len(read) > 1]
    groups: list[list[int]] = []
    for members in candidates:
        component = {member: member for member in members}
        for read in links:
            if read <= component.keys():
                first, *rest = (_root(component, member) for member in read)
                for other in rest:
                    component[other] = first
        joined: dict[int, list[int]] = {}
        for member in members:
            joined.setdefault(_root(component, member), []).append(member)
        groups += [group for group in joined.values() if len(group) > 1]
    return groups


def _root(component: dict[int, int], member: int) -> int:
    while component[member] != member:
        member = component[member]
    return member


def _nested_names(select: exp.Select) -> set[str]:
    """Every name a query nested in ``select`` gives a relation (table, alias, derived table,
    CTE): inside it, a qualifier with such a name may mean that relation instead."""
    return {
        identifier_name(node.this)
        for node in select.find_all(exp.Table, exp.TableAlias)
        if node.find_ancestor(exp.Select) is not select and isinstance(node.this, exp.Identifier)
    }


def _column_owners(scope: Scope) -> dict[int, exp.Table] | None:
    """The owner of every column of the SELECT that reads one of its tables, or None when some
    column cannot be attributed (ambiguous, unqualified in a nested query, or shadowed by an
    output alias of the same name). A nested query's column qualified by one of the tables'
    aliases (TPC-H Q21's ``EXISTS (... WHERE l2.l_orderkey = l1.l_orderkey)``) belongs to that
    table when no relation inside the nested queries takes the same name."""
    select = scope.select
    aliases = {identifier_name(alias_identifier(n, t)) for n, t in scope.tables.values()}
    names = {c.name for _, t in scope.tables.values() for c in t.columns}
    outputs = {e.alias for e in select.expressions if isinstance(e, exp.Alias)}
    shadowed: set[str] | None = None
    owners: dict[int, exp.Table] = {}
    for column in select.find_all(exp.Column):
        wanted = qualifier(column)
        name = identifier_name(column.this)
        if column.find_ancestor(exp.Select) is not select:
            if wanted in aliases:
                shadowed = _nested_names(select) if shadowed is None else shadowed
                owner = scope.owner(column) if wanted not in shadowed else None
                if owner is None:
                    return None
                owners[id(column)] = owner
            elif wanted is None and name in names:
                return None  # a nested query may read this SELECT's tables
            continue
        owner = scope.owner(column)
        if owner is None:
            if wanted in aliases or (wanted is None and name in names):
                return None
            continue
        if wanted is None and name in outputs:
            return None
        owners[id(column)] = owner
    return owners


@dataclass
class _GroupRewrite:
    builder: FragmentBuilder
    scope: Scope
    groups: list[list[int]]
    owners: dict[int, exp.Table]
    inner: dict[int, Table] = field(default_factory=dict)  # tables of moved subqueries, by node id
    extra: dict[int, list[Table]] = field(default_factory=dict)  # group -> those tables

    def _subquery_home(self, conjunct: exp.Expr, group_of: Mapping[int, int]) -> int | None:
        """The group a conjunct with subqueries may move into whole (TPC-H Q21's ``EXISTS`` and
        ``NOT EXISTS`` over ``lineitem``, correlated with ``l1`` only): every table it reads is a
        user table of the group's connection key, every column is either a group table's (by
        :func:`_column_owners`, which refuses names the subqueries shadow) or qualified by an
        alias of a table inside it, and no window or aggregate reads the outer rows. The
        fragment then evaluates it per row of the group's join, exactly as the local part would."""
        if conjunct.find(exp.Select) is None or conjunct.find(exp.CTE) is not None:
            return None
        if any(n.find_ancestor(exp.Select) is self.scope.select for n in conjunct.find_all(exp.AggFunc, exp.Window)):
            return None
        tables = list(conjunct.find_all(exp.Table))
        if not tables or any(id(node) not in self.builder.refs for node in tables):
            return None
        if any(s.args.get("alias") is not None for s in conjunct.find_all(exp.Subquery)):
            return None  # a derived table inside: its output names are not tracked here
        inner = {id(node): self.builder.refs[id(node)].table for node in tables}
        local = {identifier_name(alias_identifier(node, inner[id(node)])) for node in tables}
        outer = {identifier_name(alias_identifier(n, t)) for n, t in self.scope.tables.values()}
        if local & outer or len(local) != len(tables):
            return None
        homes: set[int | None] = set()
        for column in conjunct.find_all(exp.Column):
            owner = self.owners.get(id(column))
            if owner is not None:
                homes.add(group_of.get(id(owner)))
            elif qualifier(column) not in local:
                return None
        home = homes.pop() if len(homes) == 1 else None
        if home is None:
            return None
        key = {self.builder.sources[t.connection].connection_key for t in inner.values()}
        members = self.groups[home]
        if key != {self.builder.sources[self.scope.tables[members[0]][1].connection].connection_key}:
            return None
        self.inner.update(inner)
        extra = self.extra.setdefault(home, [])
        extra += [t for t in dict.fromkeys(inner.values()) if t not in extra]
        for node in tables:
            self.builder.consume(node)
        return home

    def apply(self) -> None:
        select = self.scope.select
        where = select.args.get("where")
        conjuncts = split_and(where.this if where is not None else None)
        for join in self.scope.joins:
            conjuncts += split_and(join.args.get("on"))
        group_of = {member: g for g, members in enumerate(self.groups) for member in members}
        moved: dict[int, list[exp.Expr]] = {g: [] for g in range(len(self.groups))}
        kept: list[exp.Expr] = []
        for conjunct in conjuncts:
            read = self.scope.owners(conjunct)
            homes = {group_of.get(member) for member in read} if read else {None}
            home = homes.pop() if len(homes) == 1 else None
            if read is None:
                home = self._subquery_home(conjunct, group_of)
            if home is not None:
                moved[home].append(conjunct)
            else:
                kept.append(conjunct)
                for g, members in enumerate(self.groups):
                    moved[g] += _implied(conjunct, self.scope, set(members))
        moved_columns = {id(c) for group in moved.values() for cond in group for c in cond.find_all(exp.Column)}
        replacement: dict[int, exp.Table] = {}
        for g, members in enumerate(self.groups):
            name, renames = self._fragment(members, moved[g], moved_columns)
            for column in list(select.find_all(exp.Column)):
                owner = self.owners.get(id(column))
                if owner is not None and id(owner) in members and id(column) not in moved_columns:
                    self._rename(column, name, renames[(id(owner), identifier_name(column.this))])
            replacement[members[0]] = exp.Table(this=quoted(name), alias=exp.TableAlias(this=quoted(name)))
            for member in members:
                self.builder.consume(self.scope.tables[member][0])
        grouped = {member for members in self.groups for member in members}
        items = [
            replacement.get(id(item), item)
            for item in self.scope.items
            if id(item) not in grouped or id(item) in replacement
        ]
        select.set("from_", exp.From(this=items[0]))
        select.set("joins", [exp.Join(this=item, kind="CROSS") for item in items[1:]] or None)
        select.set("where", exp.Where(this=conjunction(*kept)) if kept else None)

    def _fragment(
        self, members: list[int], conditions: list[exp.Expr], moved_columns: set[int]
    ) -> tuple[str, dict[tuple[int, str], str]]:
        renames: dict[tuple[int, str], str] = {}
        projections: list[exp.Expr] = []
        for column in self.scope.select.find_all(exp.Column):
            owner = self.owners.get(id(column))
            if owner is None or id(owner) not in members or id(column) in moved_columns:
                continue
            name = identifier_name(column.this)
            if (id(owner), name) in renames:
                continue
            table = self.scope.tables[id(owner)][1]
            alias = alias_identifier(owner, table)
            output = f"{identifier_name(alias)}.{name}"
            while output in renames.values():
                output += "'"
            renames[(id(owner), name)] = output
            projections.append(exp.alias_(exp.Column(this=quoted(name), table=alias), quoted(output)))
        nodes = [self.scope.tables[m] for m in members]
        select = exp.Select(expressions=projections or [exp.alias_(exp.true(), ROW_MARKER)])
        select = select.from_(self.builder.protected_alias(*nodes[0]), copy=False)
        for node, table in nodes[1:]:
            select = select.join(self.builder.protected_alias(node, table), join_type="CROSS", copy=False)
        if conditions:
            select.set("where", exp.Where(this=conjunction(*(self._protected(c) for c in conditions))))
        columns = list(renames.values()) or [ROW_MARKER]
        aliases = {identifier_name(alias_identifier(n, t)): t for n, t in nodes}
        group = next(g for g, group_members in enumerate(self.groups) if group_members is members)
        tables = tuple(t for _, t in nodes)
        tables += tuple(t for t in self.extra.get(group, ()) if t not in tables)
        return self.builder.add_part(select, tables, columns, aliases), renames

    def _protected(self, condition: exp.Expr) -> exp.Expr:
        """A copy of ``condition`` whose subqueries read the policy-protected derived tables."""
        copy = condition.copy()
        for node, original in zip(list(copy.find_all(exp.Table)), list(condition.find_all(exp.Table)), strict=True):
            table = self.inner.get(id(original))
            if table is not None:
                replace_table(node, self.builder.protected_source(table), table.name)
        return copy

    def _rename(self, column: exp.Column, part: str, output: str) -> None:
        replacement: exp.Expr = exp.Column(this=quoted(output), table=quoted(part))
        if column.parent is self.scope.select and column.arg_key == "expressions":
            replacement = exp.Alias(this=replacement, alias=column.this.copy())
        column.replace(replacement)
