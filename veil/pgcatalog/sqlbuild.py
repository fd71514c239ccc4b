"""Small constructors for the DuckDB expressions the rewriter emits."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from veil.pgcatalog.schema import FUNCTION_SCHEMA


def string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def number(value: float) -> exp.Expr:
    literal = exp.Literal.number(abs(value))
    return exp.Neg(this=literal) if value < 0 else literal


def boolean(value: bool) -> exp.Boolean:
    return exp.Boolean(this=value)


def cast(expression: exp.Expr, duck_type: str) -> exp.Cast:
    return exp.Cast(this=expression, to=exp.DataType.build(duck_type, dialect="duckdb"))


def null(duck_type: str) -> exp.Cast:
    return cast(exp.Null(), duck_type)


def typed_literal(value: object, duck_type: str) -> exp.Expr:
    """A constant of a DuckDB type (``None`` → typed NULL)."""
    if value is None:
        return null(duck_type)
    if isinstance(value, bool):
        return cast(boolean(value), duck_type)
    if isinstance(value, int | float):
        return cast(number(value), duck_type)
    if isinstance(value, list | tuple):
        element = duck_type[:-2] if duck_type.endswith("[]") else "VARCHAR"
        return cast(exp.Array(expressions=[typed_literal(v, element) for v in value]), duck_type)
    return cast(string(str(value)), duck_type)


def string_list(values: Iterable[str]) -> exp.Expr:
    return cast(exp.Array(expressions=[string(v) for v in values]), "VARCHAR[]")


def veil_fn(name: str, *args: exp.Expr) -> exp.Dot:
    """A call of one of Veil's DuckDB macros (schema ``veil_fn``)."""
    return exp.Dot(
        this=exp.to_identifier(FUNCTION_SCHEMA),
        expression=exp.Anonymous(this=name, expressions=list(args)),
    )


def builtin(name: str, *args: exp.Expr) -> exp.Anonymous:
    """A call of a DuckDB built-in function by name."""
    return exp.Anonymous(this=name, expressions=list(args))
