"""Policy comparisons of a column cast to text, spelled on the column's own type.

Row filters compare user attributes, which are strings, with columns:
``@attributeValuesContains('flags', CAST(flag AS TEXT))`` expands to
``CAST(flag AS TEXT) IN ('true', 'false')``. Every engine Veil reads (PostgreSQL, DuckDB,
Snowflake, Databricks) casts a boolean to ``'true'``/``'false'`` and an integer to its plain
decimal digits, so that comparison means exactly ``flag IN (TRUE, FALSE)``: same rows, same
NULLs. The typed spelling is what a source evaluates without building a string per row, and
what it can answer from an index on the column (``CAST(id AS TEXT) IN (...)`` can only be a scan).

A literal that is the text of no value of the type (``'t'``, ``'01'``, ``'+1'``, an integer
out of the column's range) can never match and is left out; when none is left the comparison
is kept as written (it is then false, or NULL on a NULL column, as before). Comparisons with
anything but string literals (a NULL, an expression) are kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

ColumnType = Callable[[exp.Column], pa.DataType | None]

_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")


def typed_comparisons(condition: exp.Expr, column_type: ColumnType) -> exp.Expr:
    """``condition`` with ``CAST(column AS TEXT) IN/= 'literal'...`` compared on the column's
    type where that means the same (booleans and integers; ``column_type`` gives a column's)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.In) and not (
            node.args.get("query") or node.args.get("unnest") or node.args.get("field")
        ):
            return _typed(node, node.this, node.expressions, column_type) or node
        if isinstance(node, exp.EQ):
            for cast, literal in ((node.this, node.expression), (node.expression, node.this)):
                typed = _typed(node, cast, [literal], column_type)
                if typed is not None:
                    return typed
        return node

    return condition.transform(rewrite, copy=False)


def _typed(node: exp.Expr, cast: exp.Expr, literals: list[exp.Expr], column_type: ColumnType) -> exp.Expr | None:
    column = _text_cast_column(cast)
    if column is None or not literals or not all(isinstance(v, exp.Literal) and v.is_string for v in literals):
        return None
    arrow_type = column_type(column)
    if arrow_type is None:
        return None
    values = [typed for v in literals if (typed := _typed_literal(v.name, arrow_type)) is not None]
    if not values:
        return None
    if isinstance(node, exp.EQ) and len(values) == 1:
        return exp.EQ(this=column.copy(), expression=values[0])
    return exp.In(this=column.copy(), expressions=values)


def _text_cast_column(node: exp.Expr) -> exp.Column | None:
    """The column of ``CAST(column AS TEXT)`` (or an unsized VARCHAR/STRING), parentheses allowed."""
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Cast) or not isinstance(node.this, exp.Column):
        return None
    to = node.to
    if to.this not in (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR) or to.expressions:
        return None
    return node.this


def _typed_literal(text: str, arrow_type: pa.DataType) -> exp.Expr | None:
    """The literal of ``arrow_type`` whose text is ``text``, or None when no value's text is."""
    if pa.types.is_boolean(arrow_type):
        return {"true": exp.true(), "false": exp.false()}.get(text)
    if pa.types.is_integer(arrow_type) and _INTEGER.fullmatch(text):
        value = int(text)
        bits = arrow_type.bit_width
        low, high = (
            (0, 2**bits - 1) if pa.types.is_unsigned_integer(arrow_type) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        )
        return exp.Literal.number(value) if low <= value <= high else None
    return None
