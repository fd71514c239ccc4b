"""Array and set-returning functions.

PostgreSQL arrays are one-based like DuckDB lists, except ``int2vector``/``oidvector`` (pg_index
.indkey, pg_proc.proargtypes...), which are zero-based: bounds and subscripts follow the
argument's type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

from veil import errcodes
from veil.errors import FeatureNotSupported
from veil.pgcatalog import sqlbuild
from veil.pgcatalog.casts import string_literal
from veil.pgcatalog.functions import REGISTRY, Call, element_of
from veil.pgcatalog.schema import ZERO_BASED_ARRAYS
from veil.pgtypes import BY_NAME, ColumnType

add = REGISTRY.add


def lower_bound(array_type: ColumnType | None) -> int:
    return 0 if array_type is not None and array_type.type.name in ZERO_BASED_ARRAYS else 1


def _length(array: exp.Expr) -> exp.Expr:
    return sqlbuild.builtin("len", array)


def _first_dimension(dim: exp.Expr, array: exp.Expr, value: exp.Expr) -> exp.Case:
    non_empty = exp.GT(this=_length(array), expression=sqlbuild.number(0))
    condition = exp.And(this=exp.EQ(this=dim, expression=sqlbuild.number(1)), expression=non_empty)
    return exp.Case(ifs=[exp.If(this=condition, true=value)], default=exp.Null())


@add("array_upper", 2, "int4", params=("any", "int4"))
def _array_upper(call: Call) -> exp.Expr:
    array, dim = call.args
    upper = exp.Sub(
        this=sqlbuild.cast(_length(array), "INTEGER"),
        expression=sqlbuild.number(1 - lower_bound(call.types[0])),
    )
    return _first_dimension(dim, array, upper)


@add("array_lower", 2, "int4", params=("any", "int4"))
def _array_lower(call: Call) -> exp.Expr:
    array, dim = call.args
    return _first_dimension(dim, array, sqlbuild.typed_literal(lower_bound(call.types[0]), "INTEGER"))


@add("array_length", 2, "int4", params=("any", "int4"))
def _array_length(call: Call) -> exp.Expr:
    array, dim = call.args
    return _first_dimension(dim, array, sqlbuild.cast(_length(array), "INTEGER"))


@add("cardinality", 1, "int4", params=("any",))
def _cardinality(call: Call) -> exp.Expr:
    return sqlbuild.cast(_length(call.args[0]), "INTEGER")


@add("array_ndims", 1, "int4", params=("any",))
def _array_ndims(call: Call) -> exp.Expr:
    return _first_dimension(sqlbuild.number(1), call.args[0], sqlbuild.typed_literal(1, "INTEGER"))


@add("array_dims", 1, "text", params=("any",))
def _array_dims(call: Call) -> exp.Expr:
    array = call.args[0]
    low = lower_bound(call.types[0])
    upper = exp.Sub(this=_length(array), expression=sqlbuild.number(1 - low))
    text = exp.DPipe(
        this=exp.DPipe(this=sqlbuild.string(f"[{low}:"), expression=sqlbuild.cast(upper, "VARCHAR")),
        expression=sqlbuild.string("]"),
    )
    return _first_dimension(sqlbuild.number(1), array, text)


def _subscripts(array: exp.Expr, array_type: ColumnType | None) -> exp.Expr:
    low = lower_bound(array_type)
    upper = exp.Sub(this=_length(array), expression=sqlbuild.number(1 - low))
    return sqlbuild.builtin("generate_series", sqlbuild.number(low), upper)


@add("generate_subscripts", (2, 3), "int4", params=("any", "int4", "bool"), set_returning=True)
def _generate_subscripts(call: Call) -> exp.Expr:
    series = _subscripts(call.args[0], call.types[0])
    return series if call.in_from else exp.Explode(this=series)


def _expandarray_type(types: Sequence[ColumnType | None]) -> ColumnType | None:
    return ColumnType(BY_NAME["record"])


@add("_pg_expandarray", 1, _expandarray_type, params=("any",), set_returning=True)
def _pg_expandarray(call: Call) -> exp.Expr:
    """information_schema._pg_expandarray(a): rows (x, n) of elements and their positions."""
    array = call.args[0]
    index = exp.to_identifier("i")
    element = exp.Bracket(
        this=array.copy(),
        expressions=[exp.Add(this=exp.column("i"), expression=sqlbuild.number(1))],
        offset=0,
    )
    pair = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier("x"), expression=element),
            exp.PropertyEQ(
                this=exp.to_identifier("n"),
                expression=sqlbuild.cast(
                    exp.Add(this=exp.column("i"), expression=sqlbuild.number(1)), "INTEGER"
                ),
            ),
        ]
    )
    pairs = sqlbuild.builtin(
        "list_transform",
        sqlbuild.builtin("range", _length(array)),
        exp.Lambda(this=pair, expressions=[index]),
    )
    if call.in_from:
        struct = exp.Explode(this=pairs)
        select = exp.select(
            exp.Dot(this=exp.Paren(this=exp.column("p")), expression=exp.to_identifier("x")).as_("x"),
            exp.Dot(this=exp.Paren(this=exp.column("p")), expression=exp.to_identifier("n")).as_("n"),
        ).from_(exp.select(struct.as_("p")).subquery("e"))
        return select.subquery()
    return exp.Explode(this=pairs)


def expandarray_field(array: exp.Expr, field: str) -> exp.Expr:
    """``(_pg_expandarray(a)).x`` / ``.n`` as set-returning select-list expressions."""
    if field == "x":
        return exp.Explode(this=array)
    series = sqlbuild.builtin("generate_series", sqlbuild.number(1), _length(array))
    return sqlbuild.cast(exp.Explode(this=series), "INTEGER")


def expandarray_field_type(array_type: ColumnType | None, field: str) -> ColumnType | None:
    if field == "n":
        return ColumnType(BY_NAME["int4"])
    return element_of(array_type)


@add("pg_get_keywords", 0, "record", set_returning=True)
def _pg_get_keywords(call: Call) -> exp.Expr:
    names = ("word", "catcode", "barelabel", "catdesc", "baredesc")
    select = exp.select(*(exp.column(f"vl__{n}").as_(n) for n in names)).from_("veil_fn.keywords")
    return select.subquery() if call.in_from else exp.Null()


@add("json_build_object", tuple(range(0, 101, 2)), "json", params=())
def _json_build_object(call: Call) -> exp.Expr:
    return sqlbuild.builtin("json_object", *call.args)


@add("array_to_json", (1, 2), "json", params=("any", "bool"))
def _array_to_json(call: Call) -> exp.Expr:
    return sqlbuild.builtin("to_json", call.args[0])


@add("regexp_match", (2, 3), "_text", params=("text", "text", "text"))
def _regexp_match(call: Call) -> exp.Expr:
    """regexp_match(s, pattern [, flags]): the capture groups of the first match (the whole
    match when the pattern has none), NULL when nothing matches. The pattern must be a constant
    (its group count fixes the array's length); flags may be ``i`` only."""
    text, pattern = call.args[0], call.args[1]
    literal = string_literal(pattern)
    flags = string_literal(call.args[2]) if len(call.args) > 2 else ""
    if literal is None or flags is None:
        raise FeatureNotSupported("regexp_match needs a constant pattern and flags")
    if "g" in flags:
        raise errcodes.InvalidParameterValue('regexp_match() does not support the "global" option')
    if set(flags) - {"i", "c"}:
        raise FeatureNotSupported(f'regexp_match flags "{flags}" are not supported')
    try:
        groups = re.compile(literal).groups
    except re.error as error:
        raise errcodes.InvalidRegularExpression(f"invalid regular expression: {error}") from error
    regex = sqlbuild.string(("(?i)" if "i" in flags else "") + literal)
    parts = [sqlbuild.builtin("regexp_extract", text, regex.copy(), sqlbuild.number(i))
             for i in (range(1, groups + 1) if groups else (0,))]
    matched = sqlbuild.builtin("regexp_matches", text.copy(), regex.copy())
    return exp.Case(ifs=[exp.If(this=matched, true=exp.Array(expressions=parts))],
                    default=sqlbuild.null("VARCHAR[]"))
