"""PostgreSQL's result types that type inference cannot read from pg_proc's overloads: the
date/time operators (``pg_operator``: ``date - date`` is int4, ``date + int`` a date,
``date + interval`` a timestamp, ``timestamp - timestamp`` an interval...), ``AT TIME ZONE``, and
the functions of polymorphic or variadic arguments with a fixed result (``to_jsonb``)."""

from __future__ import annotations

from sqlglot import exp

from veil.pgtypes import BY_NAME, ColumnType

_INTEGERS = frozenset({"int2", "int4", "int8"})
_NUMBERS = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"})
#: Functions whose pg_proc result type inference may take as it is (beyond the numeric ones).
CATALOG_TYPED = frozenset({"bytea", "jsonb", "json", "text", "date", "timestamp", "timestamptz", "interval"})
#: Polymorphic or variadic functions (pg_proc's "any" arguments) of a fixed result type.
FIXED_RESULTS = {"to_jsonb": "jsonb", "jsonb_build_object": "jsonb", "jsonb_build_array": "jsonb",
                 "to_json": "json", "json_build_object": "json", "json_build_array": "json",
                 "jsonb_agg": "jsonb", "jsonb_object_agg": "jsonb"}

# (operator, left, right) -> result; "int" stands for any integer, "num" for any number
_OPERATORS: dict[tuple[str, str, str], str] = {
    ("-", "date", "date"): "int4",
    ("+", "date", "int"): "date",
    ("-", "date", "int"): "date",
    ("+", "int", "date"): "date",
    ("+", "date", "interval"): "timestamp",
    ("+", "interval", "date"): "timestamp",
    ("-", "date", "interval"): "timestamp",
    ("+", "date", "time"): "timestamp",
    ("+", "time", "date"): "timestamp",
    ("-", "timestamp", "timestamp"): "interval",
    ("-", "timestamptz", "timestamptz"): "interval",
    ("+", "timestamp", "interval"): "timestamp",
    ("-", "timestamp", "interval"): "timestamp",
    ("+", "interval", "timestamp"): "timestamp",
    ("+", "timestamptz", "interval"): "timestamptz",
    ("-", "timestamptz", "interval"): "timestamptz",
    ("+", "interval", "timestamptz"): "timestamptz",
    ("-", "timestamp", "date"): "interval",
    ("-", "date", "timestamp"): "interval",
    ("-", "timestamptz", "date"): "interval",
    ("-", "date", "timestamptz"): "interval",
    ("-", "timestamptz", "timestamp"): "interval",
    ("-", "timestamp", "timestamptz"): "interval",
    ("-", "time", "time"): "interval",
    ("+", "time", "interval"): "time",
    ("-", "time", "interval"): "time",
    ("+", "interval", "interval"): "interval",
    ("-", "interval", "interval"): "interval",
    ("*", "interval", "num"): "interval",
    ("*", "num", "interval"): "interval",
    ("/", "interval", "num"): "interval",
}
_SYMBOLS: dict[type[exp.Expr], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}


def _family(column_type: ColumnType | None) -> tuple[str, ...]:
    if column_type is None:
        return ()
    name = column_type.type.name
    if name in _INTEGERS:
        return (name, "int", "num")
    if name in _NUMBERS:
        return (name, "num")
    return (name,)


def datetime_result(node: exp.Expr, left: ColumnType | None, right: ColumnType | None) -> ColumnType | None:
    """The type of a date/time arithmetic ``node`` of operands typed ``left`` and ``right``;
    None when it is not one."""
    symbol = _SYMBOLS.get(type(node))
    if symbol is None:
        return None
    for a in _family(left):
        for b in _family(right):
            found = _OPERATORS.get((symbol, a, b))
            if found is not None:
                return ColumnType(BY_NAME[found])
    return None


def at_time_zone_result(value: ColumnType | None) -> ColumnType | None:
    """``x AT TIME ZONE zone``: a timestamp becomes timestamptz and back; a time stays one."""
    name = value.type.name if value is not None else None
    flipped = {"timestamp": "timestamptz", "timestamptz": "timestamp", "date": "timestamptz", "timetz": "timetz"}
    return ColumnType(BY_NAME[flipped[name]]) if name in flipped else None


def extract_scale(node: exp.Extract, source: ColumnType | None) -> int | None:
    """The display scale of ``EXTRACT(field FROM x)``'s numeric (fixed per field in PostgreSQL:
    ``second`` and a timestamp's or interval's ``epoch`` 6, ``milliseconds`` 3, the others 0);
    None where it is not static (``julian`` of a timestamp) or ``x``'s type is unknown."""
    name = source.type.name if source is not None else None
    if name not in ("date", "timestamp", "timestamptz", "interval", "time", "timetz"):
        return None
    field = node.name.upper()
    if name == "date":
        return 0
    if field == "JULIAN" or (field == "EPOCH" and name in ("time", "timetz")):
        return None
    return {"SECOND": 6, "EPOCH": 6, "MILLISECONDS": 3, "MILLISECOND": 3}.get(field, 0)
