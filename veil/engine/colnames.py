"""Result column names as PostgreSQL gives them.

Engines name an unaliased computed column after their own rendering of it (DuckDB: ``count_star()``,
``(a + 1)``), PostgreSQL after the function or ``?column?``. Clients see these names, and a query
reading ``s.count`` from a derived table needs them, so the SQL Veil sends aliases such columns
with the PostgreSQL name.
"""

from __future__ import annotations

from sqlglot import exp

_TYPE_NAMES = {
    "INT": "int4", "BIGINT": "int8", "SMALLINT": "int2", "FLOAT": "float4", "DOUBLE": "float8",
    "BOOLEAN": "bool", "DECIMAL": "numeric", "NUMERIC": "numeric", "VARCHAR": "varchar", "TEXT": "text",
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz",
}


def output_name(expression: exp.Expression) -> str:
    """The column name PostgreSQL gives an unaliased select-list expression (FigureColname)."""
    if isinstance(expression, exp.Column):
        return expression.name
    if isinstance(expression, exp.Cast):
        inner = output_name(expression.this)
        if inner != "?column?":
            return inner
        base = expression.to.this.value if isinstance(expression.to.this, exp.DType) else str(expression.to.this)
        return _TYPE_NAMES.get(base, base.lower())
    if isinstance(expression, exp.Window):
        return output_name(expression.this)
    if isinstance(expression, exp.Case):
        return "case"
    if isinstance(expression, exp.Exists):
        return "exists"
    if isinstance(expression, exp.Func):
        return expression.sql("postgres").split("(", 1)[0].strip().lower() or "?column?"
    return "?column?"


def name_select_outputs(select: exp.Select) -> None:
    """Alias every unaliased computed column with the name PostgreSQL would give it: engines
    name such columns after their own text, and an outer query reading ``s.count`` from a
    derived table needs the PostgreSQL name."""
    select.set("expressions", [
        e if isinstance(e, exp.Alias | exp.Column | exp.Star) else exp.alias_(e, output_name(e), quoted=True)
        for e in select.expressions
    ])


def name_outputs(tree: exp.Expression) -> None:
    """:func:`name_select_outputs` for every SELECT of a statement."""
    for select in tree.find_all(exp.Select):
        name_select_outputs(select)
