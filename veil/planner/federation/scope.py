"""Where a table reference sits in a SELECT's FROM clause and the name it is known by there.

Pure functions over sqlglot trees, shared by :mod:`veil.planner.federation.fragments` and the rewrites it
calls (:mod:`veil.planner.federation.preaggregate`), which sit below it.
"""

from __future__ import annotations

from sqlglot import exp

from veil.catalog.model import Table
from veil.planner.pushdown import identifier_name, quoted


def alias_identifier(node: exp.Table, table: Table) -> exp.Identifier:
    """The name a table reference is known by: its alias, else its Veil table name."""
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and isinstance(alias.this, exp.Identifier):
        return alias.this.copy()
    return quoted(table.name)


def qualifier(column: exp.Column) -> str | None:
    table = column.args.get("table")
    return identifier_name(table) if table is not None else None


def select_of(node: exp.Expr) -> tuple[exp.Select, exp.Join | None] | None:
    """The SELECT whose FROM clause lists ``node`` directly (and the join that adds it)."""
    parent = node.parent
    if isinstance(parent, exp.From) and isinstance(parent.parent, exp.Select):
        return parent.parent, None
    if isinstance(parent, exp.Join) and node.arg_key == "this" and isinstance(parent.parent, exp.Select):
        return parent.parent, parent
    return None

