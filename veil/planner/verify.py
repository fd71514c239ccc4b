"""The last check before SQL leaves Veil: prove that it reads nothing but what policies allow.

The policy rewrite replaces every table a statement reads by the derived table the user may see
(:mod:`veil.policy.rewrite`). This module does not trust that rewrite: it parses the exact
text that goes to a source (or to the local DuckDB that joins fragments), in that engine's
dialect, resolves every relation name by scope (sqlglot's scope analysis: a bare name is a CTE
only where that CTE is visible) and accepts the statement only when every relation it reads is

* a relation Veil built for this statement (``allowed``): a policy-protected derived table, the
  served form of a table the user may read unmasked, or a federated fragment's result. These are
  identified by *content* (their canonical SQL), so a look-alike the user wrote either is exactly
  the protected table, or is refused;
* a CTE defined in scope (whose own body passes the same check, since every relation of the
  statement is checked wherever it is);
* VALUES, UNNEST, or an allowed table function (``generate_series`` and its spellings).

Anything else, anything it cannot parse or scope, and any statement that is not a single query
is refused with 42501. Everything here is pure: SQL text and markers in, None or an error out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from veil.errors import VeilError
from veil.planner.federation.plan import LOCAL_DIALECT, FederatedPlan, Placement
from veil.planner.pushdown import SourcePlan, quoted, source_sql
from veil.policy.masks import HASH_KEY_NAME, is_hash_key
from veil.sql.ctes import UnresolvableScopes, cte_bindings

#: Table-valued functions a statement may read: they produce rows from their arguments only.
ALLOWED_TABLE_FUNCTIONS = frozenset({"generate_series", "range", "generate_subscripts", "unnest"})
_ALLOWED_TABLE_EXPRESSIONS = tuple(
    getattr(exp, name) for name in ("GenerateSeries", "ExplodingGenerateSeries", "Explode", "Unnest") if hasattr(exp, name)
)


class RefusedStatement(VeilError):
    def __init__(self, reason: str) -> None:
        super().__init__("42501", f"Veil refused to send this statement: {reason}")


@dataclass(frozen=True)
class Outgoing:
    """One SQL text about to be sent: where (``dialect``), and which ``$n`` carries the hash key."""

    sql: str
    dialect: str
    key_param: int | None = None


def _key_node() -> exp.Placeholder:
    return exp.Placeholder(this=HASH_KEY_NAME)


def _mark_key(tree: exp.Expr, key_param: int | None) -> None:
    """Write (in place) the hash key's parameter as the key placeholder, so that the same
    relation compares equal whatever ``$n`` a statement gave the key."""
    wanted = None if key_param is None else str(key_param)
    for parameter in list(tree.find_all(exp.Parameter, exp.Placeholder)):
        if is_hash_key(parameter) or (wanted is not None and parameter.name == wanted):
            parameter.replace(_key_node())


def _canonical(node: exp.Expr, dialect: str) -> str:
    """``node`` as SQL (a table without its alias and what hangs off it)."""
    if isinstance(node, exp.Table):
        parts = {k: node.args[k].copy() for k in ("this", "db", "catalog") if node.args.get(k) is not None}
        return exp.Table(**parts).sql(dialect=dialect, copy=False)
    return node.sql(dialect=dialect, copy=False)


def relation_marker(relation: exp.Expr, dialect: str) -> str:
    """The marker of a relation Veil built (a derived table, or a table read as it is): rendered
    as it is sent to a source in ``dialect``, parsed back and made canonical exactly like the
    relations found in outgoing SQL."""
    if isinstance(relation, exp.Subquery):
        parsed = sqlglot.parse_one(source_sql(relation.this.copy(), dialect), read=dialect)
    elif isinstance(relation, exp.Table):
        table = exp.Table(this=relation.this.copy(), db=relation.args.get("db"), catalog=relation.args.get("catalog"))
        query = sqlglot.parse_one(source_sql(exp.select(exp.Star()).from_(table), dialect), read=dialect)
        parsed = query.args["from_"].this
    else:
        raise TypeError(f"not a relation: {type(relation).__name__}")
    _mark_key(parsed, None)
    return _canonical(parsed, dialect)


def _table_function(node: exp.Table) -> str | None:
    """The name of the table function ``node`` calls (None when it names a relation)."""
    call = node.this
    if isinstance(call, exp.Identifier):
        return None
    if isinstance(call, _ALLOWED_TABLE_EXPRESSIONS):
        return "generate_series"
    if isinstance(call, exp.Anonymous):
        return str(call.this).lower()
    return call.sql_name().lower() if isinstance(call, exp.Func) else type(call).__name__.lower()


def _derived_body(node: exp.Table) -> exp.Select | None:
    """The SELECT of the derived table ``(SELECT ... FROM node ...)`` that reads ``node``."""
    from_ = node.parent
    select = from_.parent if isinstance(from_, exp.From) else None
    if isinstance(select, exp.Select) and isinstance(select.parent, exp.Subquery):
        return select
    return None


def verify_sql(outgoing: Outgoing, allowed: Iterable[str]) -> None:
    """Raise :class:`RefusedStatement` unless every relation ``outgoing.sql`` reads is allowed."""
    markers = allowed if isinstance(allowed, (set, frozenset)) else frozenset(allowed)
    dialect = outgoing.dialect
    try:
        statements = [s for s in sqlglot.parse(outgoing.sql, read=dialect) if s is not None]
    except (SqlglotError, RecursionError):
        raise RefusedStatement("its SQL could not be analysed") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise RefusedStatement("only a single query may be sent to a source")
    tree = statements[0]
    _mark_key(tree, outgoing.key_param)
    try:
        ctes = cte_bindings(tree, dialect)
    except UnresolvableScopes:
        raise RefusedStatement("its relations could not be resolved") from None
    for node in tree.find_all(exp.Table):
        if id(node) in ctes:
            continue
        function = _table_function(node)
        if function is not None:
            if function not in ALLOWED_TABLE_FUNCTIONS:
                raise RefusedStatement(f"table function {function} is not allowed")
            continue
        if _canonical(node, dialect) in markers:
            continue
        body = _derived_body(node)
        if body is not None and _canonical(body, dialect) in markers:
            continue
        raise RefusedStatement(f"relation {_canonical(node, dialect)} is not a policy-protected table")


def verify_all(outgoing: Iterable[Outgoing], allowed: Iterable[str]) -> None:
    markers = frozenset(allowed)
    for one in outgoing:
        verify_sql(one, markers)


def verify_plan(plan: SourcePlan | FederatedPlan, sources: Mapping[str, Placement]) -> None:
    """Verify every SQL text a plan sends: to its source(s), and to the local DuckDB (which may
    read the fragments' results only)."""
    if isinstance(plan, SourcePlan):
        verify_sql(Outgoing(plan.sql, sources[plan.connection].dialect, plan.key_param), plan.protected)
        return
    fragments = [Outgoing(f.sql, sources[f.connection].dialect, f.key_param) for f in plan.fragments]
    verify_all(fragments, plan.protected)
    parts = frozenset(relation_marker(exp.Table(this=quoted(f.name)), LOCAL_DIALECT) for f in plan.fragments)
    verify_sql(Outgoing(plan.local_sql, LOCAL_DIALECT), parts)
