"""Result column names as PostgreSQL gives them, in the SQL Veil sends.

Engines name an unaliased computed column after their own rendering of it (DuckDB: ``count_star()``,
``(a + 1)``), PostgreSQL after the function, the cast's type or ``?column?``
(:func:`veil.pgcatalog.naming.output_name`). Clients see these names, and an outer query
reading ``s.count`` from a derived table needs them, so every such column is aliased with its
PostgreSQL name before the SQL is rendered for a source or for the local engine.
"""

from __future__ import annotations

from sqlglot import exp

from veil.pgcatalog.naming import output_name


def name_select_outputs(select: exp.Select) -> None:
    select.set("expressions", [
        e if isinstance(e, exp.Alias | exp.Column | exp.Star) else exp.alias_(e, output_name(e), quoted=True, copy=False)
        for e in select.expressions
    ])


def name_outputs(tree: exp.Expr) -> None:
    """:func:`name_select_outputs` for every SELECT of a statement."""
    for select in tree.find_all(exp.Select):
        name_select_outputs(select)


def postgres_names(tree: exp.Expr, names: list[str]) -> list[str]:
    """The result's column names as PostgreSQL gives them: engines rename duplicate output
    columns (DuckDB: ``country``, ``country_1``), PostgreSQL keeps both as ``country``. A name
    is given back its PostgreSQL form only where the select list says that is what it was."""
    selects = tree.selects if isinstance(tree, exp.Query) else []
    if len(selects) != len(names) or any(s.is_star for s in selects):
        return names
    result: list[str] = []
    for expression, name in zip(selects, names, strict=True):
        if isinstance(expression, exp.Alias):
            wanted = expression.alias
        elif isinstance(expression, exp.Column):
            wanted = expression.name
        else:
            wanted = output_name(expression)
        base, _, suffix = name.rpartition("_")
        renamed = suffix.isdigit() and base == wanted and base in result
        result.append(base if renamed else name)
    return result
