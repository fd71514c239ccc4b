"""Canonical form of a statement before typing and rewriting.

* Unquoted identifiers fold to lower case (``AS TABLE_SCHEM`` names the column ``table_schem``,
  as in PostgreSQL).
* ``pg_catalog.f(...)`` becomes ``f(...)`` so qualified calls reach the same typed sqlglot
  functions as unqualified ones (``pg_catalog.array_to_string`` → ``ArrayToString``).
* ``x <> ALL (array)`` (which sqlglot reads as a call of a function ``ALL``) becomes an
  ``All`` node, and ``SOME`` an ``Any`` node.
* ``FROM unnest(x)`` in its qualified form (a table whose "name" is a call) becomes the
  ``Unnest`` FROM item sqlglot produces for the unqualified form.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from veil.pgcatalog.scopes import CATALOG_SCHEMAS

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _unqualified(call: exp.Anonymous) -> exp.Expr:
    """The call as the parser reads it unqualified: functions with their own grammar
    (``string_agg(x, ', ')`` → ``GroupConcat``) are not built by ``exp.func``."""
    built = exp.func(call.name, *call.expressions, dialect="postgres")
    if not isinstance(built, exp.Anonymous):
        return built
    try:
        parsed = sqlglot.parse_one(f"SELECT {call.sql(dialect='postgres')}", read="postgres")
    except sqlglot.errors.ParseError:
        return built
    reparsed = parsed.expressions[0] if isinstance(parsed, exp.Select) else built
    return built if isinstance(reparsed, exp.Anonymous) else reparsed


def normalize(statement: exp.Expr) -> exp.Expr:
    tree = normalize_identifiers(statement.copy(), dialect="postgres")
    # Innermost first: rebuilding an outer call copies its arguments, which would detach a
    # qualified call nested inside it (psql's \\dp nests pg_catalog.array_to_string).
    for dot in reversed(list(tree.find_all(exp.Dot))):
        if dot.find_ancestor(exp.DataType) is not None:
            continue
        schema = dot.this
        call = dot.expression
        if (
            isinstance(schema, exp.Identifier)
            and schema.name in CATALOG_SCHEMAS
            and isinstance(call, exp.Anonymous)
        ):
            dot.replace(_unqualified(call))
    for call in list(tree.find_all(exp.Anonymous)):
        quantifier = call.name.lower()
        quantified = quantifier in ("all", "some", "any") and len(call.expressions) == 1
        if quantified and isinstance(call.parent, _COMPARISONS):
            node = exp.All if quantifier == "all" else exp.Any
            call.replace(node(this=call.expressions[0]))
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Explode):
            alias = table.args.get("alias")
            table.replace(exp.Unnest(expressions=[table.this.this], alias=alias))
        elif not isinstance(table.this, exp.Identifier) and table.db in CATALOG_SCHEMAS:
            table.set("db", None)
    return tree
