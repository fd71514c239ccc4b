"""A seeded generator of typed PostgreSQL SELECT statements over the fuzzer's tables
(:mod:`tests.stress.fuzz_schema`), for differential testing of Veil against PostgreSQL:
expressions of every kind (arithmetic, comparisons, boolean logic with NULLs, CASE, COALESCE,
NULLIF, casts, string, date/time and JSON functions, LIKE, IN, BETWEEN, IS DISTINCT FROM),
WHERE, GROUP BY with aggregates, HAVING, DISTINCT, ORDER BY/LIMIT under a total order, joins
within a source and across sources, subqueries, set operations and CTEs. The trees it builds
are :mod:`tests.stress.fuzz_nodes`'s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from tests.stress.fuzz_nodes import (
    KINDS,
    ORDERABLE,
    E,
    Query,
    Select,
    SetOp,
    Statement,
    With,
    literal,
    null,
)
from tests.stress.fuzz_schema import SCHEMAS, TABLES, columns

# weights of the kinds asked for at the top of an expression
TOP_KINDS = ("int", "int", "num", "num", "float", "text", "text", "text", "bool", "bool", "date", "ts", "tstz", "interval",
             "uuid", "bytea", "jsonb")
LIKE_PATTERNS = ("'a%'", "'%b%'", "'_b%'", "'%'", "''", "'ABC'", "'%c'", "'a\\%%'", "'Z_ë'", "'%日%'")
UNITS = ("year", "month", "day", "hour", "minute", "second", "quarter", "week")
FIELDS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "DOW", "DOY", "EPOCH", "QUARTER", "WEEK", "ISODOW",
          "MICROSECONDS", "MILLISECONDS", "CENTURY", "DECADE", "ISOYEAR", "JULIAN")


# ------------------------------------------------------------------------------------------- scopes
@dataclass(frozen=True)
class Rel:
    alias: str
    schema: str  # "d", "p" or "" (a derived table or CTE)
    columns: tuple[tuple[str, str], ...]  # (name, kind)


@dataclass
class Scope:
    rels: list[Rel] = field(default_factory=list)
    outer: Scope | None = None

    def columns(self, kind: str) -> list[str]:
        found = [f"{r.alias}.{n}" for r in self.rels for n, k in r.columns if k == kind]
        if self.outer is not None and not found:
            found = self.outer.columns(kind)
        return found


class Generator:
    """``Generator(seed).statement()``: one random statement; the same seed gives the same ones."""

    def __init__(self, seed: int, max_depth: int = 3) -> None:
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        self.aliases = 0
        self.subqueries = 0

    # -------------------------------------------------------------- helpers
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(list(options))

    def alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}"

    def table(self, schema: str | None = None) -> Rel:
        schema = schema or self.pick(SCHEMAS)
        name = self.pick(tuple(TABLES))
        return Rel(self.alias(), schema, tuple((c.name, c.kind) for c in columns(schema, name))), name  # type: ignore[return-value]

    # -------------------------------------------------------------- statements
    def statement(self) -> Statement:
        self.subqueries = 0
        query, ordered = self.query(Scope(), None, 0, top=True)
        return Statement(query, ordered)

    def query(self, outer: Scope, want: tuple[str, ...] | None, depth: int, top: bool = False) -> tuple[Query, bool]:
        """A query expression (and whether its ORDER BY is total)."""
        roll = self.rng.random()
        if depth < 2 and roll < 0.12:
            return self.set_operation(outer, want, depth, top)
        if depth < 2 and roll < 0.22 and want is None:
            return self.with_query(outer, depth, top)
        return self.select(outer, want, depth, top)

    def finish(self, width: int, top: bool) -> tuple[str, str, bool]:
        """ORDER BY and LIMIT for a query of ``width`` columns: a LIMIT only under a total order."""
        if not top or not self.chance(0.35):
            return "", "", False
        keys = list(range(1, width + 1))
        self.rng.shuffle(keys)
        order = " ORDER BY " + ", ".join(
            f"{k}{self.pick(('', ' DESC', ' ASC', ' NULLS FIRST', ' DESC NULLS LAST', ' NULLS LAST', ' DESC NULLS FIRST'))}"
            for k in keys
        )
        limit = ""
        if self.chance(0.5):
            limit = f" LIMIT {self.rng.randint(0, 6)}"
            if self.chance(0.4):
                limit += f" OFFSET {self.rng.randint(0, 4)}"
        elif self.chance(0.1):
            limit = f" OFFSET {self.rng.randint(0, 4)}"
        return order, limit, True

    def from_clause(self, scope: Scope, depth: int) -> tuple[str, tuple[tuple[str, E | None], ...], str]:
        """FROM: one to three tables, within one source or across both (federation)."""
        federated = self.chance(0.3)
        first_schema = self.pick(SCHEMAS)
        rel, name = self.table(first_schema)  # type: ignore[misc]
        scope.rels.append(rel)
        source = f"{rel.schema}.{name} {rel.alias}"
        tag = "from:" + rel.schema
        if depth < 2 and self.chance(0.08):
            inner, _ = self.select(Scope(), None, depth + 1, False)
            alias = self.alias()
            cols = tuple((f"c{i}", e.kind) for i, (e, _) in enumerate(inner.items))
            inner = replace(inner, items=tuple((e, f"c{i}") for i, (e, _) in enumerate(inner.items)))
            scope.rels[-1] = Rel(alias, "", cols)
            return f"({inner.sql()}) {alias}", (), "from:derived"
        joins: list[tuple[str, E | None]] = []
        for _ in range(self.rng.choice((0, 0, 1, 1, 1, 2))):
            schema = self.pick(SCHEMAS) if federated else first_schema
            other, other_name = self.table(schema)  # type: ignore[misc]
            kind = self.pick(("JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN"))
            on: E | None = None
            if kind != "CROSS JOIN":
                left_cols = [(f"{r.alias}.{n}", k) for r in scope.rels for n, k in r.columns if k in ("int", "text", "date")]
                col, k = self.rng.choice(left_cols)
                right = [n for n, kk in other.columns if kk == k]
                on = E("bool", f"{{0}} = {other.alias}.{self.pick(right)}", (E(k, col),)) if right else E("bool", "TRUE")
                if self.chance(0.3):
                    scope.rels.append(other)
                    on = E("bool", "({0} AND {1})", (on, self.expr("bool", scope, 2)), "and")
                    scope.rels.pop()
            scope.rels.append(other)
            joins.append((f" {kind} {schema}.{other_name} {other.alias}", on))
            if schema != first_schema:
                tag = "federated"
        return source, tuple(joins), tag

    def select(self, outer: Scope, want: tuple[str, ...] | None, depth: int, top: bool) -> tuple[Select, bool]:
        scope = Scope(outer=outer if depth > 0 else None)
        if self.chance(0.07) and depth == 0:
            source, joins, tag = "", (), "no-from"
        else:
            source, joins, tag = self.from_clause(scope, depth)
        where = self.expr("bool", scope, 0) if source and self.chance(0.6) else None
        grouped = bool(source) and self.chance(0.3)
        kinds = want or tuple(self.pick(TOP_KINDS) for _ in range(self.rng.randint(1, 4)))
        group: tuple[E, ...] = ()
        having = None
        if grouped:
            keys = [self.expr(self.pick(ORDERABLE), scope, 2) for _ in range(self.rng.randint(0, 2))]
            keys = [k for k in keys if k.args or k.param is None]  # a bare literal would be a position
            group = tuple(keys)
            items = []
            for kind in kinds:
                usable = [g for g in keys if g.kind == kind]
                if usable and self.chance(0.5):
                    items.append(self.pick_node(usable))
                else:
                    items.append(self.aggregate(kind, scope, keys))
            if self.chance(0.3):
                having = self.aggregate("bool", scope, keys)
        else:
            items = [self.expr(kind, scope, 0) for kind in kinds]
        named = tuple((e, f"c{i}" if self.chance(0.8) else None) for i, e in enumerate(items))
        distinct = self.chance(0.12)
        order, limit, ordered = self.finish(len(items), top)
        return Select(named, source, joins, where, group, having, distinct, order, limit, fixed=want is not None,
                      tag=tag), ordered

    def pick_node(self, nodes: list[E]) -> E:
        return nodes[self.rng.randrange(len(nodes))]

    def set_operation(self, outer: Scope, want: tuple[str, ...] | None, depth: int, top: bool) -> tuple[Query, bool]:
        left, _ = self.select(outer, want, depth + 1, False)
        kinds = tuple(e.kind for e, _ in left.items)
        left = replace(left, fixed=True)
        right, _ = self.select(outer, kinds, depth + 1, False)
        op = self.pick(("UNION", "UNION ALL", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL", "UNION ALL"))
        order, limit, ordered = self.finish(len(kinds), top)
        return SetOp(left, op, right, order, limit), ordered

    def with_query(self, outer: Scope, depth: int, top: bool) -> tuple[Query, bool]:
        cte, _ = self.select(outer, None, depth + 1, False)
        name = f"w{self.alias()}"
        cte = replace(cte, items=tuple((e, f"c{i}") for i, (e, _) in enumerate(cte.items)), fixed=True)
        rel = Rel(self.alias(), "", tuple((f"c{i}", e.kind) for i, (e, _) in enumerate(cte.items)))
        scope = Scope(rels=[rel])
        kinds = tuple(self.pick(TOP_KINDS) for _ in range(self.rng.randint(1, 3)))
        items = tuple((self.expr(kind, scope, 1), f"c{i}") for i, kind in enumerate(kinds))
        where = self.expr("bool", scope, 1) if self.chance(0.5) else None
        order, limit, ordered = self.finish(len(items), top)
        body = Select(items, f"{name} {rel.alias}", (), where, order=order, limit=limit, tag="from:cte")
        return With(name, cte, body), ordered

    # -------------------------------------------------------------- aggregates
    def aggregate(self, kind: str, scope: Scope, keys: list[E]) -> E:
        """An expression of ``kind`` over aggregates (and the GROUP BY keys)."""
        r = self.rng.random()
        if kind == "int":
            if r < 0.35:
                return E("int", "count(*)", tag="agg:count(*)")
            if r < 0.55:
                arg = self.expr(self.pick(ORDERABLE), scope, 2)
                return E("int", "count({0})", (arg,), "agg:count")
            if r < 0.65:
                return E("int", "count(DISTINCT {0})", (self.expr(self.pick(ORDERABLE), scope, 2),), "agg:count-distinct")
            if r < 0.85:
                return E("int", self.pick(("min({0})", "max({0})")), (self.expr("int", scope, 2),), "agg:minmax")
            return E("int", "sum({0})", (self.expr("int", scope, 2),), "agg:sum-int")
        if kind == "num":
            arg = self.expr(self.pick(("int", "num")), scope, 2)
            fn = self.pick(("sum", "avg", "avg", "min", "max", "stddev_samp", "var_pop"))
            if arg.kind == "int" and fn in ("min", "max"):
                fn = "avg"
            return E("num", f"{fn}({{0}})", (arg,), f"agg:{fn}-{arg.kind}")
        if kind == "float":
            fn = self.pick(("sum", "avg", "min", "max"))
            return E("float", f"{fn}({{0}})", (self.expr("float", scope, 2),), f"agg:{fn}-float")
        if kind == "bool":
            if r < 0.5:
                inner_kind = self.pick(("int", "num"))
                left = self.aggregate(inner_kind, scope, keys)
                return E("bool", f"{{0}} {self.pick(('>', '<', '=', '<>', '>='))} {{1}}", (left, literal(inner_kind, self.rng)),
                         "cmp")
            fn = self.pick(("bool_and", "bool_or", "every"))
            return E("bool", f"{fn}({{0}})", (self.expr("bool", scope, 2),), f"agg:{fn}")
        if kind == "text" and r < 0.6:
            sep = self.pick(("','", "''", "' | '"))
            arg = self.expr("text", scope, 2)
            if self.chance(0.7) or (not arg.args and arg.param is not None):  # DISTINCT needs a non-constant
                return E("text", f"string_agg({{0}}, {sep} ORDER BY {{0}})", (arg,), "agg:string_agg")
            return E("text", f"string_agg(DISTINCT {{0}}, {sep} ORDER BY {{0}})", (arg,), "agg:string_agg-distinct")
        if kind == "jsonb":
            return E("jsonb", "max(CAST({0} AS text))::jsonb", (self.expr("jsonb", scope, 2),), "agg:max-jsonb")
        if kind in ("uuid", "bytea"):  # PostgreSQL 15 has no min/max of these
            fmt = "CAST(min(CAST({0} AS text)) AS uuid)" if kind == "uuid" else "decode(min(encode({0}, 'hex')), 'hex')"
            return E(kind, fmt, (self.expr(kind, scope, 2),), f"agg:min-{kind}")
        return E(kind, self.pick(("min({0})", "max({0})")), (self.expr(kind, scope, 2),), f"agg:minmax-{kind}")

    # -------------------------------------------------------------- expressions
    def expr(self, kind: str, scope: Scope, depth: int) -> E:
        if depth >= self.max_depth or self.chance(0.25 + 0.15 * depth):
            return self.leaf(kind, scope)
        r = self.rng.random()
        if r < 0.12:
            return self.generic(kind, scope, depth)
        if r < 0.17 and scope.rels and self.subqueries < 2 and kind in ORDERABLE:
            return self.scalar_subquery(kind, scope)
        return getattr(self, f"e_{kind}")(scope, depth + 1)

    def leaf(self, kind: str, scope: Scope) -> E:
        cols = scope.columns(kind)
        if cols and self.chance(0.75):
            column = self.pick(cols)
            return E(kind, column, tag="col:" + column.split(".")[-1])
        if self.chance(0.1):
            return null(kind)
        return literal(kind, self.rng)

    def generic(self, kind: str, scope: Scope, depth: int) -> E:
        d = depth + 1
        r = self.rng.random()
        if r < 0.35:
            return E(kind, "CASE WHEN {0} THEN {1} ELSE {2} END",
                     (self.expr("bool", scope, d), self.expr(kind, scope, d), self.expr(kind, scope, d)), "case")
        if r < 0.45:
            return E(kind, "CASE WHEN {0} THEN {1} END", (self.expr("bool", scope, d), self.expr(kind, scope, d)), "case-no-else")
        if r < 0.7:
            return E(kind, "COALESCE({0}, {1})", (self.expr(kind, scope, d), self.expr(kind, scope, d)), "coalesce")
        if r < 0.85 and kind != "jsonb":
            return E(kind, "NULLIF({0}, {1})", (self.expr(kind, scope, d), self.expr(kind, scope, d)), "nullif")
        if kind in ORDERABLE and kind != "bool":
            fn = self.pick(("greatest", "least"))
            return E(kind, f"{fn}({{0}}, {{1}})", (self.expr(kind, scope, d), self.expr(kind, scope, d)), f"fn:{fn}")
        return self.leaf(kind, scope)

    def scalar_subquery(self, kind: str, scope: Scope) -> E:
        self.subqueries += 1
        inner = Scope(outer=scope)
        rel, name = self.table()  # type: ignore[misc]
        inner.rels.append(rel)
        value = self.aggregate(kind, inner, []) if self.chance(0.7) else self.expr(kind, inner, 2)
        where = self.expr("bool", inner, 2)
        if value.tag.startswith("agg:"):
            sql = f"(SELECT {{0}} FROM {rel.schema}.{name} {rel.alias} WHERE {{1}})"
        else:  # at most one row: the first under a total order
            sql = f"(SELECT {{0}} FROM {rel.schema}.{name} {rel.alias} WHERE {{1}} ORDER BY {rel.alias}.id LIMIT 1)"
        return E(kind, sql, (value, where), "subquery:scalar")

    def small(self) -> E:
        return E("int", str(self.rng.choice((-1, 0, 1, 2, 3, 5))), param=None)

    def e_int(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k="int": self.expr(k, s, d)  # noqa: E731
        if r < 0.3:
            op = self.pick(("+", "-", "*", "/", "%", "+", "*"))
            return E("int", f"({{0}} {op} {{1}})", (x(), x()), f"op:int{op}")
        if r < 0.36:
            return E("int", "(-{0})", (x(),), "op:neg")
        if r < 0.42:
            return E("int", "abs({0})", (x(),), "fn:abs")
        if r < 0.5:
            fn = self.pick(("length", "char_length", "octet_length", "ascii"))
            return E("int", f"{fn}({{0}})", (x("text"),), f"fn:{fn}")
        if r < 0.54:
            return E("int", "length({0})", (x("bytea"),), "fn:length-bytea")
        if r < 0.58:
            return E("int", "strpos({0}, {1})", (x("text"), x("text")), "fn:strpos")
        if r < 0.62:
            return E("int", "position({0} IN {1})", (x("text"), x("text")), "fn:position")
        if r < 0.76:
            src = self.pick(("num", "float", "text", "bool", "int"))
            arg = x(src) if src != "text" else E("text", self.pick(("'12'", "' 7 '", "'-3'", "'x'", "'1.5'")))
            target = self.pick(("integer", "smallint", "bigint"))
            return E("int", f"CAST({{0}} AS {target})", (arg,), f"cast:{src}->{target}")
        if r < 0.82:
            return E("int", "({0} - {1})", (x("date"), x("date")), "op:date-date")
        if r < 0.88:
            op = self.pick(("&", "|", "#", "<<", ">>"))
            right = x() if op in "&|#" else self.small()
            return E("int", f"({{0}} {op} {{1}})", (x(), right), f"op:bit{op}")
        if r < 0.94:
            fn = self.pick(("div", "mod", "gcd"))
            return E("int", f"{fn}({{0}}, {{1}})", (x(), x()), f"fn:{fn}")
        return E("int", "array_length(ARRAY[{0}, {1}], 1)", (x(), x()), "fn:array_length")

    def e_num(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k="num": self.expr(k, s, d)  # noqa: E731
        if r < 0.3:
            op = self.pick(("+", "-", "*", "/", "%"))
            left, right = (x(), x()) if self.chance(0.6) else self.rng.sample([x(), x("int")], 2)
            return E("num", f"({{0}} {op} {{1}})", (left, right), f"op:num{op}")
        if r < 0.45:
            fn = self.pick(("round", "trunc"))
            if self.chance(0.5):
                return E("num", f"{fn}({{0}}, {self.rng.randint(-1, 3)})", (x(),), f"fn:{fn}-scale")
            return E("num", f"{fn}({{0}})", (x(),), f"fn:{fn}")
        if r < 0.55:
            fn = self.pick(("ceil", "floor", "abs", "sign"))
            return E("num", f"{fn}({{0}})", (x(),), f"fn:{fn}")
        if r < 0.7:
            src = self.pick(("int", "float", "num", "text"))
            arg = x(src) if src != "text" else E("text", self.pick(("'1.25'", "' 7 '", "'-3.5e2'", "'x'", "'NaN'")))
            target = self.pick(("numeric", "numeric(10,2)", "numeric(5,1)", "decimal(18,4)", "numeric(3,0)"))
            return E("num", f"CAST({{0}} AS {target})", (arg,), f"cast:{src}->{target.split('(')[0]}")
        if r < 0.8:
            field_name = self.pick(FIELDS)
            src = self.pick(("date", "ts", "tstz", "interval"))
            return E("num", f"EXTRACT({field_name} FROM {{0}})", (x(src),), f"fn:extract-{src}")
        if r < 0.9:
            return E("num", "(CAST({0} AS numeric) / {1})", (x("int"), x("int")), "op:int/num")
        return E("num", f"power({{0}}, {self.rng.randint(0, 3)})", (x(),), "fn:power-num")

    def e_float(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k="float": self.expr(k, s, d)  # noqa: E731
        if r < 0.35:
            op = self.pick(("+", "-", "*", "/"))
            return E("float", f"({{0}} {op} {{1}})", (x(), x()), f"op:float{op}")
        if r < 0.5:
            fn = self.pick(("sqrt(abs({0}))", "round({0})", "floor({0})", "ceil({0})", "trunc({0})", "abs({0})",
                            "cbrt({0})", "sign({0})", "degrees({0})"))
            return E("float", fn, (x(),), "fn:" + fn.split("(")[0] if not fn.startswith("sqrt") else "fn:sqrt")
        if r < 0.7:
            src = self.pick(("int", "num", "text", "float"))
            arg = x(src) if src != "text" else E("text", self.pick(("'1.5'", "'-0'", "'1e-5'", "'inf'", "'NaN'", "'x'")))
            target = self.pick(("double precision", "real"))
            return E("float", f"CAST({{0}} AS {target})", (arg,), f"cast:{src}->{target.split()[0]}")
        if r < 0.85:
            src = self.pick(("date", "ts", "tstz", "interval"))
            unit = self.pick(("year", "month", "day", "hour", "epoch", "dow", "second"))
            return E("float", f"date_part('{unit}', {{0}})", (x(src),), f"fn:date_part-{src}")
        return E("float", "power({0}, 2)", (x(),), "fn:power")

    def e_text(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k="text": self.expr(k, s, d)  # noqa: E731
        n = lambda: self.small()  # noqa: E731
        if r < 0.12:
            other = self.pick(("text", "text", "int", "num", "date"))
            return E("text", "({0} || {1})", (x(), x(other)) if self.chance(0.5) else (x(other), x()), f"op:concat-{other}")
        if r < 0.22:
            fn = self.pick(("upper", "lower", "initcap", "reverse", "md5", "trim", "ltrim", "rtrim", "quote_ident"))
            return E("text", f"{fn}({{0}})", (x(),), f"fn:{fn}")
        if r < 0.3:
            if self.chance(0.5):
                return E("text", "substr({0}, {1}, {2})", (x(), n(), n()), "fn:substr")
            return E("text", "substring({0} FROM {1} FOR {2})", (x(), n(), n()), "fn:substring")
        if r < 0.36:
            fn = self.pick(("left", "right", "repeat"))
            return E("text", f"{fn}({{0}}, {{1}})", (x(), n()), f"fn:{fn}")
        if r < 0.42:
            fn = self.pick(("lpad", "rpad"))
            return E("text", f"{fn}({{0}}, {{1}}, {self.pick((chr(39) + '*' + chr(39), chr(39) + 'ab' + chr(39)))})", (x(), n()),
                     f"fn:{fn}")
        if r < 0.48:
            fn = self.pick(("replace({0}, 'b', 'XY')", "translate({0}, 'abc', 'x')", "split_part({0}, 'b', 1)",
                            "btrim({0}, 'a ')", "regexp_replace({0}, '[a-c]+', '#')", "split_part({0}, '', 2)"))
            return E("text", fn, (x(),), "fn:" + fn.split("(")[0])
        if r < 0.54:
            fn = self.pick(("concat", "concat_ws"))
            if fn == "concat_ws":
                return E("text", "concat_ws(',', {0}, {1})", (x(), x(self.pick(("text", "int")))), "fn:concat_ws")
            return E("text", "concat({0}, {1})", (x(), x(self.pick(("text", "int", "num", "bool")))), "fn:concat")
        if r < 0.8:
            src = self.pick(("int", "num", "float", "bool", "date", "ts", "tstz", "interval", "uuid", "bytea", "jsonb"))
            target = self.pick(("text", "text", "varchar", "varchar(3)", "char(2)"))
            return E("text", f"CAST({{0}} AS {target})", (x(src),), f"cast:{src}->{target.split('(')[0]}")
        if r < 0.86:
            fmt = self.pick(("hex", "hex", "base64"))
            return E("text", f"encode({{0}}, '{fmt}')", (x("bytea"),), "fn:encode")
        if r < 0.92:
            return E("text", "{0} ->> 'a'", (x("jsonb"),), "op:->>")
        if r < 0.96:
            return E("text", "jsonb_typeof({0})", (x("jsonb"),), "fn:jsonb_typeof")
        return E("text", "chr({0})", (E("int", str(self.rng.choice((65, 97, 233, 26085)))),), "fn:chr")

    def e_bool(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k: self.expr(k, s, d)  # noqa: E731
        if r < 0.25:
            kind = self.pick(ORDERABLE)
            op = self.pick(("=", "<>", "<", "<=", ">", ">="))
            pair = {"int": "num", "num": "int", "date": "ts", "ts": "date", "float": "int", "tstz": "date"}
            right_kind = pair.get(kind, kind) if self.chance(0.2) else kind
            return E("bool", f"({{0}} {op} {{1}})", (x(kind), x(right_kind)),
                     "cmp" if right_kind == kind else f"cmp:{kind}-{right_kind}")
        if r < 0.38:
            op = self.pick(("AND", "OR"))
            return E("bool", f"({{0}} {op} {{1}})", (x("bool"), x("bool")), op.lower())
        if r < 0.42:
            return E("bool", "(NOT {0})", (x("bool"),), "not")
        if r < 0.48:
            kind = self.pick(KINDS)
            test = self.pick(("IS NULL", "IS NOT NULL"))
            return E("bool", f"({{0}} {test})", (x(kind),), "is-null")
        if r < 0.53:
            kind = self.pick(ORDERABLE)
            test = self.pick(("IS DISTINCT FROM", "IS NOT DISTINCT FROM"))
            return E("bool", f"({{0}} {test} {{1}})", (x(kind), x(kind)), "is-distinct")
        if r < 0.58:
            test = self.pick(("IS TRUE", "IS NOT TRUE", "IS FALSE", "IS NOT FALSE", "IS UNKNOWN"))
            return E("bool", f"({{0}} {test})", (x("bool"),), "is-true")
        if r < 0.64:
            kind = self.pick(("int", "num", "text", "date", "ts", "float"))
            op = self.pick(("BETWEEN", "NOT BETWEEN", "BETWEEN SYMMETRIC"))
            return E("bool", f"({{0}} {op} {{1}} AND {{2}})", (x(kind), x(kind), x(kind)), "between")
        if r < 0.72:
            kind = self.pick(("int", "num", "text", "date", "uuid", "float"))
            items = [literal(kind, self.rng) for _ in range(self.rng.randint(1, 3))]
            if self.chance(0.25):
                items.append(null(kind))
            op = self.pick(("IN", "NOT IN"))
            fmt = f"({{0}} {op} (" + ", ".join(f"{{{i + 1}}}" for i in range(len(items))) + "))"
            return E("bool", fmt, (x(kind), *items), "in-list" if op == "IN" else "not-in-list")
        if r < 0.82:
            op = self.pick(("LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"))
            pattern = E("text", self.pick(LIKE_PATTERNS)) if self.chance(0.8) else x("text")
            return E("bool", f"({{0}} {op} {{1}})", (x("text"), pattern), "like" if "I" not in op[-5:] else "ilike")
        if r < 0.85:
            return E("bool", "starts_with({0}, {1})", (x("text"), x("text")), "fn:starts_with")
        if r < 0.88:
            return E("bool", "({0} ~ {1})", (x("text"), E("text", self.pick(("'^a'", "'b|c'", "'[[:upper:]]'", "'.'")))), "op:regex")
        if r < 0.9:
            op = self.pick(("@>", "@>", "<@"))
            return E("bool", f"({{0}} {op} CAST('{{{{\"a\": 1}}}}' AS jsonb))", (x("jsonb"),), "op:jsonb-contains")
        if self.subqueries < 2 and s.rels:
            return self.subquery_predicate(s)
        return self.leaf("bool", s)

    def subquery_predicate(self, scope: Scope) -> E:
        self.subqueries += 1
        inner = Scope(outer=scope)
        rel, name = self.table()  # type: ignore[misc]
        inner.rels.append(rel)
        where = self.expr("bool", inner, 2)
        if self.chance(0.5):
            neg = self.pick(("", "NOT "))
            return E("bool", f"({neg}EXISTS (SELECT 1 FROM {rel.schema}.{name} {rel.alias} WHERE {{0}}))", (where,),
                     "subquery:exists")
        kind = self.pick(("int", "text", "date", "num"))
        value = self.expr(kind, inner, 2)
        neg = self.pick(("", "NOT "))
        return E("bool", f"({{0}} {neg}IN (SELECT {{1}} FROM {rel.schema}.{name} {rel.alias} WHERE {{2}}))",
                 (self.expr(kind, scope, 2), value, where), f"subquery:{neg.lower()}in")

    def e_date(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k: self.expr(k, s, d)  # noqa: E731
        if r < 0.4:
            op = self.pick(("+", "-"))
            return E("date", f"({{0}} {op} {{1}})", (x("date"), self.small()), f"op:date{op}int")
        if r < 0.75:
            src = self.pick(("ts", "tstz", "text"))
            arg = x(src) if src != "text" else E("text", self.pick(("'2024-02-29'", "'20240101'", "'1999-1-2'", "'x'")))
            return E("date", "CAST({0} AS date)", (arg,), f"cast:{src}->date")
        return E("date", "make_date({0}, {1}, {2})", (E("int", "2024"), E("int", str(self.rng.randint(1, 12))),
                                                       E("int", str(self.rng.randint(1, 31)))), "fn:make_date")

    def e_ts(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k: self.expr(k, s, d)  # noqa: E731
        if r < 0.35:
            base = self.pick(("ts", "date"))
            op = self.pick(("+", "-"))
            return E("ts", f"({{0}} {op} {{1}})", (x(base), x("interval")), f"op:{base}{op}interval")
        if r < 0.55:
            unit = self.pick(UNITS)
            return E("ts", f"date_trunc('{unit}', {{0}})", (x("ts"),), "fn:date_trunc-ts")
        if r < 0.8:
            src = self.pick(("date", "tstz", "text"))
            arg = x(src) if src != "text" else E("text", self.pick(("'2024-02-29 01:02:03'", "'2000-01-01T10:00'", "'x'")))
            return E("ts", "CAST({0} AS timestamp)", (arg,), f"cast:{src}->timestamp")
        return E("ts", "({0} AT TIME ZONE 'UTC')", (x("tstz"),), "op:at-time-zone-tstz")

    def e_tstz(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k: self.expr(k, s, d)  # noqa: E731
        if r < 0.35:
            op = self.pick(("+", "-"))
            return E("tstz", f"({{0}} {op} {{1}})", (x("tstz"), x("interval")), f"op:tstz{op}interval")
        if r < 0.55:
            unit = self.pick(UNITS)
            src = self.pick(("tstz", "date"))
            return E("tstz", f"date_trunc('{unit}', {{0}})", (x(src),), f"fn:date_trunc-{src}")
        if r < 0.8:
            src = self.pick(("ts", "date"))
            return E("tstz", "CAST({0} AS timestamptz)", (x(src),), f"cast:{src}->timestamptz")
        return E("tstz", "({0} AT TIME ZONE 'America/New_York')", (x("ts"),), "op:at-time-zone-ts")

    def e_interval(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k: self.expr(k, s, d)  # noqa: E731
        if r < 0.3:
            kind = self.pick(("ts", "tstz"))
            return E("interval", "({0} - {1})", (x(kind), x(kind)), f"op:{kind}-{kind}")
        if r < 0.5:
            op = self.pick(("+", "-"))
            return E("interval", f"({{0}} {op} {{1}})", (x("interval"), x("interval")), f"op:interval{op}")
        if r < 0.65:
            return E("interval", "({0} * {1})", (x("interval"), self.small()), "op:interval*int")
        if r < 0.75:
            return E("interval", "(-{0})", (x("interval"),), "op:neg-interval")
        if r < 0.85:
            fn = self.pick(("justify_days", "justify_hours", "justify_interval"))
            return E("interval", f"{fn}({{0}})", (x("interval"),), f"fn:{fn}")
        return E("interval", "age({0}, {1})", (x("ts"), x("ts")), "fn:age")

    def e_uuid(self, s: Scope, d: int) -> E:
        return E("uuid", "CAST({0} AS uuid)", (E("text", self.pick(("'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
                                                                       "'{a0eebc999c0b4ef8bb6d6bb9bd380a11}'"))),),
                 "cast:text->uuid")

    def e_bytea(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        if r < 0.4:
            return E("bytea", "({0} || {1})", (self.expr("bytea", s, d), self.expr("bytea", s, d)), "op:bytea||")
        if r < 0.7:
            text, fmt = self.pick((("'00ff'", "hex"), ("''", "hex"), ("'4142'", "hex"), ("'AP8='", "base64"), ("'QUJD'", "base64")))
            return E("bytea", f"decode({{0}}, '{fmt}')", (E("text", text),), "fn:decode")
        return E("bytea", "CAST({0} AS bytea)", (self.expr("text", s, d),), "cast:text->bytea")

    def e_jsonb(self, s: Scope, d: int) -> E:
        r = self.rng.random()
        x = lambda k: self.expr(k, s, d)  # noqa: E731
        if r < 0.4:
            return E("jsonb", "({0} -> 'a')", (x("jsonb"),), "op:->")
        if r < 0.6:
            return E("jsonb", "to_jsonb({0})", (x(self.pick(("int", "text", "bool", "num"))),), "fn:to_jsonb")
        if r < 0.7:
            return E("jsonb", "jsonb_build_object('k', {0})", (x(self.pick(("int", "text", "num"))),), "fn:jsonb_build_object")
        return E("jsonb", "CAST({0} AS jsonb)", (E("text", self.pick(("'{\"a\": [1, 2.50]}'", "'\"x\"'", "'null'"))),),
                 "cast:text->jsonb")
