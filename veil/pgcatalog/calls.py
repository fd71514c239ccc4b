"""Function calls: registry dispatch, argument coercion, and functions in FROM."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil import errcodes
from veil.errors import InsufficientPrivilege, UndefinedFunction, VeilError
from veil.pgcatalog import scopes, sqlbuild
from veil.pgcatalog.builtins import REGISTRY
from veil.pgcatalog.casts import coerce, is_string, string_literal
from veil.pgcatalog.context import CompileEnv
from veil.pgcatalog.functions import PASSTHROUGH, Call, denied
from veil.pgcatalog.schema import REG_TYPES
from veil.pgtypes import BY_NAME, ColumnType, format_type

TypeOf = Callable[[exp.Expr], ColumnType | None]


def _signature(name: str, types: list[ColumnType | None]) -> str:
    spelled = [format_type(t.oid, t.typmod) if t is not None else "unknown" for t in types]
    return f"{name}({', '.join(spelled)})"


def undefined(name: str, types: list[ColumnType | None]) -> VeilError:
    error = UndefinedFunction(f"function {_signature(name, types)} does not exist")
    error.hint = (
        "No function matches the given name and argument types. "
        "You might need to add explicit type casts."
    )
    return error


def check_name(name: str) -> None:
    if denied(name) or denied(name.split(".")[-1]):
        raise InsufficientPrivilege(f"permission denied for function {name}")


def _needs_coercion(arg: exp.Expr, source: ColumnType | None, declared: str) -> bool:
    if declared in ("any", "pg_node_tree"):
        return False
    if isinstance(arg, exp.Null) or string_literal(arg) is not None:
        return True
    if declared in REG_TYPES:
        return is_string(source) or (source is not None and source.type.name in ("int4", "int8"))
    return False


def call_function(
    env: CompileEnv,
    node: exp.Expr,
    args: list[exp.Expr],
    types: list[ColumnType | None],
    *,
    in_from: bool = False,
) -> exp.Expr:
    """Rewrite one call of a registered (or passed-through) function."""
    name = scopes.function_name(node)
    if name is None:
        raise errcodes.FeatureNotSupported(f"unsupported function call {node.sql(dialect='postgres')}")
    check_name(name)
    spec = REGISTRY.get(name)
    if spec is None:
        if name in PASSTHROUGH:
            return sqlbuild.builtin(name, *args)
        raise undefined(name, types)
    if len(args) not in spec.arities:
        raise undefined(name, types)
    coerced = list(args)
    for index, arg in enumerate(args):
        declared = spec.param_type(index)
        if declared is not None and _needs_coercion(arg, types[index], declared):
            coerced[index] = coerce(env, arg, types[index], ColumnType(BY_NAME[declared]))
    return spec.build(Call(name, coerced, types, env, in_from=in_from))


def from_function(
    env: CompileEnv, table: exp.Table, args: list[exp.Expr], types: list[ColumnType | None]
) -> exp.Expr:
    """A function in FROM (``generate_series(1, 32) pos(n)``, ``pg_get_keywords()``...)."""
    function = table.this
    alias = table.args.get("alias")
    if isinstance(function, exp.ExplodingGenerateSeries | exp.GenerateSeries):
        table.set("db", None)
        table.set("catalog", None)
        return with_column_alias(table, "generate_series")
    name = scopes.function_name(function) or ""
    spec = REGISTRY.get(name)
    result = call_function(env, function, args, types, in_from=True)
    if spec is not None and not spec.set_returning:
        result = exp.select(result.as_(name)).subquery()
    if isinstance(result, exp.Subquery) and table.args.get("ordinality"):
        # WITH ORDINALITY: one more column numbering the rows (psql's trigger query uses it).
        result.set("alias", exp.TableAlias(this=exp.to_identifier("vl__ord")))
        number = exp.Window(this=exp.RowNumber()).as_("ordinality")
        result = exp.select(exp.Star(), number).from_(result).subquery()
    if isinstance(result, exp.Subquery):
        result.set("alias", alias.copy() if alias else exp.TableAlias(this=exp.to_identifier(name)))
        if alias is not None and not alias.columns and spec is not None and not spec.set_returning:
            result.args["alias"].set("columns", [exp.to_identifier(alias.name)])
        return result
    wrapped = exp.Table(this=result, alias=alias.copy() if alias else None)
    return with_column_alias(wrapped, name)


def scalar_in_from(table: exp.Table, value: exp.Expr, name: str) -> exp.Expr:
    """A scalar function in FROM is a one-row, one-column relation named after its alias."""
    alias = table.args.get("alias")
    column = alias.name if alias is not None and alias.name else name
    subquery = exp.select(value.as_(column)).subquery()
    table_alias = alias.copy() if alias is not None else exp.TableAlias(this=exp.to_identifier(name))
    if not table_alias.columns:
        table_alias.set("columns", [exp.to_identifier(column)])
    subquery.set("alias", table_alias)
    return subquery


def with_column_alias(table: exp.Expr, default: str) -> exp.Expr:
    """PostgreSQL names the single column of ``f(...) AS s`` after ``s``; say so to DuckDB."""
    alias = table.args.get("alias")
    if alias is None:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(default)))
    elif not alias.columns:
        alias.set("columns", [exp.to_identifier(alias.name)])
    return table
