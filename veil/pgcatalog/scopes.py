"""Name resolution helpers: what a FROM item provides, which function a call names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from veil.pgcatalog.schema import CatalogRelation, find_relation

CATALOG_SCHEMAS = ("pg_catalog", "information_schema")

# Unquoted keywords sqlglot parses as column names but PostgreSQL treats as functions.
KEYWORD_COLUMNS = frozenset(
    {"user", "current_role", "current_user", "session_user", "current_catalog", "current_schema"}
)

# sqlglot's typed nodes for PostgreSQL's SQL-standard "functions", by their PostgreSQL name.
TYPED_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentRole: "current_role",
    exp.CurrentSchema: "current_schema",
    exp.CurrentSchemas: "current_schemas",
    exp.CurrentCatalog: "current_catalog",
    exp.CurrentDatabase: "current_database",
    exp.CurrentVersion: "version",
    exp.Format: "format",
}


@dataclass
class Source:
    """One FROM item: a catalog relation, a subquery/CTE, or a table function."""

    alias: str
    node: exp.Expr
    relation: CatalogRelation | None = None
    query: exp.Expr | None = None
    function: exp.Expr | None = None
    column_names: list[str] = field(default_factory=list)
    cte: exp.CTE | None = None


def function_name(node: exp.Expr) -> str | None:
    """The PostgreSQL name a call refers to (``pg_catalog.`` and ``information_schema.``
    qualifiers dropped); None for nodes that are not calls of named functions."""
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        schema = node.this.name if isinstance(node.this, exp.Identifier) else None
        name = node.expression.name.lower()
        return name if schema in CATALOG_SCHEMAS else f"{schema}.{name}"
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    for cls, name in TYPED_FUNCTIONS.items():
        if isinstance(node, cls):
            return name
    return None


def function_args(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Dot):
        node = node.expression
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    args = [node.args.get("this"), *node.args.get("expressions", [])]
    return [a for a in args if isinstance(a, exp.Expr)]


def parameter_number(node: exp.Expr) -> int:
    value = node.this
    text = value.name if isinstance(value, exp.Expr) else str(value)
    return int(text)


def expandarray_call(node: exp.Expr | None) -> exp.Anonymous | None:
    """The ``_pg_expandarray(...)`` call in ``node`` (possibly parenthesised/qualified)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        node = node.expression
    if isinstance(node, exp.Anonymous) and node.name.lower() == "_pg_expandarray":
        return node
    return None


def enclosing_selects(node: exp.Expr) -> Iterator[exp.Select]:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Select):
            yield parent
        parent = parent.parent


def find_cte(table: exp.Table) -> exp.CTE | None:
    """The CTE an unqualified table name refers to, searching enclosing WITH clauses."""
    if table.args.get("db") or not isinstance(table.this, exp.Identifier):
        return None
    name = table.name
    node: exp.Expr | None = table
    while node is not None:
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if with_ is not None:
            for cte in with_.expressions:
                if cte.alias == name:
                    return cte
        node = node.parent
    return None


def _alias_columns(node: exp.Expr) -> list[str]:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias):
        return [c.name for c in alias.columns]
    return []


def source_of(item: exp.Expr) -> Source | None:
    """Describe one FROM/JOIN item."""
    alias = item.alias_or_name
    if isinstance(item, exp.Table):
        if isinstance(item.this, exp.Identifier):
            cte = find_cte(item)
            if cte is not None:
                cte_columns = _alias_columns(cte)
                return Source(alias, item, query=cte.this, column_names=cte_columns, cte=cte)
            relation = find_relation(item.db or None, item.name) if not item.catalog else None
            return Source(alias, item, relation=relation)
        alias = item.alias or function_name(item.this) or ""
        return Source(alias, item, function=item.this, column_names=_alias_columns(item))
    if isinstance(item, exp.Unnest):
        return Source(item.alias or "unnest", item, function=item, column_names=_alias_columns(item))
    if isinstance(item, exp.Subquery):
        return Source(alias, item, query=item.this, column_names=_alias_columns(item))
    if isinstance(item, exp.Values):
        return Source(alias, item, query=item, column_names=_alias_columns(item))
    if isinstance(item, exp.Lateral):
        return Source(alias, item, query=item.this, column_names=_alias_columns(item))
    return None


def _flatten(item: exp.Expr) -> Iterator[exp.Expr]:
    """FROM items, looking into parenthesised joins ``((a JOIN b ON ...) JOIN c ON ...)``,
    which sqlglot represents as unaliased subqueries around a table carrying the joins."""
    if isinstance(item, exp.Subquery) and not item.alias and isinstance(
        item.this, exp.Table | exp.Subquery
    ):
        yield from _flatten(item.this)
    else:
        yield item
    if isinstance(item, exp.Table | exp.Subquery):
        for join in item.args.get("joins") or []:
            yield from _flatten(join.this)


def from_items(select: exp.Select) -> list[exp.Expr]:
    items: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.extend(_flatten(from_.this))
    for join in select.args.get("joins") or []:
        items.extend(_flatten(join.this))
    return items


def sources(select: exp.Select) -> dict[str, Source]:
    found: dict[str, Source] = {}
    for item in from_items(select):
        source = source_of(item)
        if source is not None:
            found.setdefault(source.alias, source)
    return found
