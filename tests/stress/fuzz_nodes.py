"""The differential SQL fuzzer's statement trees and their shrinking.

Statements are trees (:class:`E` for expressions, :class:`Select`, :class:`SetOp` and
:class:`With` for query expressions), so a mismatch can be shrunk (:func:`statement_shrinks`)
by replacing a node with one of its same-typed children, a plain literal, or dropping a clause.
Every expression node carries a *tag* naming its construct (``fn:upper``, ``op:int/``,
``cast:int->text``, ``col:tx``...): the known classes (fuzz_known.py) are matched on them.

Expression kinds: int, num (numeric), float, text, bool, date, ts (timestamp), tstz
(timestamptz), interval, uuid, bytea, jsonb.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

ORDERABLE = ("int", "num", "float", "text", "bool", "date", "ts", "tstz", "interval", "uuid", "bytea")
KINDS = (*ORDERABLE, "jsonb")
PG_NAMES = {"int": "integer", "num": "numeric", "float": "double precision", "text": "text", "bool": "boolean",
            "date": "date", "ts": "timestamp", "tstz": "timestamptz", "interval": "interval", "uuid": "uuid",
            "bytea": "bytea", "jsonb": "jsonb"}
# literal pools: (SQL, parameter text, parameter type OID)
LITERALS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "int": (("0", "0", 23), ("1", "1", 23), ("2", "2", 23), ("-1", "-1", 23), ("3", "3", 23), ("10", "10", 23),
            ("100", "100", 23), ("2147483647", "2147483647", 23), ("-32768", "-32768", 23),
            ("9223372036854775807", "9223372036854775807", 20), ("7", "7", 23)),
    "num": (("1.5", "1.5", 1700), ("0.0", "0.0", 1700), ("-2.25", "-2.25", 1700), ("100.125", "100.125", 1700),
            ("0.001", "0.001", 1700), ("3.000", "3.000", 1700), ("12345678.9", "12345678.9", 1700)),
    "float": (("CAST(1.5 AS double precision)", "1.5", 701), ("CAST('NaN' AS double precision)", "NaN", 701),
              ("CAST('Infinity' AS double precision)", "Infinity", 701), ("CAST(0.1 AS real)", "0.1", 700),
              ("CAST(-2.5 AS double precision)", "-2.5", 701), ("CAST(1e300 AS double precision)", "1e300", 701)),
    "text": (("''", "", 25), ("'abc'", "abc", 25), ("'ABC'", "ABC", 25), ("' x '", " x ", 25), ("'Zoë'", "Zoë", 25),
             ("'日本'", "日本", 25), ("'a%'", "a%", 25), ("'b'", "b", 25), ("'12'", "12", 25)),
    "bool": (("TRUE", "true", 16), ("FALSE", "false", 16)),
    "date": (("DATE '2024-02-29'", "2024-02-29", 1082), ("DATE '1970-01-01'", "1970-01-01", 1082),
             ("DATE '2000-01-01'", "2000-01-01", 1082)),
    "ts": (("TIMESTAMP '2024-02-29 13:14:15.5'", "2024-02-29 13:14:15.5", 1114),
           ("TIMESTAMP '2000-01-01 00:00:00'", "2000-01-01 00:00:00", 1114)),
    "tstz": (("TIMESTAMPTZ '2024-02-29 13:14:15+00'", "2024-02-29 13:14:15+00", 1184),
             ("TIMESTAMPTZ '2000-01-01 00:00:00-05'", "2000-01-01 00:00:00-05", 1184)),
    "interval": (("INTERVAL '1 day'", "1 day", 1186), ("INTERVAL '2 hours'", "2 hours", 1186),
                 ("INTERVAL '1 month'", "1 month", 1186), ("INTERVAL '-3 days 04:00:00'", "-3 days 04:00:00", 1186),
                 ("INTERVAL '1 year 2 months'", "1 year 2 months", 1186)),
    "uuid": (("CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid)", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 2950),
             ("CAST('00000000-0000-0000-0000-000000000000' AS uuid)", "00000000-0000-0000-0000-000000000000", 2950)),
    "bytea": (("CAST('\\x00ff' AS bytea)", "\\x00ff", 17), ("CAST('\\x616263' AS bytea)", "\\x616263", 17),
              ("CAST('' AS bytea)", "", 17)),
    "jsonb": (("CAST('{\"a\": 1}' AS jsonb)", '{"a": 1}', 3802), ("CAST('[1, \"x\"]' AS jsonb)", '[1, "x"]', 3802)),
}


# ------------------------------------------------------------------------------------------- nodes
@dataclass(frozen=True)
class E:
    """An expression: ``fmt`` formatted with its arguments' SQL."""

    kind: str
    fmt: str
    args: tuple[Node, ...] = ()
    tag: str = ""
    param: tuple[str, int] | None = None  # a literal that may be sent as a parameter: (text, type OID)

    def sql(self, params: list[tuple[str, int]] | None = None) -> str:
        if self.param is not None and params is not None:
            params.append(self.param)
            return f"${len(params)}"
        if not self.args:
            return self.fmt
        return self.fmt.format(*(a.sql(params) for a in self.args))

    def tags(self) -> set[str]:
        found = {self.tag} if self.tag else set()
        for arg in self.args:
            found |= arg.tags()
        return found


@dataclass(frozen=True)
class Select:
    items: tuple[tuple[E, str | None], ...]
    source: str  # FROM clause text (fixed while shrinking except by dropping joins)
    joins: tuple[tuple[str, E | None], ...] = ()  # (" LEFT JOIN p.t2 b", ON condition)
    where: E | None = None
    group: tuple[E, ...] = ()
    having: E | None = None
    distinct: bool = False
    order: str = ""  # " ORDER BY 1, 2"
    limit: str = ""  # " LIMIT 3 OFFSET 1"
    fixed: bool = False  # the number of output columns may not change (set operation branch, IN)
    tag: str = ""

    def sql(self, params: list[tuple[str, int]] | None = None) -> str:
        items = ", ".join(e.sql(params) + (f" AS {a}" if a else "") for e, a in self.items)
        text = "SELECT " + ("DISTINCT " if self.distinct else "") + items
        if self.source:
            text += " FROM " + self.source
            for join, on in self.joins:
                text += join + (" ON " + on.sql(params) if on is not None else "")
        if self.where is not None:
            text += " WHERE " + self.where.sql(params)
        if self.group:
            text += " GROUP BY " + ", ".join(g.sql(params) for g in self.group)
        if self.having is not None:
            text += " HAVING " + self.having.sql(params)
        return text + self.order + self.limit

    def tags(self) -> set[str]:
        found = {self.tag} if self.tag else set()
        if self.distinct:
            found.add("distinct")
        if self.limit:
            found.add("limit")
        if self.group:
            found.add("group-by")
        for node in self.nodes():
            found |= node.tags()
        for join, _ in self.joins:
            found.add("join:" + join.split(" JOIN")[0].strip().lower())
        return found

    def nodes(self) -> list[E]:
        return [e for e, _ in self.items] + [o for _, o in self.joins if o is not None] + \
            [n for n in (self.where, self.having) if n is not None] + list(self.group)

    @property
    def width(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class SetOp:
    left: Query
    op: str
    right: Query
    order: str = ""
    limit: str = ""

    def sql(self, params: list[tuple[str, int]] | None = None) -> str:
        return f"({self.left.sql(params)}) {self.op} ({self.right.sql(params)}){self.order}{self.limit}"

    def tags(self) -> set[str]:
        return {"setop:" + self.op.lower()} | self.left.tags() | self.right.tags()

    @property
    def width(self) -> int:
        return self.left.width


@dataclass(frozen=True)
class With:
    name: str
    cte: Query
    body: Query

    def sql(self, params: list[tuple[str, int]] | None = None) -> str:
        return f"WITH {self.name} AS ({self.cte.sql(params)}) {self.body.sql(params)}"

    def tags(self) -> set[str]:
        return {"cte"} | self.cte.tags() | self.body.tags()

    @property
    def width(self) -> int:
        return self.body.width


@dataclass(frozen=True)
class Raw:
    """A statement written by hand (a known class's reproduction) with its parameters."""

    text: str
    params: tuple[tuple[str, int], ...] = ()

    def sql(self, params: list[tuple[str, int]] | None = None) -> str:
        if params is not None:
            params.extend(self.params)
        return self.text

    def tags(self) -> set[str]:
        return set()

    @property
    def width(self) -> int:
        return 0


Query = Select | SetOp | With | Raw
Node = E | Select | SetOp | With


@dataclass(frozen=True)
class Statement:
    query: Query
    ordered: bool  # the ORDER BY is total: compare rows in order, else as multisets

    def sql(self, params: list[tuple[str, int]] | None = None) -> str:
        return self.query.sql(params)

    def tags(self) -> set[str]:
        return self.query.tags()


def literal(kind: str, rng: random.Random) -> E:
    sql, text, oid = rng.choice(LITERALS[kind])
    return E(kind, sql, param=(text, oid))


def plain(kind: str) -> E:
    sql, text, oid = LITERALS[kind][1]
    return E(kind, sql, param=(text, oid))


def null(kind: str) -> E:
    return E(kind, f"CAST(NULL AS {PG_NAMES[kind]})", tag="null")


# ------------------------------------------------------------------------------------------- shrinking
def expr_shrinks(node: E) -> Iterator[E]:
    """Smaller expressions of the same kind than ``node``: a child of its kind, a plain literal, a
    NULL, or the node with one argument shrunk."""
    for arg in node.args:
        if isinstance(arg, E) and arg.kind == node.kind:
            yield arg
    if node.args or node.param is None:
        if node.kind in LITERALS and node.fmt != LITERALS[node.kind][1][0]:
            yield plain(node.kind)
    elif node.fmt != LITERALS[node.kind][1][0]:
        yield plain(node.kind)
    for index, arg in enumerate(node.args):
        for smaller in shrinks(arg):
            yield replace(node, args=(*node.args[:index], smaller, *node.args[index + 1:]))  # type: ignore[arg-type]


def select_shrinks(node: Select) -> Iterator[Select]:
    if node.limit:
        yield replace(node, limit="")
    if node.order and not node.limit:
        yield replace(node, order="")
    if node.distinct:
        yield replace(node, distinct=False)
    if node.where is not None:
        yield replace(node, where=None)
    if node.having is not None:
        yield replace(node, having=None)
    if node.group:
        yield replace(node, group=(), having=None)
        for index in range(len(node.group)):
            yield replace(node, group=(*node.group[:index], *node.group[index + 1:]))
    if not node.fixed and len(node.items) > 1 and not node.order:
        for index in range(len(node.items)):
            yield replace(node, items=(*node.items[:index], *node.items[index + 1:]))
    for index in range(len(node.joins)):
        yield replace(node, joins=(*node.joins[:index], *node.joins[index + 1:]))
    for index, (join, on) in enumerate(node.joins):
        if on is not None and not join.startswith(" JOIN"):
            plainer = " JOIN" + join.split("JOIN", 1)[1]
            yield replace(node, joins=(*node.joins[:index], (plainer, on), *node.joins[index + 1:]))
    for index, (expr, alias) in enumerate(node.items):
        for smaller in expr_shrinks(expr):
            yield replace(node, items=(*node.items[:index], (smaller, alias), *node.items[index + 1:]))
    for name in ("where", "having"):
        value = getattr(node, name)
        if value is not None:
            for smaller in expr_shrinks(value):
                yield replace(node, **{name: smaller})
    for index, (join, on) in enumerate(node.joins):
        if on is not None:
            for smaller in expr_shrinks(on):
                yield replace(node, joins=(*node.joins[:index], (join, smaller), *node.joins[index + 1:]))
    for index, key in enumerate(node.group):
        for smaller in expr_shrinks(key):
            yield replace(node, group=(*node.group[:index], smaller, *node.group[index + 1:]))


def shrinks(node: Node) -> Iterator[Node]:
    if isinstance(node, E):
        yield from expr_shrinks(node)
    elif isinstance(node, Select):
        yield from select_shrinks(node)
    elif isinstance(node, SetOp):
        if not node.order and not node.limit:
            yield node.left
            yield replace(node.right, fixed=node.left.fixed) if isinstance(node.right, Select) else node.right
        if node.limit:
            yield replace(node, limit="")
        for smaller in shrinks(node.left):
            yield replace(node, left=smaller)  # type: ignore[arg-type]
        for smaller in shrinks(node.right):
            yield replace(node, right=smaller)  # type: ignore[arg-type]
    elif isinstance(node, With):
        yield node.body
        for smaller in shrinks(node.cte):
            yield replace(node, cte=smaller)  # type: ignore[arg-type]
        for smaller in shrinks(node.body):
            yield replace(node, body=smaller)  # type: ignore[arg-type]


def statement_shrinks(statement: Statement) -> Iterator[Statement]:
    for smaller in shrinks(statement.query):
        query = smaller
        ordered = statement.ordered and bool(getattr(query, "order", ""))
        yield Statement(query, ordered)  # type: ignore[arg-type]
