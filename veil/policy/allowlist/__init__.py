"""Which functions each engine may run: one reviewed allow-list per engine, unknown is refused.

Every function the engine has is listed in ``<engine>.csv`` next to this module (``name``, the
engine's ``kind`` of function, ``verdict`` allow/refuse, refusal ``category``, ``status``). The
lists are generated from the live engines by :mod:`veil.policy.allowlist.generate` and reviewed
by hand; an entry the generator added and nobody reviewed yet (status ``new``) is refused
whatever its proposed verdict. A name no list knows is refused too.

:func:`check_functions` decides a call's name the way the target engine will see it: a typed
sqlglot function (``exp.Upper``, ``exp.JSONExtract``...) is rendered in that engine's dialect and
named by what the rendering calls; operator and keyword forms (``a -> b``, ``CAST(x AS t)``) call
no function by name. The statement a client sent is checked against :data:`FRONT` (refused by
any engine, or known to none), and the SQL produced for each engine against that engine's list.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from veil.errors import FUNCTION_HINT, InsufficientPrivilege, UndefinedFunction

ENGINES = ("duckdb", "postgres", "snowflake", "databricks")
#: The statement as the client wrote it (PostgreSQL syntax), before it is known where it runs.
FRONT = "veil"
_DIRECTORY = Path(__file__).parent

REASONS = {
    "runs_sql": "it runs SQL of its own",
    "reads_relation": "it reads a relation or catalog entry by name",
    "reads_file": "it reads files, URLs or other databases",
    "session_state": "it reads or changes session state",
    "server_state": "it reads or changes server state",
    "reveals_env": "it reveals the statement, user or environment",
    "resource": "it sleeps, locks or holds transaction state",
    "internal": "it is an engine internal",
    "unknown": "it has not been reviewed",
}

# Forms every engine writes as syntax, not as a call of a listed function (PostgreSQL's
# pg_proc, for one, has no coalesce, greatest or current_date).
SYNTAX = frozenset(
    "cast try_cast safe_cast extract coalesce nullif greatest least case exists interval array any all "
    "some row trim current_date current_time current_timestamp localtime localtimestamp collate "
    "grouping values struct not distinct within filter over in between like ilike is isnull".split()
)

# Where each engine keeps its built-ins: ``pg_catalog.upper(x)`` is ``upper``.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "main", "system"})


@dataclass(frozen=True)
class FunctionEntry:
    name: str
    kind: str
    verdict: str
    category: str
    status: str

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow" and self.status == "reviewed"


def read_list(path: Path) -> dict[str, FunctionEntry]:
    with path.open(newline="") as handle:
        rows = [FunctionEntry(**row) for row in csv.DictReader(handle)]
    return {row.name: row for row in rows}


@cache
def function_list(engine: str) -> dict[str, FunctionEntry]:
    """``engine``'s reviewed list; an engine without one allows nothing."""
    if engine not in ENGINES:
        return {}
    return read_list(_DIRECTORY / f"{engine}.csv")


@cache
def _front_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(allowed somewhere, refused somewhere) over every engine's list."""
    allowed: set[str] = set()
    refused: set[str] = set()
    for engine in ENGINES:
        for name, entry in function_list(engine).items():
            (allowed if entry.allowed else refused).add(name)
    return frozenset(allowed), frozenset(refused)


# Functions Veil registers on its engines for the SQL it writes itself (``veil_numeric_variance``):
# listed as allowed for that engine, never callable from a client's statement.
INTERNAL_PREFIX = "veil_"

# No engine's catalog has the function: PostgreSQL's "does not exist" (42883), not a refusal.
NOWHERE = "no engine Veil runs on allows it"


def refusal(name: str, engine: str) -> str | None:
    """Why ``name`` may not run on ``engine`` (``None``: it may)."""
    if name in SYNTAX:
        return None
    if engine == FRONT:
        if name.startswith(INTERNAL_PREFIX):
            return REASONS["internal"]
        allowed, refused = _front_lists()
        if name in refused:
            categories = [function_list(e)[name].category for e in ENGINES if name in function_list(e)]
            reason = next((c for c in categories if c != "pure"), "unknown")
            return REASONS.get(reason, reason)
        return None if name in allowed else NOWHERE
    entry = function_list(engine).get(name)
    if entry is None:
        return f"it is not on Veil's allow-list for {engine}"
    if entry.allowed:
        return None
    return REASONS.get(entry.category, entry.category) if entry.status == "reviewed" else REASONS["unknown"]


_LEADING_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_$]*)")


@cache
def _dialect(engine: str) -> Dialect:
    """The sqlglot dialect of ``engine``, one instance (naming a dialect by its name builds a new
    instance per rendering: a tenth of a millisecond for each function call checked)."""
    return Dialect.get_or_raise("postgres" if engine == FRONT else engine)


# What a call's operands are rendered as when only the call's own name matters.
_STUB = "veil_operand"
_KEPT = (exp.DataType, exp.Identifier, exp.Literal, exp.Var)


def _stub(value: exp.Expr) -> exp.Expr:
    return value.copy() if isinstance(value, _KEPT) else exp.column(_STUB)


def _shallow(node: exp.Func) -> exp.Func:
    """``node`` with every operand but types, names and literals replaced by a column: its
    rendering names the same function, without rendering the operands (rendering each call of a
    deeply nested expression in full was quadratic: 0.5 s for a 10 kB statement)."""
    args: dict[str, object] = {}
    for key, value in node.args.items():
        if isinstance(value, list):
            args[key] = [_stub(v) if isinstance(v, exp.Expr) else v for v in value]
        else:
            args[key] = _stub(value) if isinstance(value, exp.Expr) else value
    return type(node)(**args)


def function_name(node: exp.Func, engine: str) -> str | None:
    """The name ``engine`` calls for ``node``; ``None`` for operator forms (``a -> b``)."""
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        parent = node.parent
        if isinstance(parent, exp.Dot) and parent.expression is node and parent.this is not None:
            return f"{parent.this.name.lower()}.{name}"
        return name
    if isinstance(node, exp.Connector):
        return None  # AND / OR / XOR: always infix (rendering a long chain per link is quadratic)
    try:
        return _shallow_name(_shallow(node), engine)
    except (sqlglot.errors.SqlglotError, AttributeError, TypeError, ValueError, KeyError):
        return _rendered_name(node, engine)  # a generator that needs the real operands: rendered whole


_NAMES: dict[tuple[object, str], str | None] = {}
_NAMES_HELD = 4096


def _shallow_name(shallow: exp.Func, engine: str) -> str | None:
    """:func:`_rendered_name` of a shallow call (see :func:`_shallow`), which depends on nothing
    else: remembered by the call's exact form, as statements call the same few functions many
    times (a rendering is 0.05 to 0.2 ms; Veil's exact numeric quotient alone holds 130 calls)."""
    key = (_exact(shallow), engine)
    try:
        return _NAMES[key]
    except KeyError:
        pass
    name = _rendered_name(shallow, engine)
    if len(_NAMES) >= _NAMES_HELD:
        _NAMES.clear()
    _NAMES[key] = name
    return name


def _exact(value: object) -> object:
    """``value`` as a hashable key that tells apart what its rendering could (sqlglot's own
    equality ignores the case of names)."""
    if isinstance(value, exp.Expr):
        return (type(value), tuple((key, _exact(v)) for key, v in value.args.items()))
    if isinstance(value, list):
        return tuple(_exact(v) for v in value)
    hash(value)  # TypeError (an operand rendered whole) for anything unhashable
    return value


def _rendered_name(node: exp.Func, engine: str) -> str | None:
    rendered = node.sql(dialect=_dialect(engine))
    first = next(node.iter_expressions(), None)
    if first is not None:
        child = first.sql(dialect=_dialect(engine))
        if child and rendered.lstrip().startswith(child):
            return None  # infix: an operator, whose function (if any) the engine lists as pure
    match = _LEADING_NAME.match(rendered)
    if match is None:
        return None
    return match.group(1).lower()


def calls(expression: exp.Expr, engine: str) -> Iterator[str]:
    for node in expression.find_all(exp.Func):
        name = function_name(node, engine)
        if name is not None:
            yield name


def check_functions(
    expression: exp.Expr, engine: str, allowed_schemas: frozenset[str] = frozenset()
) -> None:
    """Raise 42501 naming the first function ``engine`` may not run. ``allowed_schemas``: schemas
    whose functions Veil itself defines (``schema.fn(...)`` calls there pass)."""
    for name in calls(expression, engine):
        schema, _, bare = name.rpartition(".")
        if schema and schema in allowed_schemas:
            continue
        reason = refusal(bare if not schema or schema in SYSTEM_SCHEMAS else name, engine)
        if reason is NOWHERE:
            raise UndefinedFunction(f"function {name} does not exist", hint=FUNCTION_HINT)
        if reason is not None:
            raise InsufficientPrivilege(f"permission denied for function {name}: {reason}")


def check_sql(sql: str, engine: str) -> None:
    """Check the exact SQL text sent to ``engine``; SQL Veil cannot re-read is refused."""
    try:
        statements = sqlglot.parse(sql, read=_dialect(engine))
    except sqlglot.errors.SqlglotError:
        raise InsufficientPrivilege(f"cannot verify the functions of the SQL produced for {engine}") from None
    for statement in statements:
        if statement is not None:
            check_functions(statement, engine)
