"""PostgreSQL's arithmetic and aggregate results for statements DuckDB runs.

DuckDB and PostgreSQL disagree on result types, and on values: ``7 / 2`` is 3 in PostgreSQL and
3.5 in DuckDB; ``sum(int4)`` is int8 in PostgreSQL and HUGEINT in DuckDB; ``avg``, ``variance``
and numeric division are exact ``numeric`` values in PostgreSQL with a display scale chosen per
value, and DOUBLE in DuckDB. :func:`postgres_numerics` rewrites a PostgreSQL statement tree (the
Typer of :mod:`~veil.pgcatalog.infer` gives each node its PostgreSQL type) so that DuckDB
computes what PostgreSQL would:

* the result type of each aggregate comes from :data:`AGGREGATES`, PostgreSQL 15's own table
  (``data/aggregates.csv``: pg_aggregate joined to pg_proc, see :data:`AGGREGATES_QUERY`); the
  DuckDB result is cast to it;
* integer ``/`` is integer division (truncating toward zero) in the type of the wider operand;
* a numeric quotient (``/`` over numeric and integer operands, ``avg`` of integers or numeric
  as ``sum/count``) is
  computed exactly on 128-bit integers (the macro of :mod:`veil.catalog.sources.pgdivision`)
  and printed with PostgreSQL's ``select_div_scale``
  (at least 16 significant digits, never fewer decimals than an operand), rounded half away
  from zero, as text the wire encoders serve as ``numeric``. The operands' scales are known
  statically, as PostgreSQL's ``dscale`` rules give them (a column's ``numeric(p,s)``, a
  literal's digits, ``+``/``-`` the larger, ``*`` the sum); a quotient of operands whose scale
  is not known is left to DuckDB.

``var_samp``, ``var_pop`` and the ``stddev`` family of integers and numeric are PostgreSQL's
``numeric_stddev_internal``: DuckDB sums exact pieces of the values and their squares, and a
Python function finishes each group (:mod:`veil.catalog.sources.pgvariance`).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlglot import exp, parse_one

from veil.catalog.sources.pgdivision import MACRO as DIVISION
from veil.catalog.sources.pgvariance import FUNCTION, LIMB, ROOT, SAMPLE
from veil.pgcatalog.naming import output_name
from veil.pgcatalog.numeric_display import ByNode, OutputScales, Scale, array_text, display_text, held_text, text_scale
from veil.pgcatalog.numeric_scopes import INNER_SCALE, DerivedScales
from veil.pgcatalog.result_types import extract_scale
from veil.pgtypes import ColumnType

AGGREGATES_QUERY = """
SELECT p.proname, t.typname, r.typname FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
JOIN pg_type t ON t.oid = p.proargtypes[0] JOIN pg_type r ON r.oid = p.prorettype
WHERE p.pronargs = 1 AND a.aggkind = 'n'
  AND t.typname IN ('int2','int4','int8','float4','float8','numeric','money','interval','oid')
ORDER BY 1, 2
"""


def _load_aggregates() -> dict[tuple[str, str], str]:
    path = Path(__file__).parent / "data" / "aggregates.csv"
    with path.open(encoding="utf-8") as handle:
        return {(name, argument): result for name, argument, result in csv.reader(handle)}


#: (aggregate, argument type) → result type, from PostgreSQL 15's catalog.
AGGREGATES: dict[tuple[str, str], str] = _load_aggregates()

_AGGREGATE_NAMES: dict[type[exp.Expr], str] = {
    exp.Sum: "sum", exp.Avg: "avg", exp.Stddev: "stddev", exp.StddevSamp: "stddev_samp",
    exp.StddevPop: "stddev_pop", exp.Variance: "var_samp", exp.VariancePop: "var_pop",
}
AGGREGATE_CLASSES = tuple(_AGGREGATE_NAMES)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Mod)
_NUMBERS = {"int2", "int4", "int8", "float4", "float8", "numeric"}
_INTEGERS = ("int2", "int4", "int8")
_RANK = {"int2": 1, "int4": 2, "int8": 3}
_DUCKDB_TYPES = {"int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT", "float4": "REAL",
                 "float8": "DOUBLE"}
_MAX_SCALE = 38  # DuckDB's DECIMAL holds 38 digits

def aggregate_result(node: exp.Expr, argument: str) -> str | None:
    """PostgreSQL's result type of aggregate ``node`` over a value of type ``argument``."""
    return AGGREGATES.get((_AGGREGATE_NAMES[type(node)], argument))


TypeOf = Callable[[exp.Expr], ColumnType | None]
ProjectionOf = Callable[[exp.Column], list[exp.Expr]]


def _name(column_type: ColumnType | None) -> str | None:
    return column_type.type.name if column_type is not None else None


def _literal_scale(node: exp.Literal) -> int | None:
    return None if node.is_string else _text_scale(node.this)


def _text_scale(text: str) -> int | None:
    """The dscale PostgreSQL gives a numeric read from ``text`` (``1.50`` → 2, ``1e-3`` → 3)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    exponent = value.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else None


def _rounded_scale(decimals: exp.Expr | None) -> int | None:
    """The scale of ``round(x, decimals)`` and ``trunc(x, decimals)``: the decimals asked for,
    none when they are negative or absent."""
    if decimals is None or (isinstance(decimals, exp.Neg) and isinstance(decimals.this, exp.Literal)):
        return 0
    if isinstance(decimals, exp.Literal) and not decimals.is_string:
        return max(int(decimals.this), 0)
    return None


def _numeric_scale(column_type: ColumnType) -> int | None:
    if column_type.type.name in _INTEGERS:
        return 0
    if column_type.type.name == "numeric" and column_type.typmod >= 4:
        return (column_type.typmod - 4) & 0xFFFF
    return None


class _Scales:
    """PostgreSQL's display scale (dscale) of a numeric expression, where it is static."""

    def __init__(self, type_of: TypeOf, projection_of: ProjectionOf | None = None) -> None:
        self.type_of = type_of
        self.derived = DerivedScales(self.of, projection_of)

    def of(self, node: exp.Expr) -> int | None:
        if isinstance(node, exp.IntDiv):  # div(): untyped, truncated to an integral numeric
            return 0
        kind = self.type_of(node)
        if kind is None or kind.type.name not in (*_INTEGERS, "numeric"):
            return None
        if kind.type.name in _INTEGERS:
            return 0
        if isinstance(node, exp.Literal):
            return _literal_scale(node)
        if isinstance(node, exp.Cast) and kind.typmod < 0:
            inner = node.this
            if isinstance(inner, exp.Literal) and inner.is_string:
                return _text_scale(inner.this)
            return self.of(inner)
        if isinstance(node, exp.Paren | exp.Neg | exp.Sum | exp.Min | exp.Max | exp.Abs):
            return self.of(node.this)
        if isinstance(node, exp.Extract):
            return extract_scale(node, self.type_of(node.expression))
        if isinstance(node, exp.Nullif):
            return self.of(node.this)
        if isinstance(node, exp.Case | exp.Coalesce):
            branches = [i.args.get("true") for i in node.args.get("ifs", [])] + [node.args.get("default")]
            if isinstance(node, exp.Coalesce):
                branches = [node.this, *node.expressions]
            known = {self.of(b) for b in branches if b is not None and not isinstance(b, exp.Null)}
            # each value keeps its own scale: static only when the branches agree
            return known.pop() if len(known) == 1 else None
        if isinstance(node, exp.Add | exp.Sub):
            left, right = self.of(node.this), self.of(node.expression)
            return max(left, right) if left is not None and right is not None else None
        if isinstance(node, exp.Mul):
            left, right = self.of(node.this), self.of(node.expression)
            return left + right if left is not None and right is not None else None
        if isinstance(node, exp.Round | exp.Trunc):
            return _rounded_scale(node.args.get("decimals"))
        if isinstance(node, exp.Ceil | exp.Floor | exp.Sign):
            return 0
        if isinstance(node, exp.Cast) and kind.typmod >= 4:
            return _numeric_scale(kind)
        if isinstance(node, exp.Column) and kind.typmod >= 4:
            return _numeric_scale(kind)
        return self.derived.of(node)


def quotient_sql(dividend: str, divisor: str, dividend_scale: int, divisor_scale: int) -> str:
    """DuckDB SQL for PostgreSQL's ``numeric_div``: the quotient of two numeric values with
    static scales, exact, rounded half away from zero at ``select_div_scale``, as text (a call
    of :data:`~veil.catalog.sources.pgdivision.MACRO`, defined on every DuckDB Veil opens)."""
    sa, sb = dividend_scale, divisor_scale
    return (
        f"{DIVISION}(CAST({dividend} AS DECIMAL(38, {sa})), CAST({divisor} AS DECIMAL(38, {sb})), {sa}, {sb})"
    )


@functools.lru_cache(maxsize=256)
def _template(dividend_scale: int, divisor_scale: int) -> exp.Expr:
    return parse_one(quotient_sql(_DIVIDEND, _DIVISOR_NAME, dividend_scale, divisor_scale), read="duckdb")


_DIVIDEND, _DIVISOR_NAME = "__veil_dividend", "__veil_divisor"


def _quotient(dividend: exp.Expr, divisor: exp.Expr, dividend_scale: int, divisor_scale: int) -> _Text:
    tree = _template(dividend_scale, divisor_scale).copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name == _DIVIDEND:
            column.replace(dividend.copy())
        elif column.name == _DIVISOR_NAME:
            column.replace(divisor.copy())
    approximate = exp.Div(this=_cast(dividend.copy(), "DOUBLE"), expression=_cast(divisor.copy(), "DOUBLE"))
    return _Text(this=tree, approximate=approximate)


def _cast(node: exp.Expr, duckdb_type: str) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build(duckdb_type, dialect="duckdb"))


def _site(node: exp.Expr) -> exp.Expr:
    """The aggregate call with its FILTER and OVER clauses (what a cast must wrap)."""
    site = node
    while isinstance(site.parent, exp.Filter | exp.Window) and site.arg_key == "this":
        site = site.parent
    return site


def _at_site(site: exp.Expr, node: exp.Expr, call: exp.Expr) -> exp.Expr:
    """A copy of ``site`` (``node`` under FILTER/OVER) calling ``call`` instead of ``node``."""
    if site is node:
        return call
    copy = site.copy()
    inner = copy
    while isinstance(inner.this, exp.Filter | exp.Window):
        inner = inner.this
    inner.set("this", call)
    return copy


_SPREADS = {"var_samp": SAMPLE, "var_pop": 0, "stddev": SAMPLE | ROOT, "stddev_samp": SAMPLE | ROOT, "stddev_pop": ROOT}
_BOUNDS = {"int2": 2**15, "int4": 2**31, "int8": 2**63}  # |x| ≤ bound


def _bound(column_type: ColumnType | None) -> int:
    """A bound of |x|·10^scale for the values of ``column_type`` (DuckDB's 38 digits if unknown)."""
    if column_type is None:
        return 10**_MAX_SCALE
    if column_type.type.name in _BOUNDS:
        return _BOUNDS[column_type.type.name]
    if column_type.type.name == "numeric" and column_type.typmod >= 4:
        return 10 ** min(((column_type.typmod - 4) >> 16) & 0xFFFF, _MAX_SCALE)
    return 10**_MAX_SCALE


def _scaled(scale: int, bound: int) -> str:
    """DuckDB SQL for the integer x·10^scale (x: the column :data:`_X`), exact, as HUGEINT."""
    value = _X
    if scale == 0:
        return f"CAST({value} AS HUGEINT)"
    decimal = f"CAST({value} AS DECIMAL(38, {scale}))"
    if bound * 10**scale <= 10**_MAX_SCALE:  # x·10^scale still fits DECIMAL(38, scale)
        return f"CAST({decimal} * {10**scale} AS HUGEINT)"
    if 2 * scale <= _MAX_SCALE:  # integer part, and the fraction's digits (below 10^scale)
        return f"(CAST(trunc({decimal}) AS HUGEINT) * {10**scale} + CAST(({decimal} - trunc({decimal})) * {10**scale} AS HUGEINT))"
    return f"CAST(replace(CAST({decimal} AS VARCHAR), '.', '') AS HUGEINT)"


_X = "__veil_x"


@functools.lru_cache(maxsize=64)
def _parsed(sql: str) -> exp.Expr:
    return parse_one(sql, read="duckdb")


def _with_x(sql: str, argument: exp.Expr) -> exp.Expr:
    """DuckDB expression ``sql`` with ``argument`` for its column :data:`_X`."""
    tree = _parsed(sql).copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name == _X:
            column.replace(argument.copy())
    return tree


def _spread(node: exp.Expr, at: Callable[[exp.Expr], exp.Expr], scale: int, bound: int) -> _Text:
    """PostgreSQL's ``numeric_stddev_internal``: DuckDB sums exact pieces of x·10^scale and of
    its square that cannot overflow 128 bits, :data:`~veil.catalog.sources.pgvariance.FUNCTION`
    puts each group's together (see that module)."""
    x = _scaled(scale, bound)
    bits, mask = LIMB.bit_length() - 1, str(LIMB - 1)

    def split(product: str | None) -> list[str | None]:
        return [f"({product}) >> {bits}", f"({product}) & {mask}"] if product else [None, None]

    if bound <= LIMB:  # one piece, x itself, whose square fits 128 bits
        high, low = None, x
    else:
        high, low = f"(({x}) >> {bits})", f"(({x}) & {mask})"
    sums = [high, low, *split(high and f"{high} * {high}"), *split(high and f"{high} * {low}")]
    sums += [None, f"({low}) * ({low})"] if bound * bound <= LIMB else split(f"({low}) * ({low})")
    arguments = [at(exp.Count(this=node.this.copy()))]
    for piece in sums:
        total = _cast(at(exp.Sum(this=_with_x(piece, node.this))), "VARCHAR") if piece else exp.Literal.string("0")
        arguments.append(total)
    mode = _SPREADS[_AGGREGATE_NAMES[type(node)]]
    arguments += [exp.Literal.number(scale), exp.Literal.number(mode)]
    approximate = node.copy()
    approximate.set("this", _cast(node.this.copy(), "DOUBLE"))
    return _Text(
        this=exp.Anonymous(this=FUNCTION, expressions=arguments), approximate=at(approximate), sorted_as="DOUBLE",
        spread=True,
    )


def postgres_numerics(
    tree: exp.Expr, type_of: TypeOf, projection_of: ProjectionOf | None = None, *, array_texts: bool = False
) -> exp.Expr:
    """``tree`` rewritten (see the module doc), in place where it can be.

    A quotient is exact text at PostgreSQL's scale only as an output column of the outermost
    SELECT: there the statement is wrapped, ``SELECT .., <text> FROM (<statement>) q(..)``,
    so that ORDER BY, DISTINCT and GROUP BY inside still see a number (``DECIMAL(38, 16)``, as
    any quotient used inside an expression is). ``projection_of`` finds the select-list
    expression behind a column of a derived table or CTE, whose scale the column has. With
    ``array_texts`` (the local engine, whose results serve text as ``numeric[]``) an output
    ``ARRAY[...]`` of numeric is printed with each element's scale."""
    scales = _Scales(type_of, projection_of)
    names = [output_name(p) for p in tree.expressions] if isinstance(tree, exp.Select) else []
    nodes = list(tree.find_all(exp.Div, exp.IntDiv, *_ARITHMETIC, exp.Literal, exp.Cast, exp.Neg, *_AGGREGATE_NAMES))
    static = _static_scales(tree, scales)
    # Types and scales of the original tree, before any node moves.
    facts: list[tuple[exp.Expr, str | None, str | None, int | None, int | None]] = []
    bounds: dict[int, int] = {}  # an aggregate's bound of |x|·10^scale
    for node in nodes:
        if isinstance(node, (exp.Div, exp.IntDiv, *_ARITHMETIC)):
            left, right = node.this, node.expression
            facts.append((node, _name(type_of(left)), _name(type_of(right)), scales.of(left), scales.of(right)))
        elif isinstance(node, exp.Literal | exp.Cast | exp.Neg):
            facts.append((node, _name(type_of(node)), None, scales.of(node), None))
        else:
            argument = node.this
            facts.append((node, _name(type_of(argument)), None, scales.of(argument), None))
            bounds[id(node)] = _bound(type_of(argument))
    outputs = _outputs(tree)
    numeric = [i for i in outputs.values() if _computed_numeric(tree.expressions[i], type_of, array_texts)]
    texts: dict[int, exp.Expr] = {}
    carried: ByNode[Scale] = ByNode()  # the scale of a spread's value held in an expression
    held: ByNode[exp.Expr] = ByNode()  # ... and its exact text
    for node, left_type, right_type, left_scale, right_scale in reversed(facts):  # innermost first
        site: exp.Expr = node
        replacement: exp.Expr | _Text | None
        dividend = held.get(node.this) if isinstance(node, exp.Div) else None
        if dividend is not None and right_scale is not None:
            replacement = _text_quotient(dividend, node.expression, right_scale)
        elif isinstance(node, exp.Div):
            replacement = _division(node, left_type, right_type, left_scale, right_scale)
        elif isinstance(node, exp.IntDiv):
            replacement = _integer_quotient(node, left_type, right_type, left_scale, right_scale)
        elif isinstance(node, _ARITHMETIC):
            replacement = _widened(node, left_type, right_type)
        elif isinstance(node, exp.Literal):
            replacement = _exact_literal(node, left_type, left_scale)
        elif isinstance(node, exp.Cast):
            replacement = _scaled_cast(node, left_type, left_scale)
        elif isinstance(node, exp.Neg):
            replacement = _negation(node, left_type)
        else:
            site = _site(node)
            replacement = _aggregate(node, site, left_type, left_scale, bounds[id(node)])
        if replacement is None:
            continue
        if isinstance(replacement, _Text):
            position = outputs.get(id(site.parent if isinstance(site.parent, exp.Alias) else site))
            if position is not None:  # exact text outside, a number to sort by inside
                texts[position] = replacement.this
                replacement = _cast(replacement.approximate, replacement.sorted_as)
            elif replacement.spread:  # computed with at its own scale
                text = replacement.this
                replacement = held_text(text, INNER_SCALE)
                carried[replacement] = Scale(INNER_SCALE, text_scale(text))
                held[replacement] = text
            else:
                replacement = _cast(replacement.this, _INNER_DECIMAL)
        site.replace(replacement)
    _display_scales(tree, numeric, names, texts, OutputScales(static.get, carried))
    return _wrapped(tree, texts, names) if texts else tree


def _static_scales(tree: exp.Expr, scales: _Scales) -> ByNode[int]:
    """The static scale of each node of the outermost select list's numeric expressions."""
    found: ByNode[int] = ByNode()
    for projection in tree.expressions if isinstance(tree, exp.Select) else []:
        for node in projection.walk():
            scale = None if isinstance(node, exp.Alias) else scales.of(node)
            if scale is not None:
                found[node] = scale
    return found


def _ungrouped(tree: exp.Expr, value: exp.Expr) -> bool:
    """Whether ``value`` reads a column outside an aggregate in a grouped ``tree``: the scale's
    own expression (``CASE WHEN i > 0 THEN 2 ELSE 4 END``) would read it ungrouped."""
    if tree.args.get("group") is None:
        return False
    return any(column.find_ancestor(exp.AggFunc) is None for column in value.find_all(exp.Column))


_KEEPS_SCALE = (exp.Paren, exp.Neg, exp.Abs, exp.Add, exp.Sub, exp.Mul, exp.Sum, exp.Min, exp.Max, exp.Window,
                exp.Filter)


def _same_in_duckdb(node: exp.Expr) -> bool:
    """Whether DuckDB's DECIMAL scale of ``node`` is PostgreSQL's: columns and numeric literals
    combined by the operators and aggregates whose scale rule is the same in both (no cast needed)."""
    if isinstance(node, exp.Column):
        return True
    if isinstance(node, exp.Literal):
        return not node.is_string and "e" not in node.name.lower()
    if not isinstance(node, _KEEPS_SCALE):
        return False
    operands = [node.this, *([node.expression] if isinstance(node, exp.Binary) else [])]
    return all(_same_in_duckdb(o) for o in operands)


def _computed_numeric(projection: exp.Expr, type_of: TypeOf, arrays: bool) -> bool:
    value = projection.unalias()
    if arrays and isinstance(value, exp.Array) and _name(type_of(value)) == "_numeric":
        return True
    return _name(type_of(value)) == "numeric" and not isinstance(value, exp.Column)


def _display_scales(
    tree: exp.Expr, numeric: list[int], names: list[str], texts: dict[int, exp.Expr], found: OutputScales
) -> None:
    """Each computed numeric output column of ``tree`` (``numeric``: positions) at PostgreSQL's
    scale (see :mod:`.numeric_display`): cast to ``DECIMAL(38, s)`` when every row has scale s,
    else printed at each row's scale (a text of ``texts``, by position)."""
    for position in numeric:
        projection = tree.expressions[position]
        value = projection.unalias()
        if isinstance(value, exp.Array):
            elements = [(e, Scale(0) if isinstance(e, exp.Null) else found.of(e)) for e in value.expressions]
            known = [(e, scale) for e, scale in elements if scale is not None and scale.maximum <= _MAX_SCALE]
            if len(known) == len(elements):
                texts[position] = array_text(known)
            continue
        scale = None if position in texts else found.of(value)
        if scale is None or scale.maximum > _MAX_SCALE:
            continue
        if scale.fixed is None:
            if not _ungrouped(tree, value):
                texts[position] = display_text(value.copy(), scale)
        elif not _same_in_duckdb(value):
            cast = _cast(value.copy(), f"DECIMAL(38, {scale.fixed})")
            if value is projection:
                projection.replace(exp.alias_(cast, names[position], quoted=True))
            else:
                value.replace(cast)


@dataclass(frozen=True)
class _Text:
    """A replacement that is numeric printed as text (an exact quotient), and its value as a
    DOUBLE: enough to sort an output column by (ORDER BY, DISTINCT), and far shorter SQL."""

    this: exp.Expr
    approximate: exp.Expr
    sorted_as: str = "DECIMAL(38, 16)"  # the approximate's type (a variance may exceed 10^22)
    spread: bool = False  # a standard deviation or variance (any scale), not a quotient


_INNER_DECIMAL = f"DECIMAL(38, {INNER_SCALE})"


def _outputs(tree: exp.Expr) -> dict[int, int]:
    """Output columns of the outermost SELECT by node id → position (none with ``*``)."""
    if not isinstance(tree, exp.Select) or any(
        isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
        for p in tree.expressions
    ):
        return {}
    return {id(projection): index for index, projection in enumerate(tree.expressions)}


def _wrapped(tree: exp.Expr, texts: dict[int, exp.Expr], names: list[str]) -> exp.Expr:
    assert isinstance(tree, exp.Select)
    count = len(tree.expressions)
    inner = [f"veil_c{i}" for i in range(count)] + [f"veil_t{i}" for i in texts]
    for text in texts.values():
        tree.append("expressions", text)
    alias = exp.TableAlias(this=exp.to_identifier("veil_q"), columns=[exp.to_identifier(n) for n in inner])
    outer = []
    for index in range(count):
        column = f"veil_t{index}" if index in texts else f"veil_c{index}"
        outer.append(exp.alias_(exp.column(column, "veil_q"), names[index], quoted=True))
    return exp.select(*outer).from_(exp.Subquery(this=tree, alias=alias))


def _widened(node: exp.Expr, left: str | None, right: str | None) -> exp.Expr | None:
    """float4 meeting another number: PostgreSQL has no such float4 operator and uses float8's.
    Two integers of different widths: PostgreSQL computes in the wider (``int2 * 1000`` is int4
    arithmetic), DuckDB would bend an integer literal to the narrower and overflow there."""
    if left in _INTEGERS and right in _INTEGERS and left != right:
        wider = max(left, right, key=_RANK.__getitem__)
        side = "this" if wider == right else "expression"
        node.set(side, _cast(node.args[side], _DUCKDB_TYPES[wider]))
        return None
    if "float4" not in (left, right) or left == right or not {left, right} <= _NUMBERS:
        return None
    for side, kind in (("this", left), ("expression", right)):
        if kind == "float4":
            node.set(side, _cast(node.args[side], "DOUBLE"))
    return None


def _negation(node: exp.Neg, kind: str | None) -> exp.Expr | None:
    """``-x`` of an integer as ``0 - x`` in x's type: DuckDB's negation overflow does not name the
    type PostgreSQL's error does (``smallint out of range``), its subtraction's does."""
    if kind not in _INTEGERS or isinstance(node.this, exp.Literal):
        return None
    return exp.Sub(this=_cast(exp.Literal.number(0), _DUCKDB_TYPES[kind]), expression=node.this)


def _exact_literal(node: exp.Literal, kind: str | None, scale: int | None) -> exp.Expr | None:
    """A numeric literal DuckDB would read as DOUBLE (``1e3``), as the exact decimal it is."""
    if node.is_string or kind != "numeric" or scale is None or "e" not in node.this.lower() or scale > _MAX_SCALE:
        return None
    digits = len(format(abs(Decimal(node.this)).to_integral_value(), "f").lstrip("0")) + scale
    if digits > _MAX_SCALE:  # beyond DuckDB's DECIMAL: left the DOUBLE it reads (exact as float8)
        return None
    return _cast(exp.Literal.string(format(Decimal(node.this), "f")), f"DECIMAL(38, {scale})")


def _scaled_cast(node: exp.Cast, kind: str | None, scale: int | None) -> exp.Expr | None:
    """``x::numeric`` keeps x's scale (``1.5::numeric`` is 1.5; DuckDB's DECIMAL would be 1.500)."""
    target = node.to
    if kind != "numeric" or scale is None or scale > _MAX_SCALE or target.expressions:
        return None
    if target.this not in (exp.DType.DECIMAL, exp.DType.BIGDECIMAL):
        return None
    node.set("to", exp.DataType.build(f"DECIMAL(38, {scale})", dialect="duckdb"))
    return None


def _division(
    node: exp.Div, left: str | None, right: str | None, left_scale: int | None, right_scale: int | None
) -> exp.Expr | _Text | None:
    if "float4" in (left, right):
        return _widened(node, left, right)
    if left in _INTEGERS and right in _INTEGERS:
        wider = max(left, right, key=_RANK.__getitem__)
        return _cast(exp.IntDiv(this=node.this, expression=node.expression), _DUCKDB_TYPES[wider])
    numeric = {left, right} <= {*_INTEGERS, "numeric"} and "numeric" in (left, right)
    if numeric and left_scale is not None and right_scale is not None and max(left_scale, right_scale) <= _MAX_SCALE:
        return _quotient(node.this, node.expression, left_scale, right_scale)
    return None


def _text_quotient(dividend: exp.Expr, divisor: exp.Expr, divisor_scale: int) -> _Text | None:
    """The quotient of ``dividend``, PostgreSQL's text of a numeric (a standard deviation or
    variance, whose scale is per value), by a numeric of static scale: the division macro reads
    the dividend's digits and scale from the text itself."""
    if divisor_scale > _MAX_SCALE:
        return None
    scaled = _cast(divisor.copy(), f"DECIMAL(38, {divisor_scale})")
    call = exp.Anonymous(
        this=DIVISION, expressions=[dividend.copy(), scaled, text_scale(dividend), exp.Literal.number(divisor_scale)]
    )
    approximate = exp.Div(this=_cast(dividend.copy(), "DOUBLE"), expression=_cast(divisor.copy(), "DOUBLE"))
    return _Text(this=call, approximate=approximate, sorted_as="DOUBLE")


def _integer_quotient(
    node: exp.IntDiv, left: str | None, right: str | None, left_scale: int | None, right_scale: int | None
) -> _Text | None:
    """PostgreSQL's ``div(a, b)`` of numeric values (sqlglot's ``CAST(a // b AS DECIMAL)``):
    the quotient truncated toward zero, exact, as ``(a - a % b) / b`` (DuckDB's ``%`` of
    DECIMALs is exact and truncated as PostgreSQL's)."""
    if "numeric" not in (left, right) or not {left, right} <= {*_INTEGERS, "numeric"}:
        return None
    if left_scale is None or right_scale is None or max(left_scale, right_scale) > _MAX_SCALE:
        return None
    remainder = exp.Mod(this=exp.Paren(this=node.this.copy()), expression=exp.Paren(this=node.expression.copy()))
    multiple = exp.Paren(this=exp.Sub(this=exp.Paren(this=node.this.copy()), expression=remainder))
    return _quotient(multiple, node.expression, max(left_scale, right_scale), right_scale)


def _aggregate(
    node: exp.Expr, site: exp.Expr, argument: str | None, scale: int | None, bound: int
) -> exp.Expr | _Text | None:
    name = _AGGREGATE_NAMES[type(node)]
    result = aggregate_result(node, argument) if argument is not None else None
    if result is None:
        return None

    def at(call: exp.Expr) -> exp.Expr:
        return _at_site(site, node, call)

    if result in _DUCKDB_TYPES:
        return _cast(at(node.copy()), _DUCKDB_TYPES[result])
    if result != "numeric" or scale is None:
        return None
    if name == "avg":
        return _quotient(at(exp.Sum(this=node.this.copy())), at(exp.Count(this=node.this.copy())), scale, 0)
    if name in _SPREADS and scale <= _MAX_SCALE:
        return _spread(node, at, scale, bound)
    return None
