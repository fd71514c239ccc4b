"""The type of a ``$n`` passed to a function, chosen as PostgreSQL's ``func_select_candidate``
chooses an overload when some arguments are of unknown type (PostgreSQL 15's pg_proc,
``data/procs.json``): ``upper($1)`` is text, ``abs($1)`` float8 (the numeric category's preferred
type), ``substr($1, $2)`` text and int4, ``generate_series(1, $1)`` int4, ``lag(x, $1)`` int4.

The rules (PostgreSQL's "Function Type Resolution", §10.3): keep the overloads every known
argument coerces to implicitly; of those, the ones matching most known arguments exactly; then,
at each unknown position, the string category if any overload takes one there, else the one
category they all take (none: ambiguous), preferring the category's preferred type. A parameter
is typed only when the overloads left agree on its position's type.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable

from sqlglot import exp

from veil.pgcatalog.data.procs import PG_PROC
from veil.pgcatalog.schema import RELATIONS
from veil.pgcatalog.scopes import function_args, function_name
from veil.pgtypes import BY_NAME, BY_OID, ColumnType

TypeOf = Callable[[exp.Expr], ColumnType | None]
_COLUMNS = [c.name for c in RELATIONS[("pg_catalog", "pg_proc")].columns]
_NAME, _ARGTYPES = (_COLUMNS.index(c) for c in ("proname", "proargtypes"))
# Pseudo-types of polymorphic arguments (pg_type OIDs), not among the types Veil serves values of.
_POLYMORPHIC = {2276: "any", 2277: "anyarray", 2283: "anyelement", 2776: "anynonarray", 3500: "anyenum",
                3831: "anyrange", 4537: "anymultirange", 5077: "anycompatible", 5078: "anycompatiblearray",
                5079: "anycompatiblenonarray", 5080: "anycompatiblerange", 4538: "anycompatiblemultirange"}
_ELEMENTS = frozenset({"anyelement", "anynonarray", "anycompatible", "anycompatiblenonarray"})
_ARRAYS = frozenset({"anyarray", "anycompatiblearray"})
_PREFERRED = frozenset({"bool", "text", "oid", "float8", "inet", "timestamptz", "interval", "varbit"})
_LADDER = ("int2", "int4", "int8", "numeric", "float4", "float8")
_TEXTS = frozenset({"text", "varchar", "bpchar", "name"})
# sqlglot's typed calls whose PostgreSQL name differs (their arguments keep PostgreSQL's order).
_SQLGLOT_NAMES: dict[str, tuple[str, ...]] = {
    "substring": ("substr", "substring"),
    "exploding_generate_series": ("generate_series",),
    "generate_series": ("generate_series",),
    "time_to_str": ("to_char",),
    "str_position": ("strpos",),
    "array_size": ("array_length", "cardinality"),
    "array_to_string": ("array_to_string",),
    "str_to_time": ("to_timestamp",),
    "str_to_date": ("to_date",),
}


@functools.cache
def _overloads() -> dict[tuple[str, int], list[tuple[str, ...]]]:
    """Declared argument type names of every function, aggregate and window function."""
    found: dict[tuple[str, int], list[tuple[str, ...]]] = defaultdict(list)
    for row in PG_PROC:
        declared = row[_ARGTYPES]
        oids = [int(oid) for oid in declared] if isinstance(declared, list) else []
        names = tuple(_POLYMORPHIC.get(oid) or (BY_OID[oid].name if oid in BY_OID else f"?{oid}") for oid in oids)
        found[(str(row[_NAME]), len(names))].append(names)
    return dict(found)


def _category(name: str) -> str:
    known = BY_NAME.get(name)
    return known.category if known is not None else "P" if name in _POLYMORPHIC.values() else "?"


def _coerces(actual: str, declared: str) -> bool:
    if actual == declared or declared in _POLYMORPHIC.values():
        return True
    if actual in _LADDER and declared in _LADDER:
        return _LADDER.index(actual) <= _LADDER.index(declared)
    return (actual in _TEXTS and declared == "text") or (actual == "int4" and declared == "oid")


def _polymorphic(declared: tuple[str, ...], known: list[str | None], index: int) -> str | None:
    """A polymorphic position's type from the known arguments bound to the same family."""
    wanted = declared[index]
    for other, actual in zip(declared, known, strict=True):
        if actual is None or other == "any":
            continue
        element = BY_NAME.get(actual)
        if wanted in _ELEMENTS and other in _ELEMENTS:
            return actual
        if wanted in _ARRAYS and other in _ARRAYS:
            return actual
        if wanted in _ARRAYS and other in _ELEMENTS and element is not None and element.array_oid:
            return BY_OID[element.array_oid].name
        if wanted in _ELEMENTS and other in _ARRAYS and element is not None and element.element_oid:
            return BY_OID[element.element_oid].name
    return None


def _select(candidates: list[tuple[str, ...]], known: list[str | None]) -> list[tuple[str, ...]]:
    kept = [d for d in candidates if all(a is None or _coerces(a, t) for a, t in zip(known, d, strict=True))]
    if not kept:
        return []
    exact = [sum(a == t for a, t in zip(known, d, strict=True)) for d in kept]
    kept = [d for d, score in zip(kept, exact, strict=True) if score == max(exact)]
    for position, actual in enumerate(known):
        if actual is not None or len(kept) < 2:
            continue
        categories = {_category(d[position]) for d in kept}
        if "S" in categories:
            kept = [d for d in kept if _category(d[position]) == "S"]
        elif len(categories - {"P"}) > 1:
            return []
        preferred = [d for d in kept if d[position] in _PREFERRED]
        kept = preferred or kept
    return kept


def _names(call: exp.Expr) -> tuple[tuple[str, ...], list[exp.Expr]]:
    """The PostgreSQL names a call may be of, and its arguments in PostgreSQL's order."""
    name = function_name(call)
    if name is not None:
        return (name,), function_args(call)
    if not isinstance(call, exp.Func):
        return (), []
    arguments: list[exp.Expr] = []
    for key in call.arg_types:
        value = call.args.get(key)
        arguments += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, exp.Expr)]
    sql_name = call.sql_name().lower()
    return _SQLGLOT_NAMES.get(sql_name, (sql_name,)), arguments


def call_param_type(call: exp.Expr, parameter: exp.Expr, type_of: TypeOf) -> ColumnType | None:
    """The type PostgreSQL gives ``parameter``, an argument of ``call`` (None: not determined).
    ``type_of`` types the other arguments; parameters among them count as unknown."""
    names, arguments = _names(call)
    index = next((i for i, a in enumerate(arguments) if a is parameter), None)
    if index is None:
        return None
    known: list[str | None] = []
    for argument in arguments:
        typed = None if isinstance(argument, exp.Parameter) else type_of(argument)
        name = typed.type.name if typed is not None else None
        known.append(None if name == "unknown" else name)
    for name in names:
        candidates = _overloads().get((name, len(arguments)))
        if not candidates:
            continue
        declared = {d[index] if d[index] not in _POLYMORPHIC.values() else _polymorphic(d, known, index)
                    for d in _select(candidates, known)}
        chosen = declared.pop() if len(declared) == 1 else None
        return ColumnType(BY_NAME[chosen]) if chosen in BY_NAME else None
    return None
