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
from veil.pgcatalog.functions import array_of
from veil.pgcatalog.schema import REG_TYPES
from veil.pgcatalog.typemap import column_type_of
from veil.pgtypes import BY_NAME, BY_OID, ColumnType

if TYPE_CHECKING:
    from veil.pgcatalog.infer import Typer

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ, exp.Is)
_TEXT_OPERANDS = (exp.Like, exp.ILike, exp.RegexpLike, exp.RegexpILike, exp.DPipe, exp.SimilarTo)
_INTEGERS = frozenset({"int2", "int4", "int8", "oid", "xid", "cid"})


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
        if isinstance(other, exp.Any):
            return _known(typer.type_of(other.this))
        return _known(typer.type_of(other))
    if isinstance(parent, exp.Any):
        comparison = parent.parent
        if isinstance(comparison, _COMPARISONS):
            other = comparison.this if parent is comparison.expression else comparison.expression
            return array_of(_known(typer.type_of(other)))
    if isinstance(parent, exp.In):
        if node is parent.this:
            values = parent.expressions
            return _known(typer.type_of(values[0])) if values else None
        return _known(typer.type_of(parent.this))
    if isinstance(parent, exp.Between):
        return _known(typer.type_of(parent.this))
    if isinstance(parent, _TEXT_OPERANDS):
        return ColumnType(BY_NAME["text"])
    if isinstance(parent, exp.Limit | exp.Offset | exp.Fetch):
        return ColumnType(BY_NAME["int8"])
    return _function_param(parent, node)


def _function_param(parent: exp.Expr, node: exp.Expr) -> ColumnType | None:
    call = parent.parent if isinstance(parent, exp.Anonymous) and isinstance(parent.parent, exp.Dot) else parent
    name = scopes.function_name(call)
    spec = REGISTRY.get(name) if name else None
    if spec is None:
        return None
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
