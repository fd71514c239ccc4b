"""PostgreSQL's jsonb operators and functions computed by DuckDB (a DuckDB source and the local
engine of a federated statement), whose only JSON type is ``json``.

What DuckDB computes exactly is rewritten into its spelling: ``a @> b`` and ``a <@ b``
(``json_contains``), ``to_jsonb`` (``to_json``; a numeric through its text, which keeps its
scale), ``jsonb_build_object`` (``json_object``), ``jsonb_typeof`` (``json_type``'s names mapped to
PostgreSQL's), ``jsonb_array_length`` (int4; 22023 for a non-array). The results are served as jsonb, printed as
PostgreSQL prints jsonb (:mod:`veil.executor.jsonb_text`). ``->`` and ``->>`` DuckDB computes as
is. What it cannot (``?``, ``?|``, ``?&``, ``#>``, ``#>>``, jsonb ``||`` and ``-``, the other
``jsonb_*`` functions) is refused with 0A000 rather than answered differently.

:func:`annotate` marks, on the typed statement, the operators whose operands are jsonb (``@>``
is also an array operator, ``||`` text concatenation); :func:`duckdb_calls` rewrites or refuses
when the SQL is rendered for DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from veil.errcodes import DatatypeMismatch
from veil.errors import FeatureNotSupported
from veil.pgtypes import ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]

#: Meta key of an operator node whose operands are json or jsonb.
JSON_OPERANDS = "veil_json_operands"
_OPERATORS = (exp.ArrayContainsAll, exp.ArrayContainedBy, exp.DPipe, exp.Sub)
_UNSUPPORTED: dict[type[exp.Expr], str] = {
    exp.JSONBContainsTopKey: "?",
    exp.JSONBContainsAnyTopKeys: "?|",
    exp.JSONBContainsAllTopKeys: "?&",
    exp.JSONBExtract: "#>",
    exp.JSONBExtractScalar: "#>>",
}
_TYPEOF = {"OBJECT": "object", "ARRAY": "array", "VARCHAR": "string", "BOOLEAN": "boolean", "NULL": "null",
           "BIGINT": "number", "UBIGINT": "number", "HUGEINT": "number", "DOUBLE": "number"}
_NUMBERS = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"})


def annotate(tree: exp.Expr, type_of: TypeOf) -> None:
    """Marks the operators of ``tree`` whose operands PostgreSQL types json or jsonb, and each
    ``to_jsonb`` call with whether its argument is a number."""
    for node in tree.find_all(*_OPERATORS, exp.Anonymous):
        if isinstance(node, exp.Anonymous):
            if node.name.lower() == "to_jsonb" and len(node.expressions) == 1:
                argument = type_of(node.expressions[0])
                if argument is not None and argument.type.name == "unknown":  # a bare string literal
                    raise DatatypeMismatch("could not determine polymorphic type because input has type unknown")
                node.meta[JSON_OPERANDS] = argument is not None and argument.type.name in _NUMBERS
            continue
        types = (type_of(node.this), type_of(node.expression))
        if any(t is not None and t.type.name in ("json", "jsonb") for t in types):
            node.meta[JSON_OPERANDS] = True


def duckdb_calls(tree: exp.Expr) -> None:
    """Rewrites the jsonb operators and functions of ``tree`` into DuckDB's, in place; raises
    0A000 for those DuckDB cannot compute as PostgreSQL does."""
    for node in reversed(list(tree.find_all(*_OPERATORS, *_UNSUPPORTED, exp.Anonymous))):  # inner calls first
        marked = bool(node._meta and node.meta.get(JSON_OPERANDS))
        if type(node) in _UNSUPPORTED:
            raise FeatureNotSupported(f"the jsonb operator {_UNSUPPORTED[type(node)]} is not supported on this source")
        if isinstance(node, exp.Anonymous):
            replacement = _function(node, marked)
            if replacement is not None:
                node.replace(replacement)
        elif not marked:
            continue
        elif isinstance(node, exp.ArrayContainsAll):
            node.replace(exp.Anonymous(this="json_contains", expressions=[node.this, node.expression]))
        elif isinstance(node, exp.ArrayContainedBy):
            node.replace(exp.Anonymous(this="json_contains", expressions=[node.expression, node.this]))
        else:
            symbol = "||" if isinstance(node, exp.DPipe) else "-"
            raise FeatureNotSupported(f"the jsonb operator {symbol} is not supported on this source")


def _function(node: exp.Anonymous, numeric_argument: bool) -> exp.Expr | None:
    name = node.name.lower()
    args = list(node.expressions)
    if name == "to_jsonb" and len(args) == 1:
        if numeric_argument:  # DuckDB's to_json drops a decimal's trailing zeros; its text keeps them
            return exp.cast(exp.cast(args[0], exp.DataType.build("VARCHAR")), exp.DataType.build("JSON"))
        return exp.Anonymous(this="to_json", expressions=args)
    if name == "jsonb_build_object":
        return exp.Anonymous(this="json_object", expressions=args)
    if name == "jsonb_array_length" and len(args) == 1:  # 22023 for what is no array, as PostgreSQL
        length = exp.cast(exp.Anonymous(this="json_array_length", expressions=[args[0].copy()]),
                          exp.DataType.build("INTEGER"))
        kind = exp.Anonymous(this="json_type", expressions=[args[0].copy()])
        fail = {k: exp.Anonymous(this="error", expressions=[exp.Literal.string(f"cannot get array length of a {k}")])
                for k in ("non-array", "scalar")}
        return exp.Case(ifs=[exp.If(this=exp.Is(this=args[0], expression=exp.Null()), true=exp.Null()),
                             exp.If(this=exp.EQ(this=kind, expression=exp.Literal.string("ARRAY")), true=length),
                             exp.If(this=exp.EQ(this=kind.copy(), expression=exp.Literal.string("OBJECT")),
                                    true=fail["non-array"])],
                        default=fail["scalar"])
    if name == "jsonb_typeof" and len(args) == 1:
        kind = exp.Anonymous(this="json_type", expressions=args)
        ifs = [exp.If(this=exp.Literal.string(k), true=exp.Literal.string(v)) for k, v in _TYPEOF.items()]
        return exp.Case(this=kind, ifs=ifs)
    if name.startswith("jsonb_"):
        raise FeatureNotSupported(f"function {name}() is not supported on this source")
    return None
