"""PostgreSQL's ``numeric_div`` as a DuckDB macro, defined on every DuckDB Veil opens.

:data:`MACRO` ``(a, b, sa, sb)`` is the quotient of two decimals ``a`` (scale ``sa``) and ``b``
(scale ``sb``), exact on 128-bit integers, rounded half away from zero at PostgreSQL's
``select_div_scale`` (at least 16 significant digits, never fewer decimals than an operand), as
text. :mod:`veil.pgcatalog.pgnumeric` writes one short call per quotient instead of the whole
expression (2.7 kB that sqlglot parsed and printed four times per statement). Clients never call
it: the ``veil_`` prefix is refused in their statements (:mod:`veil.policy.allowlist`).

The body is a sequence of steps that each bind their values once (DuckDB has no LET): a
one-element list of a struct, mapped by list_transform to the struct with the step's fields
added (struct_insert). The steps follow one another rather than nest: DuckDB's CPU for one
quotient was 19 ms with seven nested lambdas, 7 ms with the steps in sequence. Fields and
elements are read with struct_extract and list_extract: ``row.field`` in a lambda under HAVING
is bound as a column. Steps: the operands printed with their scales (a, b); their digits (no
sign, point or leading zeros; '' for zero) and the quotient's sign; e the exponent of each first
digit and m its place in its base-10000 digit; r the result scale (select_div_scale: from the
weights and first base-10000 digits); s the dividend's digits shifted to r + divisor scale -
dividend scale decimals; n1, n2 the integers |dividend| · 10^(r + sb - sa) and |divisor|; q
their quotient rounded half away from zero, |quotient| · 10^r; t its digits padded to r + 1.
"""

from __future__ import annotations

import duckdb

MACRO = "veil_numeric_div"
_PARAMETERS = ("veil_a", "veil_b", "veil_sa", "veil_sb")

_DIGITS = "ltrim(replace(replace({text}, '-', ''), '.', ''), '0')"
_MOD = "((({e} % 4) + 4) % 4)"
_WEIGHT = "CASE WHEN {d} = '' THEN 0 ELSE ({e} - {m}) // 4 END"
_FIRST = "CASE WHEN {d} = '' THEN 0 ELSE CAST(rpad({d}, CAST({m} + 1 AS INTEGER), '0') AS INTEGER) END"
_SCALE = "least(greatest(16 - 4 * ({wa} - {wb} - CASE WHEN {fa} <= {fb} THEN 1 ELSE 0 END), {sa}, {sb}, 0), 1000)"
_SHIFTED = "(CASE WHEN {d} = '' THEN '0' ELSE {d} END) || repeat('0', CAST({r} + {sb} - {sa} AS INTEGER))"
_CHECKED = (  # beyond 128 bits (38 digits) PostgreSQL would go on; Veil says so as PostgreSQL does
    "CASE WHEN {s} IS NOT NULL AND TRY_CAST({s} AS HUGEINT) IS NULL"
    " THEN error('[22003] value overflows numeric format') ELSE TRY_CAST({s} AS HUGEINT) END"
)
_DIVISOR = "CAST((CASE WHEN {d} = '' THEN '0' ELSE {d} END) AS HUGEINT)"
_ROUNDED = "CAST({a} // {b} + CASE WHEN 2 * ({a} % {b}) >= {b} THEN 1 ELSE 0 END AS VARCHAR)"  # half away from 0
_PADDED = "lpad({q}, CAST(greatest(length({q}), {r} + 1) AS INTEGER), '0')"  # lpad alone would cut
_FORMAT = (
    "(CASE WHEN {neg} AND ltrim({t}, '0') <> '' THEN '-' ELSE '' END) || left({t}, CAST(length({t}) - {r} AS INTEGER))"
    " || CASE WHEN {r} > 0 THEN '.' || right({t}, CAST({r} AS INTEGER)) ELSE '' END"
)


def _field(row: str, name: str) -> str:
    return f"struct_extract({row}, '{name}')"


def _step(rows: str, row: str, fields: dict[str, str]) -> str:
    """``rows`` (a one-element list of structs) mapped, each as ``row``, to ``row`` with ``fields``
    added."""
    added = ", ".join(f"{name} := {value}" for name, value in fields.items())
    return f"list_transform({rows}, lambda {row}: struct_insert({row}, {added}))"


def quotient_body(dividend: str, divisor: str, dividend_scale: str, divisor_scale: str) -> str:
    """The macro's body: DuckDB SQL for the quotient of decimals ``dividend`` and ``divisor``
    whose scales are the integer expressions ``dividend_scale`` and ``divisor_scale``."""
    sa, sb = dividend_scale, divisor_scale
    operands = f"[{{'a': CAST({dividend} AS VARCHAR), 'b': CAST({divisor} AS VARCHAR)}}]"
    a, b = _field("v", "a"), _field("v", "b")
    digits = _step(
        operands,
        "v",
        {
            "da": _DIGITS.format(text=a),
            "db": _DIGITS.format(text=b),
            "neg": f"starts_with({a}, '-') <> starts_with({b}, '-')",
        },
    )
    ea, eb = f"(length({_field('d', 'da')}) - 1 - {sa})", f"(length({_field('d', 'db')}) - 1 - {sb})"
    places = _step(digits, "d", {"ea": ea, "eb": eb, "ma": _MOD.format(e=ea), "mb": _MOD.format(e=eb)})
    da, db, ea, eb, ma, mb = (_field("m", name) for name in ("da", "db", "ea", "eb", "ma", "mb"))
    scale = _SCALE.format(
        wa=_WEIGHT.format(d=da, e=ea, m=ma),
        wb=_WEIGHT.format(d=db, e=eb, m=mb),
        fa=_FIRST.format(d=da, m=ma),
        fb=_FIRST.format(d=db, m=mb),
        sa=sa,
        sb=sb,
    )
    scaled = _step(places, "m", {"r": scale})
    shifted = _step(
        scaled,
        "r",
        {
            "s": _SHIFTED.format(d=_field("r", "da"), r=_field("r", "r"), sa=sa, sb=sb),
        },
    )
    integers = _step(
        shifted,
        "h",
        {
            "n1": _CHECKED.format(s=_field("h", "s")),
            "n2": _DIVISOR.format(d=_field("h", "db")),
        },
    )
    rounded = _step(integers, "n", {"q": _ROUNDED.format(a=_field("n", "n1"), b=_field("n", "n2"))})
    padded = _step(rounded, "q", {"t": _PADDED.format(q=_field("q", "q"), r=_field("q", "r"))})
    formatted = _FORMAT.format(neg=_field("t", "neg"), t=_field("t", "t"), r=_field("t", "r"))
    return f"list_extract(list_transform({padded}, lambda t: {formatted}), 1)"


_SIGNATURE = f"MACRO {MACRO}({', '.join(_PARAMETERS)}) AS "
#: The statements defining :data:`MACRO`: in the database, or for one connection.
DEFINITION = "CREATE OR REPLACE " + _SIGNATURE + quotient_body(*_PARAMETERS)
TEMPORARY = "CREATE OR REPLACE TEMP " + _SIGNATURE + quotient_body(*_PARAMETERS)


def register(connection: duckdb.DuckDBPyConnection, *, temporary: bool) -> None:
    """Define :data:`MACRO` on ``connection``: in its database (seen by all its cursors), or
    ``temporary`` for this connection only (a database opened read-only takes no new entries)."""
    connection.execute(TEMPORARY if temporary else DEFINITION)
