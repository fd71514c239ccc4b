"""Types of ``$n`` parameters, inferred from where they appear (as PostgreSQL does), and the
conversion of bound values to what the compiled DuckDB statement expects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

from veil import errcodes
from veil.errors import VeilError
from veil.pgcatalog import scopes
from veil.pgcatalog.arrays import parse_array_literal
from veil.pgcatalog.builtins import REGISTRY
from veil.pgcatalog.casts import parse_bool
from veil.pgcatalog.commontype import common_type
from veil.pgcatalog.functions import array_of, element_of
from veil.pgcatalog.param_calls import call_param_type
from veil.pgcatalog.schema import REG_TYPES
from veil.pgcatalog.typemap import column_type_of
from veil.pgtypes import BY_NAME, BY_OID, ColumnType

if TYPE_CHECKING:
    from veil.pgcatalog.infer import Typer

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ, exp.Is)
_TEXT_OPERANDS = (exp.Like, exp.ILike, exp.RegexpLike, exp.RegexpILike, exp.DPipe, exp.SimilarTo)
_INTEGERS = frozenset({"int2", "int4", "int8", "oid", "xid", "cid"})
_NUMBERS = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"})
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Pow, exp.IntDiv)
_JSON_PATHS = (exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar)
_BOOLEAN_CONTEXTS = (exp.Not, exp.And, exp.Or, exp.Xor)


def _known(column_type: ColumnType | None) -> ColumnType | None:
    if column_type is None or column_type.type.name == "unknown":
        return None
    return column_type


def context_type(typer: Typer, node: exp.Expr) -> ColumnType | None:
    """The type a parameter takes from its surroundings, or None (→ text)."""
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if parent is None:
        return None
    if isinstance(parent, exp.Cast | exp.TryCast):
        try:
            return column_type_of(parent.to)
        except VeilError:
            return None
    if isinstance(parent, _COMPARISONS):
        other = parent.expression if node is parent.this else parent.this
        if _quantified(other):  # ``$1 = ANY(array)``: the array's element type
            inner = other.this if isinstance(other, exp.Any | exp.All) else other.expressions[0]
            return element_of(_known(typer.type_of(inner)))
        return _known(typer.type_of(other))
    if _quantified(parent):
        comparison = parent.parent
        if isinstance(comparison, _COMPARISONS):
            other = comparison.this if parent is comparison.expression else comparison.expression
            return array_of(_known(typer.type_of(other)) or ColumnType(BY_NAME["text"]))
    if isinstance(parent, exp.In):
        if node is parent.this:
            return _common(typer, parent.expressions)
        return _known(typer.type_of(parent.this)) or _common(typer, parent.expressions)
    if isinstance(parent, exp.Between):
        return _common(typer, [parent.this, parent.args.get("low"), parent.args.get("high")])
    if isinstance(parent, _TEXT_OPERANDS) or (isinstance(parent, _JSON_PATHS) and node is parent.expression):
        return ColumnType(BY_NAME["text"])
    if isinstance(parent, exp.Limit | exp.Offset | exp.Fetch):
        return ColumnType(BY_NAME["int8"])
    if isinstance(parent, _BOOLEAN_CONTEXTS) or _is_condition(parent, node):
        return ColumnType(BY_NAME["bool"])
    if isinstance(parent, _ARITHMETIC):
        return _arithmetic(typer, parent, node)
    if isinstance(parent, exp.Binary) and not isinstance(parent, exp.Dot):
        other = parent.expression if node is parent.this else parent.this
        return _known(typer.type_of(other))  # an operator: the unknown side is the known side's type
    if isinstance(parent, exp.Coalesce | exp.Greatest | exp.Least | exp.Nullif | exp.Array):
        return _common(typer, [parent.this, *parent.expressions])
    if isinstance(parent, exp.Case) or (isinstance(parent, exp.If) and node is not parent.this):
        return _case_type(typer, parent.parent if isinstance(parent, exp.If) else parent)
    if isinstance(parent, exp.Tuple):
        return _tuple_member(typer, parent, node)
    if isinstance(parent, exp.Select):
        return _set_operation_column(typer, parent, node)
    if isinstance(parent, exp.Alias) and isinstance(parent.parent, exp.Select):
        return _set_operation_column(typer, parent.parent, parent)
    return _function_param(typer, parent, node)


def _quantified(node: exp.Expr) -> bool:
    """``ANY(...)``/``ALL(...)``/``SOME(...)`` (sqlglot reads ``ALL(x)`` as a call named ALL)."""
    return isinstance(node, exp.Any | exp.All) or (
        isinstance(node, exp.Anonymous) and node.name.upper() in ("ANY", "ALL", "SOME") and len(node.expressions) == 1
    )


def _common(typer: Typer, nodes: Sequence[exp.Expr | None]) -> ColumnType | None:
    """select_common_type of the members that are not parameters (None: all unknown)."""
    from_members = [typer.type_of(n) for n in nodes if n is not None and not _is_parameter(n)]
    return _known(common_type(from_members))


def _is_parameter(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Parameter | exp.Placeholder)


def _is_condition(parent: exp.Expr, node: exp.Expr) -> bool:
    """``WHERE $1``, ``HAVING $1``, ``CASE WHEN $1``, ``FILTER (WHERE $1)``: a boolean."""
    return (isinstance(parent, exp.Where | exp.Having | exp.Filter) and parent.this is node) or (
        isinstance(parent, exp.If) and parent.this is node
    )


def _arithmetic(typer: Typer, parent: exp.Expr, node: exp.Expr) -> ColumnType | None:
    """PostgreSQL's operator rule: the unknown side takes the known side's type, except where no
    operator takes two of it (timestamp + interval, number ^ float8)."""
    other = parent.expression if node is parent.this else parent.this
    known = _known(typer.type_of(other))
    if known is None:
        return None
    name = known.type.name
    if isinstance(parent, exp.Add) and name in ("timestamp", "timestamptz", "time", "timetz"):
        return ColumnType(BY_NAME["interval"])
    if isinstance(parent, exp.Pow) and name in _NUMBERS:
        return ColumnType(BY_NAME["float8" if name != "numeric" else "numeric"])
    return ColumnType(known.type)


def _case_type(typer: Typer, case: exp.Expr | None) -> ColumnType | None:
    if not isinstance(case, exp.Case):
        return None
    branches = [i.args.get("true") for i in case.args.get("ifs", [])]
    return _common(typer, [*branches, case.args.get("default")])


def _tuple_member(typer: Typer, parent: exp.Tuple, node: exp.Expr) -> ColumnType | None:
    """A member of ``VALUES`` rows (the column's common type), of ``(a, b) = ($1, $2)`` (the
    other row's member) or of ``x IN ($1, $2)``."""
    position = next((i for i, e in enumerate(parent.expressions) if e is node), None)
    holder = parent.parent
    if position is None or holder is None:
        return None
    if isinstance(holder, exp.Values):
        column = [row.expressions[position] for row in holder.expressions
                  if isinstance(row, exp.Tuple) and len(row.expressions) > position]
        return _common(typer, column)
    if isinstance(holder, exp.In):
        return _known(typer.type_of(holder.this)) or _common(typer, parent.expressions)
    if isinstance(holder, _COMPARISONS):
        other = holder.expression if parent is holder.this else holder.this
        if isinstance(other, exp.Tuple) and len(other.expressions) > position:
            return _known(typer.type_of(other.expressions[position]))
    return None


def _set_operation_column(typer: Typer, select: exp.Expr, projection: exp.Expr) -> ColumnType | None:
    """``SELECT x FROM t UNION SELECT $1``: the column's common type across the arms."""
    operation = select.parent
    while isinstance(operation, exp.Subquery | exp.Paren):
        operation = operation.parent
    if not isinstance(operation, exp.SetOperation) or projection not in select.expressions:
        return None
    position = select.expressions.index(projection)
    other = operation.expression if operation.this is select else operation.this
    columns = typer.output_columns(other)
    if columns is None or len(columns) <= position:
        return None
    return _known(columns[position].type)


def _function_param(typer: Typer, parent: exp.Expr, node: exp.Expr) -> ColumnType | None:
    call = parent.parent if isinstance(parent, exp.Anonymous) and isinstance(parent.parent, exp.Dot) else parent
    name = scopes.function_name(call)
    spec = REGISTRY.get(name) if name else None
    if spec is None:
        return call_param_type(call, node, typer.type_of)
    args = scopes.function_args(call)
    index = next((i for i, a in enumerate(args) if a is node), None)
    if index is None:
        return None
    declared = spec.param_type(index)
    if declared is None or declared in ("any", "pg_node_tree"):
        return None
    return ColumnType(BY_NAME[declared])


#: A reg* type's input function: (type name, text) → the object's OID.
RegInput = Callable[[str, str], "int | None"]


def coerce_value(value: object, column_type: ColumnType, reg_in: RegInput) -> object:
    """Turn a bound value (as decoded by the session) into what DuckDB should receive. A reg*
    value is its OID: as sent in binary format, or read from its text form by ``reg_in`` as a
    literal of the type would be (``'sum(int4)'``, ``'+(int4,int4)'``, ``'"C"'``)."""
    if value is None:
        return None
    pg_type = column_type.type
    name = pg_type.name
    if name in REG_TYPES:
        return value % 2**32 if isinstance(value, int) else reg_in(name, str(value))
    if pg_type.is_array:
        if isinstance(value, str):
            items: Sequence[object] = parse_array_literal(value)
        else:
            # the session decodes an array parameter to a list or tuple; list() of anything else
            # raises TypeError, as it did before typing
            items = list(value)  # type: ignore[call-overload]
        element = ColumnType(BY_OID[pg_type.element_oid])
        return [coerce_value(v, element, reg_in) for v in items]
    if name in _INTEGERS:
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise errcodes.InvalidTextRepresentation(f'invalid input syntax for type {name}: "{value}"') from None
        # a decoded integer parameter is an int, bool or Decimal; int() refuses anything else
        return int(value)  # type: ignore[call-overload]
    if name == "bool":
        return parse_bool(value) if isinstance(value, str) else bool(value)
    if name in ("float4", "float8") and isinstance(value, str):
        return float(value)
    if name in ("text", "varchar", "name", "bpchar", "char", "unknown") and not isinstance(value, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, bytes):
            return value.decode()
        return str(value)
    return value
