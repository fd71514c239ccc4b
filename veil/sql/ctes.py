"""Which table references name a CTE, resolved by scope as the engine running the SQL does.

A bare name is a CTE only inside the scope that defines it (and the scopes nested in it, and
for a non-recursive ``WITH`` only after the definition): ``transactions`` inside a subquery with
``WITH transactions AS (...)`` is that CTE, while ``transactions`` elsewhere in the same
statement is still the table. Resolution uses sqlglot's scope analysis over a copy whose
identifiers are folded as ``dialect`` folds them.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import traverse_scope

from veil import errcodes

CTE_PREFIX = "__veil_cte_"


class UnresolvableScopes(Exception):
    """sqlglot could not build the statement's scopes."""


def cte_bindings(statement: exp.Expr, dialect: str = "postgres") -> dict[int, int]:
    """``id`` of each table node that names a CTE -> ``id`` of that CTE's node (both in
    ``statement``). Raises :class:`UnresolvableScopes` when the scopes cannot be built."""
    if statement.find(exp.CTE) is None:
        return {}
    folded = normalize_identifiers(statement.copy(), dialect=dialect)
    tables = {id(c): o for c, o in zip(folded.find_all(exp.Table), statement.find_all(exp.Table), strict=True)}
    ctes = {id(c): o for c, o in zip(folded.find_all(exp.CTE), statement.find_all(exp.CTE), strict=True)}
    bound: dict[int, int] = {}
    try:
        scopes = traverse_scope(folded)
    except (SqlglotError, RecursionError, KeyError, ValueError) as exc:
        raise UnresolvableScopes(str(exc)) from None
    for scope in scopes:
        for node in scope.tables:
            if node.args.get("db") or node.args.get("catalog") or not isinstance(node.this, exp.Identifier):
                continue
            source = scope.cte_sources.get(node.name)
            holder = source.expression if source is not None else None
            while holder is not None and not isinstance(holder, exp.CTE):
                holder = holder.parent  # a recursive CTE's scope is one branch of its UNION
            if isinstance(holder, exp.CTE) and holder.alias_or_name == node.name and id(holder) in ctes:
                bound[id(tables[id(node)])] = id(ctes[id(holder)])
    return bound


def rename_ctes(statement: exp.Expr, bindings: dict[int, int]) -> None:
    """Give every CTE of ``statement`` (mutated) a unique internal name, and every reference
    bound to it (``bindings``, as :func:`cte_bindings` returns for this tree) the same name,
    aliased as the user named it so that column qualifiers keep resolving. A source then cannot
    bind a user's CTE name to one of its tables, nor a table name to a user's CTE."""
    names: dict[int, str] = {}
    for position, cte in enumerate(statement.find_all(exp.CTE)):
        alias = cte.args.get("alias")
        if not isinstance(alias, exp.TableAlias) or not isinstance(alias.this, exp.Identifier):
            continue
        names[id(cte)] = f"{CTE_PREFIX}{position}"
        alias.set("this", exp.Identifier(this=names[id(cte)], quoted=True))
    for node in list(statement.find_all(exp.Table)):
        target = bindings.get(id(node))
        if target is None or target not in names:
            continue
        if node.args.get("alias") is None:
            node.set("alias", exp.TableAlias(this=node.this.copy()))
        node.set("this", exp.Identifier(this=names[target], quoted=True))


def _self_references(node: exp.Expr, name: str) -> int:
    return sum(
        1 for table in node.find_all(exp.Table)
        if not table.args.get("db") and not table.args.get("catalog") and isinstance(table.this, exp.Identifier)
        and (table.this.this if table.this.quoted else table.this.this.lower()) == name
    )


def check_recursive(statement: exp.Expr) -> None:
    """PostgreSQL's 42P19 for a ``WITH RECURSIVE`` item that refers to itself other than once, in
    the recursive term of a ``UNION`` (DuckDB would bind such a name to a table or report a
    "circular reference")."""
    for with_ in statement.find_all(exp.With):
        if not with_.args.get("recursive"):
            continue
        for cte in with_.expressions:
            alias = cte.args.get("alias")
            if not isinstance(alias, exp.TableAlias) or not isinstance(alias.this, exp.Identifier):
                continue
            name = alias.this.this if alias.this.quoted else alias.this.this.lower()
            body = cte.this
            if not _self_references(body, name):
                continue
            if not isinstance(body, exp.Union):
                raise errcodes.InvalidRecursion(f'recursive query "{name}" does not have the form non-recursive-term UNION [ALL] recursive-term')
            if _self_references(body.this, name):
                raise errcodes.InvalidRecursion(f'recursive reference to query "{name}" must not appear within its non-recursive term')
            if _self_references(body.expression, name) > 1:
                raise errcodes.InvalidRecursion(f'recursive reference to query "{name}" must not appear more than once')
