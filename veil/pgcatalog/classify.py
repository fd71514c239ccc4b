"""Which statements the local engine answers: those that read no user table."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.pgcatalog.schema import RELATIONS
from veil.pgcatalog.scopes import find_cte

IsUserTable = Callable[[str | None, str], bool]


def references_local_only(statement: exp.Expr, is_user_table: IsUserTable) -> bool:
    """True when no table reference in ``statement`` is a user table.

    CTE names and table functions are not tables. ``pg_catalog``/``information_schema``
    relations are never user tables, and an unqualified catalog name such as ``pg_class``
    means ``pg_catalog.pg_class`` (pg_catalog is searched first, as in PostgreSQL).
    ``is_user_table(schema, name)`` resolves everything else (schema None = search path).
    """
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        if find_cte(table) is not None:
            continue
        schema = table.db or None
        if schema in ("pg_catalog", "information_schema"):
            continue
        if schema is None and ("pg_catalog", table.name) in RELATIONS:
            continue
        if is_user_table(schema, table.name):
            return False
    return True
