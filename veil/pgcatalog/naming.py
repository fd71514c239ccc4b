"""Result column names as PostgreSQL chooses them (``FigureColname``): an alias, else the column
or function name, else the cast's type name, else ``?column?``."""

from __future__ import annotations

from sqlglot import exp

from veil.errors import VeilError
from veil.pgcatalog import scopes
from veil.pgcatalog.parse import WRITTEN_NAME
from veil.pgcatalog.typemap import column_type_of
from veil.pgtypes import BY_OID

UNNAMED = "?column?"

_TYPED_NAMES: dict[type[exp.Expr], str] = {
    exp.CurrentTimestamp: "now",
    exp.CurrentDate: "current_date",
    exp.Localtimestamp: "localtimestamp",
    exp.GroupConcat: "string_agg",
    exp.ArrayAgg: "array_agg",
    exp.Count: "count",
    exp.Variance: "variance",
    exp.VariancePop: "var_pop",
    exp.Stddev: "stddev",
    exp.StddevSamp: "stddev_samp",
    exp.StddevPop: "stddev_pop",
    exp.Explode: "unnest",
    exp.Unnest: "unnest",
    exp.ExplodingGenerateSeries: "generate_series",
    exp.GenerateSeries: "generate_series",
    exp.ArraySize: "array_length",
    exp.LogicalAnd: "bool_and",
    exp.LogicalOr: "bool_or",
    exp.JSONArrayAgg: "json_agg",
    exp.TimeToStr: "to_char",
    exp.TimestampTrunc: "date_trunc",
    exp.StrPosition: "position",
    exp.Substring: "substring",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.ArrayToString: "array_to_string",
    exp.StringToArray: "string_to_array",
    exp.RowNumber: "row_number",
    exp.Length: "length",
    exp.Exists: "exists",
    exp.Array: "array",
    exp.AtTimeZone: "timezone",  # PostgreSQL's parser calls timezone(zone, value)
    exp.CurrentTime: "current_time",
    exp.Localtime: "localtime",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentSchema: "current_schema",
    exp.CurrentCatalog: "current_catalog",
    exp.Overlay: "overlay",
    exp.Tuple: "row",
}
#: TRIM(...) is a call of btrim, ltrim or rtrim by its direction.
_TRIMS = {"LEADING": "ltrim", "TRAILING": "rtrim"}


def output_name(node: exp.Expr) -> str:
    name, _strength = _figure(node)
    return name


def _figure(node: exp.Expr) -> tuple[str, int]:
    """(name, strength) as in PostgreSQL: 2 for names taken from columns and functions, 1 for
    a cast's type name, 0 for ``?column?``; a cast keeps its operand's name only if strong."""
    if isinstance(node, exp.Alias):
        return node.alias, 2
    written = node.meta.get(WRITTEN_NAME) if node._meta else None
    if isinstance(written, str):  # a function call: named as written (var_samp, mod, ceiling)
        return written.lower(), 2
    if isinstance(node, exp.Column):
        if isinstance(node.this, exp.Star):
            return UNNAMED, 0
        return node.name, 2
    if isinstance(node, exp.Paren):
        return _figure(node.this)
    if isinstance(node, exp.Cast | exp.TryCast):
        name, strength = _figure(node.this)
        if strength > 1:
            return name, strength
        return _type_name(node.to), 1
    if isinstance(node, exp.Dot):
        if isinstance(node.expression, exp.Identifier):
            return node.expression.name, 2
        if isinstance(node.expression, exp.Anonymous):
            return node.expression.name.lower(), 2
    if isinstance(node, exp.Interval):  # a typed literal INTERVAL '2 hours' is a cast
        return "interval", 1
    if isinstance(node, exp.Trim):
        return _TRIMS.get(str(node.args.get("position") or "").upper(), "btrim"), 2
    if isinstance(node, exp.Bracket | exp.Window | exp.Collate | exp.Filter):
        return _figure(node.this)
    if isinstance(node, exp.Case):
        default = node.args.get("default")
        name, strength = _figure(default) if default is not None else (UNNAMED, 0)
        return (name, strength) if strength > 1 else ("case", 1)  # weak: CAST(CASE ...) takes the type's name
    if isinstance(node, exp.Subquery):
        query = node.this
        if isinstance(query, exp.Select) and query.expressions:
            return _figure(query.expressions[0])
        return UNNAMED, 0
    for cls, name in _TYPED_NAMES.items():
        if type(node) is cls:
            return name, 2
    function = scopes.function_name(node)
    if function is not None:
        return function.split(".")[-1], 2
    if isinstance(node, exp.Func) and not isinstance(node, exp.Binary | exp.Predicate):
        return node.sql_name().lower(), 2
    return UNNAMED, 0


def _type_name(to: exp.Expr) -> str:
    """PostgreSQL names a cast column after the (element) type's name: ``int4``, ``text``."""
    try:
        pg_type = column_type_of(to).type
    except VeilError:
        return UNNAMED
    return BY_OID[pg_type.element_oid].name if pg_type.is_array else pg_type.name
