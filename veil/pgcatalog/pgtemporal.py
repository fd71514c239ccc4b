"""PostgreSQL's date/time and bytea results computed by DuckDB (a DuckDB source and the local
engine of a federated statement).

PostgreSQL and DuckDB share the spelling of these operations but not their result types:

* ``EXTRACT(f FROM x)`` is ``numeric`` in PostgreSQL 14+ (``second`` keeps its fraction at scale 6,
  ``milliseconds`` at 3, a timestamp's ``epoch`` at 6), ``date_part('f', x)`` is ``float8``; DuckDB
  gives BIGINT (whole seconds) for both;
* ``date_trunc(unit, date)`` truncates the date cast to ``timestamptz`` (DuckDB: a timestamp);
* ``decode(text, 'hex'|'base64')`` is ``bytea`` and ``encode(bytea, ...)`` text, which DuckDB spells
  ``from_hex``/``from_base64`` and ``hex``/``to_base64`` (PostgreSQL's base64 breaks lines every 76
  characters; its hex decoding accepts only pairs of hex digits and blanks: 22023).

:func:`annotate` runs on the typed statement (PostgreSQL's types of its nodes): it casts what a cast
fixes and records on each ``EXTRACT`` its argument's type; :func:`duckdb_calls` rewrites, when the
SQL is rendered for DuckDB, each such call into DuckDB's exact equivalent.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil import errcodes
from veil.errors import FeatureNotSupported
from veil.pgcatalog.parse import WRITTEN_NAME
from veil.pgtypes import ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]

#: Meta key of an ``Extract`` node holding its argument's PostgreSQL type name.
SOURCE_TYPE = "veil_extract_source"
_DATETIMES = frozenset({"date", "timestamp", "timestamptz", "interval", "time", "timetz"})
# EXTRACT fields whose value has a fraction (scale of the numeric result) in PostgreSQL
_MICROS_SCALE = {"SECOND": 6, "MILLISECONDS": 3, "MICROSECONDS": 0, "MILLISECOND": 3, "MICROSECOND": 0}
_MICROS_DIVISOR = {"SECOND": 1_000_000, "MILLISECONDS": 1_000, "MICROSECONDS": 1, "MILLISECOND": 1_000,
                   "MICROSECOND": 1}


def _type_name(type_of: TypeOf, node: exp.Expr | None) -> str | None:
    found = type_of(node) if node is not None else None
    return found.type.name if found is not None else None


def annotate(tree: exp.Expr, type_of: TypeOf) -> None:
    """Reads ``length(bytea)`` as ``octet_length`` and marks each
    ``EXTRACT``/``date_part`` with its argument's type and each ``date_trunc`` of a date (its
    argument is cast to timestamptz for DuckDB), all in place."""
    for node in list(tree.find_all(exp.Extract, exp.TimestampTrunc, exp.Length)):
        if isinstance(node, exp.Length):  # length(bytea) counts bytes: octet_length (DuckDB has no length(BLOB))
            if _type_name(type_of, node.this) == "bytea":
                node.replace(exp.Anonymous(this="octet_length", expressions=[node.this]))
        elif isinstance(node, exp.Extract):
            source = _type_name(type_of, node.expression)
            if source in _DATETIMES:
                node.meta[SOURCE_TYPE] = source
        elif _type_name(type_of, node.this) == "date":  # date_trunc: cast when rendered (a subquery
            node.meta[SOURCE_TYPE] = "date"  # stays where the planner finds it)


def duckdb_calls(tree: exp.Expr) -> None:
    """Rewrites, in place, the calls DuckDB computes differently (see the module docstring), and
    the casts to ``varchar(n)`` and ``char(n)``, which DuckDB ignores the length of: an explicit
    cast cuts the value to n characters (a ``char(n)`` value without its trailing blanks, as it
    is compared and converted to text; the output pads it again)."""
    for node in reversed(list(tree.find_all(exp.Extract, exp.Anonymous, exp.Cast, exp.TimestampTrunc, *_KEYWORD_CALLS))):
        if isinstance(node, exp.TimestampTrunc):  # (inner calls first)
            if node._meta and node.meta.get(SOURCE_TYPE) == "date":
                node.set("this", exp.cast(node.this, exp.DataType.build("TIMESTAMPTZ", dialect="duckdb")))
        elif type(node) in _KEYWORD_CALLS:
            node.replace(exp.Anonymous(this=_KEYWORD_CALLS[type(node)], expressions=[]))
        elif isinstance(node, exp.Cast):
            width = _char_width(node.to)
            if width is not None:
                cut: exp.Expr = exp.Left(this=exp.cast(node.this, exp.DataType.build("VARCHAR")),
                                         expression=exp.Literal.number(width))
                if node.to.this != exp.DataType.Type.VARCHAR:
                    cut = exp.Anonymous(this="rtrim", expressions=[cut])
                node.replace(cut)
        elif isinstance(node, exp.Extract):
            source = node.meta.get(SOURCE_TYPE) if node._meta else None
            if isinstance(source, str):
                node.replace(_extract(node, source))
        elif _is_bytea_call(node):
            node.replace(_bytea_call(node.name.lower(), node.expressions[0], node.expressions[1]))


# DuckDB binds CURRENT_DATE (and the like) as a column first: named "current_date" (as PostgreSQL
# names it) it would refer to its own alias. The function forms mean the same.
_KEYWORD_CALLS: dict[type[exp.Expr], str] = {
    exp.CurrentDate: "current_date",
    exp.Localtimestamp: "current_localtimestamp",
    exp.Localtime: "current_localtime",
}


def _is_bytea_call(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() in ("decode", "encode") and len(node.expressions) == 2


def _char_width(to: exp.DataType) -> int | None:
    """n of a ``varchar(n)``/``char(n)`` type (``character`` alone is char(1)); else None."""
    kind = to.this
    if kind not in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR):
        return None
    params = to.expressions
    if not params:
        return None if kind == exp.DataType.Type.VARCHAR else 1
    length = params[0].this if isinstance(params[0], exp.DataTypeParam) else params[0]
    return int(length.name) if isinstance(length, exp.Literal) and length.name.isdigit() else None


def _extract(node: exp.Extract, source: str) -> exp.Expr:
    field = node.name.upper()
    value = node.expression
    as_float = (node.meta.get(WRITTEN_NAME) if node._meta else None) == "date_part"
    plain = exp.Extract(this=exp.var(field), expression=value.copy())
    micros = exp.Anonymous(this="date_part", expressions=[exp.Literal.string("microseconds"), value.copy()])
    if field == "EPOCH" and source in ("timestamp", "timestamptz"):
        micros, field = exp.Anonymous(this="epoch_us", expressions=[value.copy()]), "SECOND"
    if field in _MICROS_SCALE and source != "date":
        divisor = _MICROS_DIVISOR[field]
        if as_float:
            return exp.Div(this=micros, expression=exp.Literal.number(f"{divisor}.0"))
        scale = _MICROS_SCALE[field]
        whole = exp.cast(micros, exp.DataType.build("DECIMAL(38, 0)", dialect="duckdb"))
        if scale == 0:
            return whole
        factor = exp.cast(exp.Literal.number(f"{1 / divisor:.{scale}f}"),
                          exp.DataType.build(f"DECIMAL(38, {scale})", dialect="duckdb"))
        return exp.Paren(this=exp.Mul(this=whole, expression=factor))
    if field == "EPOCH" and source == "interval":
        if as_float:
            return plain
        micros = exp.Anonymous(this="round", expressions=[exp.Mul(this=plain, expression=exp.Literal.number(1_000_000))])
        whole = exp.cast(micros, exp.DataType.build("DECIMAL(38, 0)", dialect="duckdb"))
        factor = exp.cast(exp.Literal.number("0.000001"), exp.DataType.build("DECIMAL(38, 6)", dialect="duckdb"))
        return exp.Paren(this=exp.Mul(this=whole, expression=factor))
    target = "DOUBLE" if as_float else "DECIMAL(38, 0)"
    return exp.cast(plain, exp.DataType.build(target, dialect="duckdb"))


def _bytea_call(name: str, value: exp.Expr, form: exp.Expr) -> exp.Expr:
    if not isinstance(form, exp.Literal) or not form.is_string:
        raise FeatureNotSupported(f"{name}() with a format that is not a constant is not supported on this source")
    fmt = form.name.lower()
    if name == "decode" and fmt == "hex":
        return _from_hex(value)
    if name == "decode" and fmt == "base64":
        return exp.Anonymous(this="from_base64", expressions=[value])
    if name == "encode" and fmt == "hex":
        return exp.Lower(this=exp.Anonymous(this="hex", expressions=[value]))
    if name == "encode" and fmt == "base64":
        newline = exp.Chr(expressions=[exp.Literal.number(10)])
        broken = exp.RegexpReplace(this=exp.Anonymous(this="to_base64", expressions=[value]),
                                   expression=exp.Literal.string("(.{76})"),
                                   replacement=exp.DPipe(this=exp.Literal.string("\\1"), expression=newline),
                                   modifiers=exp.Literal.string("g"))
        return exp.Anonymous(this="rtrim", expressions=[broken, newline.copy()])
    if fmt not in ("hex", "base64", "escape"):
        raise errcodes.InvalidParameterValue(f'unrecognized encoding: "{form.name}"')
    raise FeatureNotSupported(f"{name}() with the {fmt} format is not supported on this source")


def _from_hex(value: exp.Expr) -> exp.Expr:
    """``decode(value, 'hex')``: DuckDB's from_hex reads any text; PostgreSQL only pairs of hex
    digits (blanks between them skipped), else 22023."""
    digits = exp.func("regexp_replace", value.copy(), exp.Literal.string(r"\s"), exp.Literal.string(""),
                      exp.Literal.string("g"), dialect="duckdb")
    valid = exp.func("regexp_full_match", value.copy(), exp.Literal.string(r"(\s*[0-9A-Fa-f]{2})*\s*"),
                     dialect="duckdb")
    invalid = exp.Anonymous(this="error", expressions=[exp.Literal.string("[22023] invalid hexadecimal data")])
    missing = exp.Is(this=value.copy(), expression=exp.Null())
    blob = exp.DataType.build("BLOB")
    return exp.Case(
        ifs=[exp.If(this=missing, true=exp.Cast(this=exp.Null(), to=blob)),
             exp.If(this=valid, true=exp.Anonymous(this="from_hex", expressions=[digits]))],
        default=exp.Cast(this=invalid, to=blob.copy()),
    )


def postgres_calls(tree: exp.Expr) -> None:
    """``date_part('f', x)`` written back as such for a PostgreSQL source (sqlglot reads it as the
    ``EXTRACT`` PostgreSQL 14+ computes as numeric)."""
    for node in list(tree.find_all(exp.Extract)):
        if node._meta and node.meta.get(WRITTEN_NAME) == "date_part" and isinstance(node.this, exp.Var | exp.Literal):
            node.replace(exp.Anonymous(this="date_part",
                                       expressions=[exp.Literal.string(node.name.lower()), node.expression]))
