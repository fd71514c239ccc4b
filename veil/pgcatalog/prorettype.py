"""PostgreSQL's result type of a function call: ``pg_proc.prorettype`` of the overload chosen for
the argument types (PostgreSQL 15's pg_proc, ``data/procs.json``).

DuckDB computes many of PostgreSQL's functions in a wider type (``length``, ``gcd``,
``regexp_count``: BIGINT where PostgreSQL's result is int4). :func:`catalog_result` resolves the
overload as PostgreSQL's ``func_select_candidate`` does for the cases that matter here (an exact
match of the known argument types, else the candidates every argument coerces to implicitly,
the most exact matches first); :func:`postgres_function_results` casts each such call to
PostgreSQL's type in DuckDB SQL, so that RowDescription and values are PostgreSQL's, and a value
that does not fit raises 22003 as PostgreSQL's would.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable

from sqlglot import exp

from veil.pgcatalog.data.procs import PG_PROC
from veil.pgcatalog.schema import RELATIONS
from veil.pgcatalog.scopes import function_name
from veil.pgtypes import BY_OID, ColumnType

_COLUMNS = [c.name for c in RELATIONS[("pg_catalog", "pg_proc")].columns]
_NAME, _KIND, _RETSET, _RETTYPE, _ARGTYPES = (
    _COLUMNS.index(c) for c in ("proname", "prokind", "proretset", "prorettype", "proargtypes")
)
# Types a call's result is cast to in DuckDB: the ones whose DuckDB type holds exactly
# PostgreSQL's values (numeric keeps its per-value scale: cast only where that is fixed).
DUCKDB_TYPES = {"int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT", "float4": "REAL", "float8": "DOUBLE"}
# Functions whose numeric result has one scale whatever the value (``sign``: DuckDB's TINYINT).
NUMERIC_SCALES = {"sign": 0}
# Result types DuckDB computes in a form Veil serves as that PostgreSQL type whatever DuckDB calls
# it (``gen_random_uuid()``: a DuckDB UUID, PostgreSQL's uuid): described as pg_proc says, not cast.
SERVED_TYPES = frozenset({"uuid", "bool", "date", "bytea"})
# Implicit coercions PostgreSQL applies to an argument (pg_cast, castcontext 'i'), by type name.
_LADDER = ("int2", "int4", "int8", "numeric", "float4", "float8")
_TEXTS = frozenset({"text", "varchar", "bpchar", "name", "unknown"})
# sqlglot's names of the typed calls PostgreSQL's parser gives under another name.
_SQLGLOT_NAMES: dict[str, tuple[str, ...]] = {
    "str_position": ("strpos",),
    "array_size": ("cardinality", "array_length"),
}
_SKIPPED = (exp.Cast, exp.TryCast, exp.AggFunc, exp.Window)

Signature = tuple[tuple[str, ...], str]


@functools.cache
def _overloads() -> dict[tuple[str, int], list[Signature]]:
    found: dict[tuple[str, int], list[Signature]] = defaultdict(list)
    for row in PG_PROC:
        if row[_KIND] != "f" or row[_RETSET]:
            continue
        result = BY_OID.get(int(str(row[_RETTYPE])))
        declared = row[_ARGTYPES]
        arguments = [BY_OID.get(int(oid)) for oid in declared] if isinstance(declared, list) else []
        if result is None or any(a is None for a in arguments):
            continue
        names = tuple(a.name for a in arguments if a is not None)
        found[(str(row[_NAME]), len(names))].append((names, result.name))
    return dict(found)


def _coerces(actual: str | None, declared: str) -> bool:
    if actual is None or actual == declared or actual == "unknown" or declared.startswith("any"):
        return True
    if actual in _LADDER and declared in _LADDER:
        return _LADDER.index(actual) <= _LADDER.index(declared)
    return actual in _TEXTS and declared == "text"


def _exact(actual: str | None, declared: str) -> bool:
    """An exact match; a string literal (unknown) prefers text, as PostgreSQL's preferred type."""
    return actual == declared or (actual == "unknown" and declared == "text")


def catalog_result(name: str, arguments: list[ColumnType | None]) -> str | None:
    """The type name PostgreSQL's overload of ``name`` for ``arguments`` returns; None when no
    single overload is chosen or its result depends on the arguments (polymorphic)."""
    candidates = _overloads().get((name, len(arguments)))
    if not candidates:
        return None
    actual = [a.type.name if a is not None else None for a in arguments]
    scored: list[tuple[int, str]] = []
    for declared, result in candidates:
        if all(_coerces(a, d) for a, d in zip(actual, declared, strict=True)):
            scored.append((sum(_exact(a, d) for a, d in zip(actual, declared, strict=True)), result))
    if not scored:
        return None
    best = max(score for score, _ in scored)
    results = {result for score, result in scored if score == best}
    return results.pop() if len(results) == 1 else None


def _arguments(node: exp.Func) -> list[exp.Expr]:
    """A call's arguments in order (a typed sqlglot function keeps them under named keys)."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    found: list[exp.Expr] = []
    for key in node.arg_types:
        value = node.args.get(key)
        found += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, exp.Expr)]
    return found


TypeOf = Callable[[exp.Expr], ColumnType | None]


def postgres_function_results(tree: exp.Expr, type_of: TypeOf) -> None:
    """Each call in ``tree`` of a function whose PostgreSQL result is a fixed-width number cast,
    in place, to that type (a cast that DuckDB's result already has costs nothing)."""
    calls: list[tuple[exp.Expr, str]] = []
    for node in tree.find_all(exp.Func):
        assert isinstance(node, exp.Func)
        if isinstance(node, _SKIPPED) or isinstance(node.parent, exp.Cast | exp.TryCast):
            continue
        name = function_name(node)
        names: tuple[str, ...] = (name,) if name is not None else ()
        if name is None and not isinstance(node, exp.Anonymous):
            names = _SQLGLOT_NAMES.get(node.sql_name().lower(), (node.sql_name().lower(),))
        arguments = [type_of(a) for a in _arguments(node)]
        result = next((r for r in (catalog_result(n, arguments) for n in names) if r is not None), None)
        if result in DUCKDB_TYPES:
            calls.append((node, DUCKDB_TYPES[result]))
        elif result == "numeric" and names and names[0] in NUMERIC_SCALES:
            calls.append((node, f"DECIMAL(38, {NUMERIC_SCALES[names[0]]})"))
    for call, result in calls:  # the call itself moves under the cast: calls inside it stay found
        cast = exp.Cast(this=exp.Null(), to=exp.DataType.build(result, dialect="duckdb"))
        call.replace(cast)
        cast.set("this", call)
